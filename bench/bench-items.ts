/** The entities and rows the benchmark cases share, so that every case measures the same six-column row. */
import { Column, Entity, PrimaryColumn } from "typeorm";

/** Declared with Strata's logical type names (memory and file cases). */
@Entity("bench_items")
export class BenchItem {
  @PrimaryColumn({ type: "integer" }) id: number;
  @Column({ type: "string" }) name: string;
  @Column({ type: "integer" }) quantity: number;
  @Column({ type: "number" }) price: number;
  @Column({ type: "boolean" }) active: boolean;
  @Column({ type: "string", nullable: true }) note: string | null;
}

/** The same row with type names TypeORM's better-sqlite3 driver accepts too, for its anchors (sqlite and cache cases). */
@Entity("bench_sql_items")
export class SqlBenchItem {
  @PrimaryColumn({ type: "integer" }) id: number;
  @Column({ type: "varchar" }) name: string;
  @Column({ type: "integer" }) quantity: number;
  @Column({ type: "real" }) price: number;
  @Column({ type: "boolean" }) active: boolean;
  @Column({ type: "varchar", nullable: true }) note: string | null;
}

/** A bench row as plain data (a type alias, so it also fits `Record<string, unknown>` anchors). */
export type BenchRow = { id: number; name: string; quantity: number; price: number; active: boolean; note: string | null };

/** Row number `i`. */
export function benchRow(i: number): BenchRow {
  return { id: i, name: `item ${i}`, quantity: i % 17, price: i * 1.5, active: i % 2 === 0, note: null };
}
