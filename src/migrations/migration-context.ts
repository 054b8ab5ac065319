/** The neutral schema and data API a migration's `up`/`down` receives (docs/migrations.md). */
import type { LogicalType } from "../schema/entity-schema.js";

/** A column in a migration. */
export interface MigrationColumn {
  type: LogicalType;
  nullable?: boolean;
  default?: unknown;
  primary?: boolean;
  unique?: boolean;
  generated?: "uuid" | "increment";
}

export interface MigrationContext {
  /** The backend's name: `"memory"`, `"file"`, `"sqlite"`, `"postgres"` or a registered one. */
  readonly backend: string;
  createTable(name: string, columns: Record<string, MigrationColumn>, options?: { indexes?: { columns: string[]; unique?: boolean; name?: string }[] }): Promise<void>;
  dropTable(name: string): Promise<void>;
  renameTable(from: string, to: string): Promise<void>;
  addColumn(table: string, name: string, column: MigrationColumn): Promise<void>;
  dropColumn(table: string, name: string): Promise<void>;
  renameColumn(table: string, from: string, to: string): Promise<void>;
  createIndex(table: string, columns: string[], options?: { unique?: boolean; name?: string }): Promise<void>;
  dropIndex(table: string, name: string): Promise<void>;
  /** Rewrites rows in batches; `fn` returns the changed row (or nothing to leave it). */
  updateRows(table: string, fn: (row: Record<string, unknown>) => Record<string, unknown> | void | Promise<Record<string, unknown> | void>, where?: Record<string, unknown>): Promise<number>;
  insertRows(table: string, rows: Record<string, unknown>[]): Promise<void>;
  /** Raw SQL with bound parameters; SQL backends only, elsewhere an `UnsupportedError`. */
  sql(text: string, params?: unknown[]): Promise<unknown[]>;
}
