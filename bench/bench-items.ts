/** The entities and rows the benchmark cases share, so that every case measures the same six-column (or eight-column wide) row. */
import { Column, Entity, PrimaryColumn, VersionColumn } from "typeorm";

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

/**
 * An eight-column row with what makes a row dear to copy and to write: a Date, a json value and a version
 * column (issue 11). Type names that TypeORM's better-sqlite3 driver accepts too.
 */
@Entity("bench_wide_items")
export class WideItem {
  @PrimaryColumn({ type: "integer" }) id: number;
  @Column({ type: "varchar" }) name: string;
  @Column({ type: "varchar" }) email: string;
  @Column({ type: "integer" }) quantity: number;
  @Column({ type: "real" }) price: number;
  @Column({ type: "datetime" }) createdAt: Date;
  @Column({ type: "simple-json" }) tags: { role: string; level: number; flags: string[] };
  @VersionColumn() version?: number;
}

/** A wide row as plain data, without its version (a new entity, as `saveMany` receives it). */
export type WideRow = { id: number; name: string; email: string; quantity: number; price: number; createdAt: Date; tags: { role: string; level: number; flags: string[] } };

/** Wide row number `i`. */
export function wideRow(i: number): WideRow {
  return {
    id: i,
    name: `item ${i}`,
    email: `person${i}@example.com`,
    quantity: i % 17,
    price: i * 1.5,
    createdAt: new Date(Date.UTC(2026, 0, 1) + i * 1000),
    tags: { role: i % 2 ? "admin" : "user", level: i % 10, flags: ["a", "b"] },
  };
}
