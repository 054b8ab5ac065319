/**
 * The backend SPI: what a backend implements for Strata. Small parts, each with one job:
 * a {@link DataSession} reads and writes rows, a {@link TransactionHandle} adds the transaction's
 * lifetime, and the {@link Backend} ties them together with its capability flags.
 *
 * Rows crossing this boundary are plain objects keyed by entity property, holding logical values
 * (`Date`, boolean, number, string, JSON value, `null`); every column is present. A backend never keeps
 * a reference to a row it was given, and every row it returns belongs to the caller.
 */
import type { NormalizedQuery, NormalizedWhere } from "../query/query.js";
import type { EntitySchema, LogicalType, Row } from "../schema/entity-schema.js";
import type { ResolvedConfig } from "../config/storage-config.js";
import type { Logger } from "../logger.js";

/** A primary-key value. */
export type Key = string | number;

/** What a backend can do; the repository, transaction manager and migration runner branch on these. */
export interface BackendCapabilities {
  /** Nested transactions are savepoints. */
  readonly supportsSavepoints: boolean;
  /** Schema changes roll back with the transaction. */
  readonly supportsTransactionalDdl: boolean;
  /** Several processes may open the same data at once. */
  readonly supportsMultipleConnections: boolean;
  /** `sql()` is available in migrations. */
  readonly supportsSql: boolean;
  /** Data outlives the storage: a second storage on the same URL sees it. */
  readonly persistent: boolean;
}

/** The default capability flags: a backend states only what it adds. */
export const DEFAULT_CAPABILITIES: BackendCapabilities = {
  supportsSavepoints: false,
  supportsTransactionalDdl: false,
  supportsMultipleConnections: false,
  supportsSql: false,
  persistent: false,
};

/** The outcome of a conditional update. */
export type UpdateOutcome = { readonly row: Row } | "missing" | "conflict";

/** Reads and writes on one table at a time. Each write is atomic on its own. */
export interface DataSession {
  findById(schema: EntitySchema, key: Key): Promise<Row | null>;
  /** The rows found, in any order. */
  findByIds(schema: EntitySchema, keys: readonly Key[]): Promise<Row[]>;
  find(schema: EntitySchema, query: NormalizedQuery): Promise<Row[]>;
  count(schema: EntitySchema, where: NormalizedWhere): Promise<number>;
  /** Inserts a complete row; an `increment` key left null is generated. `IntegrityError` on a duplicate. */
  insert(schema: EntitySchema, row: Row): Promise<Row>;
  /**
   * Inserts the row, or, when its key exists, replaces every column but the key and the create date.
   * With `expectedVersion`, an existing row whose version differs is left alone and `"conflict"` returned.
   * On the update path the backend sets the version column to the stored version + 1.
   */
  upsert(schema: EntitySchema, row: Row, expectedVersion?: number): Promise<Row | "conflict">;
  /** Upserts many rows without version checks (bulk path of `saveMany`). Returns them in input order. */
  upsertMany(schema: EntitySchema, rows: readonly Row[]): Promise<Row[]>;
  /** Changes the given columns; sets version to stored + 1 when the entity is versioned. */
  update(schema: EntitySchema, key: Key, changes: Row, expectedVersion?: number): Promise<UpdateOutcome>;
  delete(schema: EntitySchema, key: Key): Promise<boolean>;
  deleteMany(schema: EntitySchema, where: NormalizedWhere): Promise<number>;
}

/** A running transaction. Writers are serialized by the backend: `begin` waits for the previous one. */
export interface TransactionHandle extends DataSession {
  savepoint(name: string): Promise<void>;
  rollbackToSavepoint(name: string): Promise<void>;
  releaseSavepoint(name: string): Promise<void>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
  /**
   * The schema editor of this transaction (migrations). Optional: a backend without it cannot run
   * migrations, and the runner says so with an `UnsupportedError`. On a backend whose
   * `supportsTransactionalDdl` is true, its changes commit and roll back with the transaction.
   */
  schema?(): SchemaEditor;
}

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
 * the runner; a backend quotes them and never splices anything else into DDL. Each method throws a
 * `SchemaError` naming the table (and column or index) when the object is missing or already there.
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

/** One applied migration, as recorded in `strata_migrations`. */
export interface AppliedMigration {
  readonly version: number;
  readonly name: string;
  /** sha256 (hex) of the migration file's text. */
  readonly checksum: string;
  readonly appliedAt: Date;
  readonly durationMs: number;
}

/**
 * Where applied migrations are recorded. `record` and `remove` run in the migration's own transaction,
 * so a migration and its record commit together. The runner's default keeps them in the table
 * `strata_migrations` through the {@link SchemaEditor} and the data session; a backend may bring its own.
 */
export interface AppliedMigrationStore {
  list(): Promise<AppliedMigration[]>;
  record(tx: TransactionHandle, migration: AppliedMigration): Promise<void>;
  remove(tx: TransactionHandle, version: number): Promise<void>;
}

/**
 * The lock that keeps two runners (two processes) from migrating at once. `acquire` waits up to
 * `timeoutMs`, then throws a `LockError`; the lock of a process that died must not stay held.
 */
export interface MigrationLock {
  /** Resolves to the function that releases the lock. */
  acquire(timeoutMs: number): Promise<() => Promise<void>>;
  /**
   * The error that ended the lock this process holds, once it is lost (a lock bound to a connection the
   * server ended): another runner may hold it now, so the runner commits no further migration.
   */
  lost?(): Error | undefined;
}

export interface Backend {
  readonly name: string;
  readonly capabilities: BackendCapabilities;
  /** Reads and single writes outside any transaction. Reads never see uncommitted writes. */
  readonly session: DataSession;
  /** Starts a write transaction, waiting (up to the configured `timeoutMs`) for the current writer. */
  begin(): Promise<TransactionHandle>;
  /** Writes a consistent copy of the data to `targetPath`, which `createStorage` can open. */
  backup(targetPath: string): Promise<void>;
  close(): Promise<void>;
  /**
   * The cross-process migration lock. Optional: without it the runner uses an in-process mutex when
   * `supportsMultipleConnections` is false, and refuses (`UnsupportedError`) when it is true.
   */
  readonly migrationLock?: MigrationLock;
  /** Overrides the runner's default store of applied migrations (the `strata_migrations` table). */
  readonly appliedMigrations?: AppliedMigrationStore;
}

/** What a backend factory is given. */
export interface BackendContext {
  readonly config: ResolvedConfig;
  readonly schemas: readonly EntitySchema[];
  readonly logger: Logger;
}

/** Creates and connects a backend. */
export type BackendFactory = (context: BackendContext) => Promise<Backend>;
