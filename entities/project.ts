import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from "typeorm";

/** A board that groups tasks. */
@Entity("projects")
export class Project {
  @PrimaryColumn({ type: "string" }) id: string;
  @Column({ type: "string" }) name: string;
  @Index()
  @Column({ type: "string" })
  ownerId: string;
  @CreateDateColumn() createdAt: Date;
}
