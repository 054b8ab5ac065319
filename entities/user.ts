import { Column, CreateDateColumn, Entity, PrimaryColumn } from "typeorm";

/** A member of the task board. */
@Entity("users")
export class User {
  @PrimaryColumn({ type: "string" }) id: string;
  @Column({ type: "string", unique: true }) email: string;
  @Column({ type: "string" }) name: string;
  @CreateDateColumn() createdAt: Date;
}
