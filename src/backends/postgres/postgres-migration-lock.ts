/**
 * The PostgreSQL migration lock: a session-level advisory lock held on a connection of its own for the
 * whole run. The server drops it when that connection ends, so a runner that crashed (or was killed)
 * never leaves it held. A waiter polls `pg_try_advisory_lock` until `timeoutMs`, then `LockError`.
 */
import type { MigrationLock } from "../../backend/backend.js";
import { LockError } from "../../errors.js";

/** The advisory lock key of migration runners ("strata-migrate" folded to a bigint). */
export const MIGRATION_LOCK_KEY = "7302958112736440001";

/** What the lock needs of a pooled client (structural, so `pg` loads only with the backend). */
export interface AdvisoryLockClient {
  query(text: string, params?: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }>;
  release(destroy?: boolean): void;
}

export class PostgresMigrationLock implements MigrationLock {
  constructor(
    private readonly connect: () => Promise<AdvisoryLockClient>,
    private readonly pollMs = 50,
  ) {}

  async acquire(timeoutMs: number): Promise<() => Promise<void>> {
    const client = await this.connect();
    const deadline = Date.now() + timeoutMs;
    try {
      for (;;) {
        const { rows } = await client.query("SELECT pg_try_advisory_lock($1::bigint) AS locked", [MIGRATION_LOCK_KEY]);
        if (rows[0]?.["locked"] === true) break;
        if (Date.now() >= deadline) {
          throw new LockError(`Waited ${timeoutMs} ms for the migration lock (a PostgreSQL advisory lock): another runner is migrating`);
        }
        await new Promise((resolve) => setTimeout(resolve, this.pollMs));
      }
    } catch (error) {
      client.release();
      throw error;
    }
    return async () => {
      try {
        await client.query("SELECT pg_advisory_unlock($1::bigint)", [MIGRATION_LOCK_KEY]);
        client.release();
      } catch {
        // The connection is unusable: destroying it ends the session, which drops the lock anyway.
        client.release(true);
      }
    };
  }
}
