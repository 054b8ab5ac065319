/** Schema changes and introspection: the backend half of a migration's `m` API. */
import type { LogicalType } from "../schema/entity-schema.js";

/** A column as a table holds it, named by its column name. */
export interface TableColumn {
  readonly name: string;
  readonly type: LogicalType;
  readonly nullable: boolean;
  /** Given to existing rows when the column is added, and to new rows that leave it out. */
  readonly default?: unknown;
  readonly primary: boolean;
  readonly unique: boolean;
  readonly generated?: "uuid" | "increment";
}

/** An index as a table holds it. */
export interface TableIndex {
  readonly name: string;
  /** Column names, in index order. */
  readonly columns: readonly string[];
  readonly unique: boolean;
}

/** What introspection tells of a table. */
export interface TableDescription {
  readonly name: string;
  readonly columns: readonly TableColumn[];
  readonly indexes: readonly TableIndex[];
}

/**
 * Schema changes inside a transaction: the backend half of a migration's `m` API. Names are checked by
 * the runner; a backend quotes them and never splices anything else into DDL. The caller (the migration
 * context) checks before each change that the tables, columns and indexes it needs exist and those it
 * creates do not, and throws the `SchemaError`: an editor only makes the change, and called on a missing
 * or duplicate object it may fail with its database's own error instead.
 */
export interface SchemaEditor {
  createTable(table: TableDescription): Promise<void>;
  dropTable(name: string): Promise<void>;
  renameTable(from: string, to: string): Promise<void>;
  /** Existing rows get `column.default` (or null). */
  addColumn(table: string, column: TableColumn): Promise<void>;
  dropColumn(table: string, name: string): Promise<void>;
  renameColumn(table: string, from: string, to: string): Promise<void>;
  createIndex(table: string, index: TableIndex): Promise<void>;
  dropIndex(table: string, name: string): Promise<void>;
  /** Every table, `strata_migrations` included, sorted by name. */
  listTables(): Promise<string[]>;
  /** The table's columns and indexes, or undefined when it does not exist. */
  describeTable(name: string): Promise<TableDescription | undefined>;
  /** Raw SQL with bound parameters; present on SQL backends only. */
  sql?(text: string, params: readonly unknown[]): Promise<unknown[]>;
  /** The statements run so far (SQL backends), shown by dry runs. */
  readonly statements?: readonly string[];
}
