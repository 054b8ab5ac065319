/**
 * The PostgreSQL migration lock: a session-level advisory lock held on a connection of its own for the
 * whole run. The server drops it when that connection ends, so a runner that crashed (or was killed)
 * never leaves it held. A waiter polls `pg_try_advisory_lock` until `timeoutMs`, then `LockError`.
 *
 * The connection is guarded while held (`HeldConnection`, postgres-connection.ts): if the server ends it
 * mid-run, the process goes on but the lock is gone with the session, so {@link PostgresMigrationLock.lost}
 * tells the runner to commit no further migration; releasing it just destroys the client.
 */
import type { MigrationLock } from "../../spi/index.js";
import { LockError } from "../../errors.js";
import { isConnectionLoss } from "./postgres-errors.js";

/** The advisory lock key of migration runners ("strata-migrate" folded to a bigint). */
export const MIGRATION_LOCK_KEY = "7302958112736440001";

/** What the lock needs of a held client (structural, so `pg` loads only with the backend). */
export interface AdvisoryLockClient {
  query(text: string, params?: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }>;
  /** Back to the pool, or destroyed when `destroy` or when its connection was lost. */
  release(destroy?: boolean): void;
  /** The error that ended its connection, if it ended while held. */
  readonly lost?: Error | undefined;
}

export class PostgresMigrationLock implements MigrationLock {
  /** The client holding the lock for this process's run, while it does. */
  private held: AdvisoryLockClient | undefined;

  constructor(
    private readonly connect: () => Promise<AdvisoryLockClient>,
    /** Turns a driver error into a Strata error. */
    private readonly mapError: (error: unknown) => unknown = (error) => error,
    private readonly pollMs = 50,
  ) {}

  async acquire(timeoutMs: number): Promise<() => Promise<void>> {
    const deadline = Date.now() + timeoutMs;
    let client: AdvisoryLockClient | undefined = await this.connect();
    try {
      for (;;) {
        let locked = false;
        try {
          const { rows } = await client.query("SELECT pg_try_advisory_lock($1::bigint) AS locked", [MIGRATION_LOCK_KEY]);
          locked = rows[0]?.["locked"] === true;
        } catch (error) {
          // A pooled client the server ended while idle: nothing is held on it, so take another one.
          if (!isConnectionLoss(error) || Date.now() >= deadline) throw this.mapError(error);
          const dead: AdvisoryLockClient = client;
          client = undefined;
          dead.release(true);
          client = await this.connect();
          continue;
        }
        if (locked) break;
        if (Date.now() >= deadline) {
          throw new LockError(`Waited ${timeoutMs} ms for the migration lock (a PostgreSQL advisory lock): another runner is migrating`);
        }
        await new Promise((resolve) => setTimeout(resolve, this.pollMs));
      }
    } catch (error) {
      client?.release();
      throw error;
    }
    const held = client;
    this.held = held;
    return async () => {
      if (this.held === held) this.held = undefined;
      try {
        await held.query("SELECT pg_advisory_unlock($1::bigint)", [MIGRATION_LOCK_KEY]);
        held.release();
      } catch {
        // The connection is unusable: destroying it ends the session, which drops the lock anyway.
        held.release(true);
      }
    };
  }

  lost(): Error | undefined {
    const lost = this.held?.lost;
    if (lost === undefined) return undefined;
    const mapped = this.mapError(lost);
    return mapped instanceof Error ? mapped : lost;
  }
}
