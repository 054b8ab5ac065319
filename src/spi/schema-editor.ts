/** Schema changes and introspection: the backend half of a migration's `m` API. */
import type { FullTextSchema, LogicalType, OnDelete } from "../schema/entity-schema.js";

/** A column as a table holds it, named by its column name. */
export interface TableColumn {
  /** The column name (a plain identifier: letters, digits and underscores). */
  readonly name: string;
  /** The logical type; a backend maps it to its own storage type and back, losslessly. */
  readonly type: LogicalType;
  /** Whether the column accepts null. */
  readonly nullable: boolean;
  /** Given to existing rows when the column is added, and to new rows that leave it out. */
  readonly default?: unknown;
  /** The table's one primary-key column. */
  readonly primary: boolean;
  /** A unique column: no two rows share a non-null value (nulls never collide). */
  readonly unique: boolean;
  /** How the key is generated: `uuid` by the repository, `increment` by the backend (see `DataSession.insert`). */
  readonly generated?: "uuid" | "increment";
}

/** An index as a table holds it. */
export interface TableIndex {
  /** The index name, unique in the whole database (as SQL index names are), not only in its table. */
  readonly name: string;
  /** Column names, in index order. */
  readonly columns: readonly string[];
  /** A unique index: no two rows share its columns' values (a row with a null among them never collides). */
  readonly unique: boolean;
}

/**
 * A foreign key as a table holds it: `column` holds the primary key of a row of `referencedTable` (or null).
 * Every backend enforces it alike (README, "Relations"): a write naming a missing row is an `IntegrityError`,
 * and deleting a referenced row restricts, cascades or sets null as `onDelete` says, level after level.
 */
export interface TableForeignKey {
  /** The constraint name, unique in the whole database: `fk_<table>_<column>` for one a relation declares. */
  readonly name: string;
  /** The referencing column's name. */
  readonly column: string;
  readonly referencedTable: string;
  /** The referenced table's primary key column. */
  readonly referencedColumn: string;
  readonly onDelete: OnDelete;
}

/** What introspection tells of a table. */
export interface TableDescription {
  /** The table name. */
  readonly name: string;
  /** Its columns, in table order. */
  readonly columns: readonly TableColumn[];
  /**
   * Its indexes. The index a unique column implies may be listed (named as `impliedUniqueIndexName`
   * names it) or left out: readers derive it from the column's `unique` flag either way.
   */
  readonly indexes: readonly TableIndex[];
  /** Its foreign keys. Absent (from a backend or a caller that predates relations): none. */
  readonly foreignKeys?: readonly TableForeignKey[];
  /**
   * Its full-text index (at most one per table), `properties` being column names here. Absent: none (or a
   * backend without full-text search). `createTable` creates it with the table.
   */
  readonly fullText?: FullTextSchema;
}

/**
 * Schema changes inside a transaction (`TransactionHandle.schema()`): the backend half of a migration's
 * `m` API, also used by the migration runner's default store of applied migrations. Names are checked by
 * the runner (plain identifiers); a backend quotes them and never splices anything else into DDL. The
 * caller (the migration context) checks before each change that the tables, columns and indexes it needs
 * exist and those it creates do not, and throws the `SchemaError` naming them: an editor only makes the
 * change. Called on a missing or duplicate object (by the copier, the applied-migration store, or code of
 * its own) it fails with its database's own error: never does it replace an existing table or column.
 * Data written earlier in the same transaction is visible to each change, and each change to the data
 * methods that follow it. With `supportsTransactionalDdl`, every change commits and rolls back with the
 * transaction; without it, a change may be kept although the transaction rolls back.
 */
export interface SchemaEditor {
  /**
   * Creates a table with its columns, indexes and foreign keys (an `increment` primary key gets its
   * generator). The tables its foreign keys reference exist, or it references itself.
   */
  createTable(table: TableDescription): Promise<void>;
  /** Drops a table, its rows and its indexes (its full-text index too). */
  dropTable(name: string): Promise<void>;
  /** Renames a table, keeping its rows, columns and indexes (its full-text index too). */
  renameTable(from: string, to: string): Promise<void>;
  /**
   * Adds a column; existing rows get `column.default` (or null). A non-nullable column without a default
   * on a table with rows is a `SchemaError`; a unique column whose default several rows would share is an
   * `IntegrityError`. The caller never adds a primary column (the migration context refuses it: a table's
   * key is set when it is created), so an editor need not check.
   */
  addColumn(table: string, column: TableColumn): Promise<void>;
  /**
   * Drops a column and the indexes and foreign keys that use it (a full-text index over it too, as a
   * several-column index would go). The caller never drops the primary column
   * (the migration context refuses it), so an editor need not check.
   */
  dropColumn(table: string, name: string): Promise<void>;
  /**
   * Renames a column, keeping its values and the indexes, foreign keys (its own and those referencing it)
   * and full-text index that use it.
   */
  renameColumn(table: string, from: string, to: string): Promise<void>;
  /** Creates an index; a unique one over rows that already share a value is an `IntegrityError`. */
  createIndex(table: string, index: TableIndex): Promise<void>;
  /** Drops the index `name` of `table`. */
  dropIndex(table: string, name: string): Promise<void>;
  /**
   * Adds the foreign key `fk` to the existing `table`, enforced from then on like one made with the table
   * (README, "Relations"). The caller has checked the column, the referenced table and its primary key, the
   * types, `onDelete` and the name (the migration context does, for every backend). A row whose value names
   * no row of the referenced table is an `IntegrityError` naming the table (the words of
   * `foreignKeyViolatedError`, schema-change-errors.ts), and nothing changes. Required, as every other
   * member: a backend that kept a table's foreign keys out of its schema would let rows through that every
   * other backend refuses.
   */
  addForeignKey(table: string, fk: TableForeignKey): Promise<void>;
  /** Drops the foreign key `name` of `table` (which has it); its column, values and index stay. */
  dropForeignKey(table: string, name: string): Promise<void>;
  /**
   * Creates the full-text index `index` of `table` (which has none), over the string columns named by
   * `index.properties` (column names, in document order), and indexes the rows the table holds: from then
   * on every write of the table keeps it current in the writing transaction. A name the backend needs for
   * the index's own objects that is taken (SQLite's `<table>__fts`) is a `SchemaError`. Optional: a backend
   * without it (and without `DataSession.search`) has no full-text search, and a migration's
   * `m.createFullTextIndex` is an `UnsupportedError` there.
   */
  createFullTextIndex?(table: string, index: FullTextSchema): Promise<void>;
  /** Drops the full-text index `name` of `table` (which has it), and whatever kept it current; the rows stay. */
  dropFullTextIndex?(table: string, name: string): Promise<void>;
  /**
   * Every table, `strata_migrations` included (a backend's own bookkeeping tables excluded, and the objects
   * that hold a full-text index), sorted by name.
   */
  listTables(): Promise<string[]>;
  /** The table's columns, indexes and foreign keys, or undefined when it does not exist. */
  describeTable(name: string): Promise<TableDescription | undefined>;
  /** Raw SQL with bound parameters, resolving to the rows it selects (none for other statements); SQL backends only (`supportsSql`). */
  sql?(text: string, params: readonly unknown[]): Promise<unknown[]>;
  /** The statements run so far (SQL backends), which a dry run shows. */
  readonly statements?: readonly string[];
}
