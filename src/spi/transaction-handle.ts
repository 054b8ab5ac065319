/** A running transaction: a data session with a lifetime and savepoints. */
import type { DataSession } from "./data-session.js";
import type { SchemaEditor } from "./schema-editor.js";

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
