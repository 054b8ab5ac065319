/** What `storage.on("query", listener)` hears: one {@link QueryEvent} per backend operation (README, "Observing queries"). */

/**
 * The backend operation an event reports, named after the repository call that makes it where there is one:
 * `findById`, `findByIds`, `find` (`findAll`, `findOne`, `findPage`, each keyset page of `iterate`, and the
 * reads of `include` and relation filters), `count`, `search` (`repo.search`), `stream` (a page of an `iterate` walk answered from one
 * snapshot), `insert`, `upsert` (`save`), `upsertMany` (`saveMany`, per batch), `update`, `delete`,
 * `deleteMany`, `sql` (`storage.sql`).
 */
export type QueryOperation =
  | "findById"
  | "findByIds"
  | "find"
  | "count"
  | "search"
  | "stream"
  | "insert"
  | "upsert"
  | "upsertMany"
  | "update"
  | "delete"
  | "deleteMany"
  | "sql";

/** One statement a SQL backend ran for an operation. */
export interface QueryStatement {
  /** The text sent to the database, placeholders included. */
  readonly sql: string;
  /** The values bound to its placeholders, as sent to the driver (never spliced into `sql`). */
  readonly params: readonly unknown[];
}

/**
 * One backend operation, reported once it has ended (inside a transaction too, as each operation ends, not at
 * commit). Listeners get the same object: treat it as read-only.
 */
export interface QueryEvent {
  /** The backend's name: `"memory"`, `"file"`, `"sqlite"`, `"postgres"` or a registered one. */
  readonly backend: string;
  /** The table the operation read or wrote; undefined for `storage.sql`. */
  readonly table: string | undefined;
  readonly operation: QueryOperation;
  /**
   * On SQL backends: the first statement the operation ran (most run one). Absent on memory and file, and
   * on an operation that ran none (an empty `findByIds`).
   */
  readonly sql?: string;
  /** The values bound to {@link QueryEvent.sql}. They are the data itself: a password column's value is among them. */
  readonly params?: readonly unknown[];
  /**
   * Every statement the operation ran, in order, when it ran more than one (a `saveMany` batch of several
   * hundred rows, a key generator moved past an explicit key, a version check's second look).
   */
  readonly statements?: readonly QueryStatement[];
  /**
   * On memory and file: how the engine found the rows, `"primary key"`, `"index <name>"` or `"scan"` (several,
   * comma-separated, when the operation searched more than once). Absent where it searched nothing.
   */
  readonly plan?: string;
  /** Wall time of the operation, in milliseconds (fractional), waits for a lock or a connection included. */
  readonly durationMs: number;
  /**
   * Rows read or written: those returned (`find`, `findById` 0 or 1, a `stream` page, `sql`), counted
   * (`count`: the count), written (`insert`, `upsert`, `update`: 1, or 0 when missing or in conflict;
   * `upsertMany`: the rows given) or deleted (`delete`, `deleteMany`). 0 when the operation failed.
   */
  readonly rows: number;
  /** True when the operation ran inside `storage.transaction`. */
  readonly inTransaction: boolean;
  /** What the operation threw, when it failed (the caller gets the same error). */
  readonly error?: unknown;
}

/** A listener of `storage.on("query", ...)`. What it throws is caught and logged once (it never fails an operation). */
export type QueryListener = (event: QueryEvent) => void;
