import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, UpdateDateColumn, VersionColumn } from "typeorm";

export type TaskStatus = "open" | "doing" | "done";

/** A unit of work on a project's board. */
@Entity("tasks")
@Index(["projectId", "status"])
export class Task {
  @PrimaryGeneratedColumn("uuid") id: string;
  @Column({ type: "string" }) projectId: string;
  @Column({ type: "string" }) title: string;
  @Index()
  @Column({ type: "string", default: "open" })
  status: TaskStatus;
  @Column({ type: "integer", default: 0 }) priority: number;
  @Column({ type: "string", nullable: true }) assigneeId: string | null;
  @Column({ type: "datetime", nullable: true }) dueAt: Date | null;
  @Column({ type: "simple-json", nullable: true }) labels: string[] | null;
  @VersionColumn() version: number;
  @CreateDateColumn() createdAt: Date;
  @UpdateDateColumn() updatedAt: Date;
}
