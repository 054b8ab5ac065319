import { spawnSync } from "node:child_process";
import { hostname } from "node:os";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import type { Storage } from "../../src/index.js";
import { createStorage, LockError, schemaOfTable } from "../../src/index.js";
import { LOCK_TABLE, RowMigrationLock } from "../../src/migrations/row-migration-lock.js";
import { coreOf } from "../../src/storage-core.js";

describe("memory: the migration lock row", () => {
  let storage: Storage;
  beforeEach(async () => {
    storage = await createStorage({ url: "memory:" });
  });
  afterEach(async () => {
    await storage.close();
  });

  /** Writes the lock row as another holder would have left it. */
  async function plant(row: { pid: number; host: string; heartbeatAt: Date }): Promise<void> {
    const backend = coreOf(storage).backend;
    const probe = new RowMigrationLock(backend);
    await (await probe.acquire(100))(); // creates the table
    const tx = await backend.begin();
    const described = await tx.schema!().describeTable(LOCK_TABLE);
    await tx.insert(schemaOfTable(described!), { id: 1, owner: "someone-else", pid: row.pid, host: row.host, heartbeat_at: row.heartbeatAt });
    await tx.commit();
  }

  test("a second holder waits, then gets a LockError; after release it gets the lock", async () => {
    const backend = coreOf(storage).backend;
    const first = new RowMigrationLock(backend, { pollMs: 5 });
    const second = new RowMigrationLock(backend, { pollMs: 5 });
    const release = await first.acquire(100);
    await expect(second.acquire(60)).rejects.toThrow(LockError);
    const waiting = second.acquire(2000);
    await release();
    const releaseSecond = await waiting;
    await releaseSecond();
  });

  test("the lock of a process that died is taken over at once", async () => {
    const dead = spawnSync(process.execPath, ["-e", "0"]).pid!;
    await plant({ pid: dead, host: hostname(), heartbeatAt: new Date() });
    const release = await new RowMigrationLock(coreOf(storage).backend, { pollMs: 5 }).acquire(50);
    await release();
  });

  test("a live holder on another host keeps the lock until its heartbeat is stale", async () => {
    let now = Date.now();
    await plant({ pid: process.pid, host: "elsewhere", heartbeatAt: new Date(now) });
    const lock = new RowMigrationLock(coreOf(storage).backend, { pollMs: 5, staleMs: 1000, now: () => now });
    await expect(lock.acquire(0)).rejects.toThrow(LockError);
    now += 1001;
    const release = await lock.acquire(0);
    await release();
  });
});
