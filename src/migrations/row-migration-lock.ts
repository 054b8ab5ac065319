/**
 * A migration lock held as a row of `strata_migration_lock`, for backends that several processes open
 * at once and that bring no lock of their own (SQLite: each attempt is a `BEGIN IMMEDIATE` write
 * transaction, so two processes never both see the row free).
 *
 * A lock never stays stuck: the holder refreshes `heartbeat_at` while it runs, and a waiter takes the
 * lock over when the holder's process is gone (same host: its pid no longer exists) or its heartbeat is
 * older than `staleMs` (another host, or a frozen process).
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { Backend, MigrationLock, TableDescription } from "../spi/index.js";
import { LockError } from "../errors.js";
import { normalizeWhere } from "../query/normalize-query.js";
import type { Row } from "../schema/entity-schema.js";
import { schemaOfTable } from "../schema/table-schema.js";
import { editorOf } from "./applied-migration-store.js";
import { processGone } from "../util/process-alive.js";

/** The table of the migration lock row. */
export const LOCK_TABLE = "strata_migration_lock";

const LOCK_TABLE_DESCRIPTION: TableDescription = {
  name: LOCK_TABLE,
  columns: [
    { name: "id", type: "integer", nullable: false, primary: true, unique: false },
    { name: "owner", type: "string", nullable: false, primary: false, unique: false },
    { name: "pid", type: "integer", nullable: false, primary: false, unique: false },
    { name: "host", type: "string", nullable: false, primary: false, unique: false },
    { name: "heartbeat_at", type: "datetime", nullable: false, primary: false, unique: false },
  ],
  indexes: [],
};

const schema = schemaOfTable(LOCK_TABLE_DESCRIPTION);

export interface RowMigrationLockOptions {
  /** A heartbeat older than this frees the lock. @default 30000 */
  staleMs?: number;
  /** How often a waiter looks again. @default 50 */
  pollMs?: number;
  /** The clock (tests). */
  now?: () => number;
}

export class RowMigrationLock implements MigrationLock {
  private readonly staleMs: number;
  private readonly pollMs: number;
  private readonly now: () => number;

  constructor(
    private readonly backend: Backend,
    options: RowMigrationLockOptions = {},
  ) {
    this.staleMs = options.staleMs ?? 30_000;
    this.pollMs = options.pollMs ?? 50;
    this.now = options.now ?? Date.now;
  }

  /** One attempt: takes the row when it is free or its holder is gone. */
  private async tryTake(owner: string): Promise<boolean> {
    const tx = await this.backend.begin();
    try {
      const editor = editorOf(this.backend, tx);
      if (!(await editor.describeTable(LOCK_TABLE))) await editor.createTable(LOCK_TABLE_DESCRIPTION);
      const held = await tx.findById(schema, 1);
      if (held && !this.isAbandoned(held)) {
        await tx.rollback();
        return false;
      }
      const row: Row = { id: 1, owner, pid: process.pid, host: hostname(), heartbeat_at: new Date(this.now()) };
      if (held) await tx.update(schema, 1, row);
      else await tx.insert(schema, row);
      await tx.commit();
      return true;
    } catch (error) {
      await tx.rollback().catch(() => {});
      throw error;
    }
  }

  private isAbandoned(row: Row): boolean {
    const beat = row["heartbeat_at"];
    // Its last heartbeat tells a reused pid apart: a process that started after it cannot be the holder.
    if (row["host"] === hostname() && typeof row["pid"] === "number" && row["pid"] !== process.pid && processGone(row["pid"], beat instanceof Date ? beat.getTime() : undefined)) return true;
    return beat instanceof Date && this.now() - beat.getTime() > this.staleMs;
  }

  private async touch(owner: string): Promise<void> {
    const tx = await this.backend.begin();
    try {
      const held = await tx.findById(schema, 1);
      if (held && held["owner"] === owner) await tx.update(schema, 1, { heartbeat_at: new Date(this.now()) });
      await tx.commit();
    } catch {
      await tx.rollback().catch(() => {});
    }
  }

  async acquire(timeoutMs: number): Promise<() => Promise<void>> {
    const owner = randomUUID();
    const deadline = this.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
      try {
        if (await this.tryTake(owner)) break;
      } catch (error) {
        // Two processes creating the lock table at once: one of them fails; it just tries again.
        lastError = error;
      }
      if (this.now() >= deadline) {
        throw new LockError(`Waited ${timeoutMs} ms for the migration lock (table ${LOCK_TABLE}): another runner is migrating`, {
          table: LOCK_TABLE,
          ...(lastError ? { cause: lastError } : {}),
        });
      }
      await new Promise((resolve) => setTimeout(resolve, this.pollMs));
    }
    const heartbeat = setInterval(() => void this.touch(owner), Math.max(10, Math.floor(this.staleMs / 3)));
    heartbeat.unref();
    return async () => {
      clearInterval(heartbeat);
      const tx = await this.backend.begin();
      try {
        await tx.deleteMany(schema, normalizeWhere(schema, { owner }));
        await tx.commit();
      } catch (error) {
        await tx.rollback().catch(() => {});
        throw error;
      }
    };
  }
}
