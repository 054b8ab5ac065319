/** A running transaction: a data session with a lifetime and savepoints. */
import type { DataSession } from "./data-session.js";
import type { SchemaEditor } from "./schema-editor.js";

/**
 * A running write transaction, from `Backend.begin` to `commit` or `rollback`. Its data methods
 * ({@link DataSession}) see its own writes; nothing it writes is visible outside before `commit`
 * resolves. After `commit` or `rollback` every method but `rollback` fails with a `TransactionError`.
 *
 * What a backend must guarantee between concurrent transactions is *no lost update*, not a particular
 * mechanism: when two transactions each read a row and write it back changed, the result is as if they
 * had run one after the other. The memory, file and SQLite backends get there by running one write
 * transaction at a time (`begin` waits for the previous one); the PostgreSQL backend runs them at once
 * at READ COMMITTED and reads every row `FOR UPDATE`, so a second reader of a row waits for the first
 * writer's end. The conformance suites check it (concurrent read-increment-write transactions, none lost).
 * A transaction's methods are called one at a time or concurrently (`Promise.all` in user code): a
 * backend with one connection per transaction queues them.
 */
export interface TransactionHandle extends DataSession {
  /**
   * Marks a savepoint named `name` (a plain identifier chosen by the transaction manager, unique among
   * the open ones). Called only when `capabilities.supportsSavepoints` is true.
   */
  savepoint(name: string): Promise<void>;
  /**
   * Undoes every write made since the savepoint `name` (schema changes too, where DDL is transactional).
   * The savepoint stays open, and later savepoints are gone. Fails when there is no such savepoint.
   */
  rollbackToSavepoint(name: string): Promise<void>;
  /** Forgets the savepoint `name` (and later ones), keeping their writes in the transaction. */
  releaseSavepoint(name: string): Promise<void>;
  /**
   * Makes every write of the transaction durable and visible at once, then ends it. When it fails, the
   * transaction stays open so that the caller's `rollback` ends it, and nothing of it is visible; a
   * commit the store answered with a rollback (PostgreSQL, after a failed statement) is a `TransactionError`.
   */
  commit(): Promise<void>;
  /** Discards every write of the transaction and ends it. Calling it again, or after `commit`, does nothing. */
  rollback(): Promise<void>;
  /**
   * The schema editor of this transaction (migrations). Optional: a backend without it cannot run
   * migrations, and the runner says so with an `UnsupportedError`. On a backend whose
   * `supportsTransactionalDdl` is true, its changes commit and roll back with the transaction.
   */
  schema?(): SchemaEditor;
}
