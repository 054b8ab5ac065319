/**
 * `repo.iterate` on PostgreSQL where no index serves the order: outside a transaction the walk is one
 * server-side cursor, on a client of its own, in a read-only repeatable-read transaction (its snapshot).
 * Seen from the server (pg_stat_activity, pg_stat_user_tables) and from what the walk yields: one scan of
 * the table whatever the rows, a write inside the loop with poolSize 1, the snapshot let go on break,
 * throw, close, idle timeout and collection, the cap on streaming walks, and close racing a walk's start.
 */
import "reflect-metadata";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import pg from "pg";
import { Column, Entity, PrimaryColumn } from "typeorm";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { ConnectionError, createStorage } from "../../src/index.js";
import type { Storage } from "../../src/index.js";
import { MAX_STREAM_CLIENTS } from "../../src/backends/postgres/postgres-streamer.js";
import { STREAM_IDLE_MS } from "../../src/backends/sql/sql-stream-walk.js";
import { backendSelected } from "../sql/sql-backend-cases.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "./pg-test-database.js";

@Entity("walk_rows")
class WalkRow {
  @PrimaryColumn({ type: "integer" }) id: number;
  /** Unindexed: the order walked. */
  @Column({ type: "integer" }) unranked: number;
}

const row = (id: number, value: number): WalkRow => ({ id, unranked: value });
const skip = backendSelected("postgres") ? pgSkipReason() : "BACKENDS excludes postgres";

describe.skipIf(skip !== undefined)("postgres: a streamed walk", () => {
  let db: PgTestDatabase;
  /** Watches the server from outside the storage. */
  let watcher: pg.Client;
  let storages = 0;

  beforeAll(async () => {
    db = await PgTestDatabase.create(PG_URL!);
    watcher = new pg.Client({ connectionString: db.url });
    await watcher.connect();
  });
  afterAll(async () => {
    await watcher?.end();
    await db?.drop();
  });

  /** A storage on a fresh schema, its connections named `app` (so they can be counted), holding `count` rows. */
  async function seeded(count: number, options: { poolSize?: number } = {}): Promise<{ storage: Storage; app: string; schema: string; url: string }> {
    const url = new URL(await db.freshSchemaUrl());
    const app = `strm_walk_${++storages}`;
    url.searchParams.set("application_name", app);
    const storage = await createStorage({ url: url.href, entities: [WalkRow], autoCreate: true, cache: false, ...options });
    await storage.repository(WalkRow).saveMany(Array.from({ length: count }, (_, k) => row(k + 1, k * 10)));
    const schema = /search_path=(\w+)/.exec(url.searchParams.get("options") ?? "")![1]!;
    return { storage, app, schema, url: url.href };
  }

  /** Connections of the storage named `app` that hold a transaction open (a walk's snapshot). */
  async function snapshotsHeld(app: string): Promise<number> {
    const result = await watcher.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND state = 'idle in transaction'`, [app]);
    return result.rows[0].n as number;
  }

  async function connections(app: string): Promise<number> {
    const result = await watcher.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1`, [app]);
    return result.rows[0].n as number;
  }

  /** Polls `read` until it gives `expected` or 10 s pass; returns the last value read. */
  async function settles<T>(read: () => Promise<T>, expected: T): Promise<T> {
    let value = await read();
    for (const deadline = Date.now() + 10_000; value !== expected && Date.now() < deadline; value = await read()) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return value;
  }

  /** Sequential scans of the schema's table so far, as the server's statistics report them once flushed. */
  async function sequentialScans(schema: string): Promise<number> {
    await watcher.query("SELECT pg_stat_clear_snapshot()");
    const result = await watcher.query(`SELECT seq_scan::int AS n FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'walk_rows'`, [schema]);
    return result.rows[0].n as number;
  }

  async function collect(storage: Storage, pageSize: number): Promise<number[]> {
    const ids: number[] = [];
    for await (const r of storage.repository(WalkRow).iterate({ orderBy: { unranked: "desc" } }, { pageSize })) ids.push(r.id);
    return ids;
  }

  test("an unindexed order is walked from one snapshot: a row written after the start is not yielded, a changed row comes as it was", async () => {
    const { storage, app } = await seeded(20);
    try {
      const repo = storage.repository(WalkRow);
      const walked: WalkRow[] = [];
      for await (const r of repo.iterate({ orderBy: { unranked: "asc" } }, { pageSize: 3 })) {
        if (walked.length === 0) {
          await repo.insert(row(100, 1000));
          await repo.update(20, { unranked: 999 });
          expect(await snapshotsHeld(app)).toBe(1);
        }
        walked.push(r);
      }
      expect(walked.map((r) => r.id)).toEqual(Array.from({ length: 20 }, (_, k) => k + 1));
      expect(walked.at(-1)).toMatchObject({ id: 20, unranked: 190 });
      expect(await snapshotsHeld(app)).toBe(0);
      // Inside a transaction the walk pages by keyset through it, its own writes included.
      await storage.transaction(async () => {
        const inside: number[] = [];
        for await (const r of repo.iterate({ orderBy: { unranked: "asc" } }, { pageSize: 3 })) inside.push(r.id);
        expect(inside.at(-1)).toBe(100);
      });
    } finally {
      await storage.close();
    }
  });

  test("the walk scans the table once whatever its rows, where keyset pages scan it once a page (doubling the rows at most doubles the work)", async () => {
    for (const count of [300, 600]) {
      const { storage, schema, url } = await seeded(count);
      // A server process reports its statistics when idle for a while or as it exits: each step closes its storage.
      await storage.close();
      const reopen = () => createStorage({ url, entities: [WalkRow], cache: false });
      const before = await settles(() => sequentialScans(schema), await sequentialScans(schema));
      const streaming = await reopen();
      expect(await collect(streaming, 10)).toHaveLength(count);
      await streaming.close();
      expect(await settles(() => sequentialScans(schema), before + 1)).toBe(before + 1);
      // The same walk inside a transaction (keyset pages) scans at least once a page: the count above can tell.
      const paging = await reopen();
      await paging.transaction(async () => void (await collect(paging, 10)));
      await paging.close();
      expect(await settles(async () => (await sequentialScans(schema)) - before - 1 >= count / 10, true)).toBe(true);
    }
  });

  test("with poolSize 1, the loop body writes while the walk streams: the walk's connection is its own", async () => {
    const { storage, app } = await seeded(30, { poolSize: 1 });
    try {
      const repo = storage.repository(WalkRow);
      const ids: number[] = [];
      for await (const r of repo.iterate({ orderBy: { unranked: "desc" } }, { pageSize: 4 })) {
        ids.push(r.id);
        await repo.update(r.id, { unranked: -r.id });
        await storage.transaction(async () => void (await repo.insert(row(1000 + r.id, 5))));
      }
      expect(ids).toEqual(Array.from({ length: 30 }, (_, k) => 30 - k));
      expect(await repo.count({ unranked: { $lt: 0 } })).toBe(30);
      expect(await repo.count()).toBe(60);
      expect(await snapshotsHeld(app)).toBe(0);
    } finally {
      await storage.close();
    }
  });

  test("break and a throw out of the loop let go of the snapshot at once; close() ends a walk under way, whose next page fails", async () => {
    const { storage, app } = await seeded(20);
    try {
      const repo = storage.repository(WalkRow);
      for await (const r of repo.iterate({ orderBy: { unranked: "desc" } }, { pageSize: 2 })) {
        expect(await snapshotsHeld(app)).toBe(1);
        if (r.id === 17) break;
      }
      expect(await settles(() => snapshotsHeld(app), 0)).toBe(0);
      await expect(
        (async () => {
          for await (const _ of repo.iterate({ orderBy: { unranked: "desc" } }, { pageSize: 2 })) throw new Error("stop");
        })(),
      ).rejects.toThrow("stop");
      expect(await settles(() => snapshotsHeld(app), 0)).toBe(0);
      const walk = repo.iterate({ orderBy: { unranked: "desc" } }, { pageSize: 2 })[Symbol.asyncIterator]();
      expect((await walk.next()).value).toMatchObject({ id: 20 });
      expect(await snapshotsHeld(app)).toBe(1);
      await storage.close();
      expect((await walk.next()).value).toMatchObject({ id: 19 });
      await expect(walk.next()).rejects.toThrow(ConnectionError);
      expect(await settles(() => connections(app), 0)).toBe(0);
    } finally {
      await storage.close();
    }
  });

  test("a walk dropped without return() lets go of its snapshot once its iterator is collected", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const { storage, app } = await seeded(20);
    try {
      await (async () => {
        const walk = storage.repository(WalkRow).iterate({ orderBy: { unranked: "desc" } }, { pageSize: 2 })[Symbol.asyncIterator]();
        expect((await walk.next()).value).toMatchObject({ id: 20 });
      })();
      expect(await snapshotsHeld(app)).toBe(1);
      let held = 1;
      for (let round = 0; round < 50 && held > 0; round++) {
        gc();
        await new Promise((resolve) => setTimeout(resolve, 20));
        held = await snapshotsHeld(app);
      }
      expect(held).toBe(0);
    } finally {
      await storage.close();
    }
  });

  test("a walk left idle longer than its timeout lets go of its snapshot, then goes on after its last row", async () => {
    const { storage, app } = await seeded(20);
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const repo = storage.repository(WalkRow);
      const walk = repo.iterate({ orderBy: { unranked: "desc" }, offset: 2, limit: 12 }, { pageSize: 3 })[Symbol.asyncIterator]();
      const ids: number[] = [];
      for (let k = 0; k < 3; k++) ids.push(((await walk.next()).value as WalkRow).id);
      expect(await snapshotsHeld(app)).toBe(1);
      vi.advanceTimersByTime(STREAM_IDLE_MS);
      vi.useRealTimers();
      expect(await settles(() => snapshotsHeld(app), 0)).toBe(0);
      // Read from a new snapshot: a row written meanwhile ahead of the position is reached, one behind it is not.
      await repo.insert(row(100, 1000));
      await repo.insert(row(101, 75));
      for (let r = await walk.next(); !r.done; r = await walk.next()) ids.push((r.value as WalkRow).id);
      expect(ids).toEqual([18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 101, 8]);
    } finally {
      vi.useRealTimers();
      await storage.close();
    }
  });

  test(`at most ${MAX_STREAM_CLIENTS} walks stream at once; one more walks by keyset pages`, async () => {
    const { storage, app } = await seeded(20);
    try {
      const repo = storage.repository(WalkRow);
      const walks = Array.from({ length: MAX_STREAM_CLIENTS + 1 }, () => repo.iterate({ orderBy: { unranked: "asc" } }, { pageSize: 2 })[Symbol.asyncIterator]());
      const ids: number[][] = [];
      for (const walk of walks) ids.push([((await walk.next()).value as WalkRow).id]);
      expect(await snapshotsHeld(app)).toBe(MAX_STREAM_CLIENTS);
      await repo.insert(row(100, 1000));
      for (const [k, walk] of walks.entries()) for (let r = await walk.next(); !r.done; r = await walk.next()) ids[k]!.push((r.value as WalkRow).id);
      const seeded20 = Array.from({ length: 20 }, (_, k) => k + 1);
      for (const walked of ids.slice(0, MAX_STREAM_CLIENTS)) expect(walked).toEqual(seeded20);
      expect(ids[MAX_STREAM_CLIENTS]).toEqual([...seeded20, 100]);
    } finally {
      await storage.close();
    }
  });

  test("storage.close() while a walk connects its client leaves no connection behind", async () => {
    // The close lands at each moment of the walk's start in turn: before its EXPLAIN, while its client connects, after its cursor opened.
    for (let waitMs = 0; waitMs <= 20; waitMs++) {
      const { storage, app } = await seeded(20);
      const walk = storage.repository(WalkRow).iterate({ orderBy: { unranked: "desc" } }, { pageSize: 2 })[Symbol.asyncIterator]();
      const first = walk.next().then(
        (r) => (r.value as WalkRow).id,
        (error: unknown) => error,
      );
      await new Promise((resolve) => setTimeout(resolve, waitMs));
      await storage.close();
      const outcome = await first;
      if (outcome !== 20) expect(outcome).toBeInstanceOf(ConnectionError);
      expect(await settles(() => connections(app), 0), `close after ${waitMs} ms`).toBe(0);
    }
  });
});
