/** Where applied migrations are recorded, and the lock that keeps two runners apart. */
import type { TransactionHandle } from "./transaction-handle.js";

/** One applied migration, as recorded in `strata_migrations`. */
export interface AppliedMigration {
  /** The migration's version (a positive integer). */
  readonly version: number;
  /** The migration's name, e.g. `"add-task-priority"`. */
  readonly name: string;
  /** sha256 (hex) of the migration file's text. */
  readonly checksum: string;
  /** When it was applied. */
  readonly appliedAt: Date;
  /** How long its `up` took. */
  readonly durationMs: number;
}

/**
 * Where applied migrations are recorded. `record` and `remove` run in the migration's own transaction,
 * so a migration and its record commit together. The runner's default keeps them in the table
 * `strata_migrations` through the {@link SchemaEditor} and the data session; a backend may bring its own.
 */
export interface AppliedMigrationStore {
  /** Every applied migration, by ascending version; `[]` before the first (the store may not exist yet). */
  list(): Promise<AppliedMigration[]>;
  /** Records `migration` as applied, inside `tx`: it is kept only if `tx` commits. */
  record(tx: TransactionHandle, migration: AppliedMigration): Promise<void>;
  /** Forgets the migration `version` (it was reverted), inside `tx`: it is forgotten only if `tx` commits. */
  remove(tx: TransactionHandle, version: number): Promise<void>;
}

/**
 * The lock that keeps two runners (two processes) from migrating at once. `acquire` waits up to
 * `timeoutMs`, then throws a `LockError`; the lock of a process that died must not stay held.
 */
export interface MigrationLock {
  /**
   * Waits for the lock up to `timeoutMs`, then throws a `LockError`; resolves to the function that
   * releases it (called once, also when the migrations failed).
   */
  acquire(timeoutMs: number): Promise<() => Promise<void>>;
  /**
   * The error that ended the lock this process holds, once it is lost (a lock bound to a connection the
   * server ended): another runner may hold it now, so the runner commits no further migration.
   */
  lost?(): Error | undefined;
}
