/** The neutral schema and data API a migration's `up`/`down` receives (docs/migrations.md). */
import type { LogicalType, OnDelete } from "../schema/entity-schema.js";

/** A column in a migration. */
export interface MigrationColumn {
  type: LogicalType;
  nullable?: boolean;
  default?: unknown;
  primary?: boolean;
  unique?: boolean;
  generated?: "uuid" | "increment";
}

/**
 * A foreign key in a migration: `column` of the table holds the primary key of a row of `references.table`
 * (or null). Enforced on every backend alike, as a relation's foreign key is (README, "Relations").
 * @example
 * await m.createTable("posts", { id: { type: "integer", primary: true, generated: "increment" }, authorId: { type: "string" } }, {
 *   foreignKeys: [{ column: "authorId", references: { table: "authors" }, onDelete: "CASCADE" }],
 * });
 */
export interface MigrationForeignKey {
  column: string;
  /** The referenced table and its column, which must be its primary key (the default). */
  references: { table: string; column?: string };
  /** @default "RESTRICT" */
  onDelete?: OnDelete;
  /** The constraint name. @default `fk_<table>_<column>` */
  name?: string;
}

export interface MigrationContext {
  /** The backend's name: `"memory"`, `"file"`, `"sqlite"`, `"postgres"` or a registered one. */
  readonly backend: string;
  /**
   * Creates a table. Each foreign key gets an index on its column (`idx_<table>_<column>`) unless an index
   * starts with it, as a relation's does; its referenced table must exist (or be this one).
   */
  createTable(
    name: string,
    columns: Record<string, MigrationColumn>,
    options?: { indexes?: { columns: string[]; unique?: boolean; name?: string }[]; foreignKeys?: MigrationForeignKey[] },
  ): Promise<void>;
  dropTable(name: string): Promise<void>;
  renameTable(from: string, to: string): Promise<void>;
  addColumn(table: string, name: string, column: MigrationColumn): Promise<void>;
  dropColumn(table: string, name: string): Promise<void>;
  renameColumn(table: string, from: string, to: string): Promise<void>;
  createIndex(table: string, columns: string[], options?: { unique?: boolean; name?: string }): Promise<void>;
  dropIndex(table: string, name: string): Promise<void>;
  /**
   * Adds a foreign key to an existing table (and an index on its column unless one starts with it). A row
   * whose value names no row of the referenced table is an `IntegrityError` naming the table; nothing changes.
   */
  addForeignKey(table: string, column: string, references: { table: string; column?: string }, options?: { onDelete?: OnDelete; name?: string }): Promise<void>;
  /** Drops the foreign key `name` of `table`; the column, its values and its index stay. */
  dropForeignKey(table: string, name: string): Promise<void>;
  /**
   * Creates the table's full-text index (one per table) over its string `columns`, in document order, and
   * indexes the rows it holds; from then on every write keeps it current (`repo.search` on an entity of the
   * table, whose `@Index({ fulltext: true })` columns should be these). A backend without full-text search
   * makes it an `UnsupportedError`.
   * @default name `fts_<table>`
   * @example await m.createFullTextIndex("cities", ["name", "altName"]);
   */
  createFullTextIndex(table: string, columns: string[], name?: string): Promise<void>;
  /** Drops the table's full-text index (`name`, when given, must be its name); the rows stay. */
  dropFullTextIndex(table: string, name?: string): Promise<void>;
  /** Rewrites rows in batches; `fn` returns the changed row (or nothing to leave it). */
  updateRows(table: string, fn: (row: Record<string, unknown>) => Record<string, unknown> | void | Promise<Record<string, unknown> | void>, where?: Record<string, unknown>): Promise<number>;
  /**
   * Inserts rows as the repository would: a `uuid` key left out is generated, an `increment` key by the
   * backend, absent columns get their default (or null). Where an entity of the storage maps the table,
   * its create and update date columns left out get the time of the call and its version column 1.
   */
  insertRows(table: string, rows: Record<string, unknown>[]): Promise<void>;
  /**
   * Deletes the rows matching `where` (the repository's query language, by column name) and returns how
   * many; `{}` deletes every row. Foreign keys act as on any delete (RESTRICT refuses, CASCADE follows).
   */
  deleteRows(table: string, where: Record<string, unknown> | Record<string, unknown>[]): Promise<number>;
  /**
   * Raw SQL with bound parameters; SQL backends only, elsewhere an `UnsupportedError`. A statement the
   * database refuses fails the migration with the database's message and the text.
   */
  sql(text: string, params?: unknown[]): Promise<unknown[]>;
}
