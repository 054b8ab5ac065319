/** The entities the conformance suite runs on. Explicit column types, so they also work without decorator metadata. */
import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn, UpdateDateColumn, VersionColumn } from "typeorm";

@Entity("conf_items")
export class ConfItem {
  @PrimaryGeneratedColumn("uuid") id: string;
  @Column({ type: "string" }) name: string;
  @Index()
  @Column({ type: "string", nullable: true })
  category: string | null;
  @Column({ type: "integer", nullable: true }) quantity: number | null;
  @Column({ type: "number", nullable: true }) price: number | null;
  @Column({ type: "boolean", default: false }) active: boolean;
  @Column({ type: "simple-json", nullable: true }) tags: unknown;
  @Column({ type: "string", nullable: true, unique: true }) code: string | null;
  @CreateDateColumn() createdAt: Date;
  @UpdateDateColumn() updatedAt: Date;
  @VersionColumn() version: number;
}

@Entity("conf_counters")
export class ConfCounter {
  @PrimaryColumn({ type: "string" }) id: string;
  @Column({ type: "integer" }) value: number;
}

@Entity("conf_sequenced")
export class ConfSequenced {
  @PrimaryGeneratedColumn("increment") id: number;
  @Column({ type: "string" }) label: string;
}

@Entity("conf_values")
export class ConfValue {
  @PrimaryColumn({ type: "string" }) id: string;
  @Column({ type: "string", nullable: true }) s: string | null;
  @Column({ type: "integer", nullable: true }) i: number | null;
  @Column({ type: "number", nullable: true }) n: number | null;
  @Column({ type: "boolean", nullable: true }) b: boolean | null;
  @Column({ type: "datetime", nullable: true }) d: Date | null;
  @Column({ type: "simple-json", nullable: true }) j: unknown;
}

/** Every entity of the suite, for the target's `open`. */
export const CONFORMANCE_ENTITIES: Function[] = [ConfItem, ConfCounter, ConfSequenced, ConfValue];
