/** Where applied migrations are recorded, and the lock that keeps two runners apart. */
import type { TransactionHandle } from "./transaction-handle.js";

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
