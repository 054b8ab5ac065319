/**
 * Which path `repo.iterate` takes, seen from what a walk yields while rows are written: outside a
 * transaction, an order no index serves is streamed from one snapshot (SQLite on a WAL file, memory,
 * file: `DataSession.stream`), where an index serves the order, inside a transaction, and on SQLite in
 * journal mode delete it pages by keyset. Then what a SQLite walk holds (its read snapshot) and when it
 * lets go. The rows a walk yields, on every backend, are in the conformance suite (keyset-tests.ts).
 */
import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, describe, expect, test, vi } from "vitest";
import { ConnectionError, createStorage } from "../../src/index.js";
import type { Storage } from "../../src/index.js";
import { STREAM_IDLE_MS } from "../../src/backends/sql/sql-stream-walk.js";
import { MAX_STREAM_READERS } from "../../src/backends/sqlite/sqlite-streamer.js";

@Entity("walk_rows")
class WalkRow {
  @PrimaryColumn({ type: "integer" }) id: number;
  @Index()
  @Column({ type: "integer" })
  ranked: number;
  @Column({ type: "integer" }) unranked: number;
}

const dir = mkdtempSync(path.join(tmpdir(), "strata-iterate-"));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const row = (id: number, value: number): WalkRow => ({ id, ranked: value, unranked: value });

/** The collector, for the abandoned-walk test (the flag set at run time gives a fresh context its `gc`). */
function collectGarbage(): () => void {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}

async function seeded(url: string, options: { sqlite?: { journalMode: "wal" | "delete" } } = {}): Promise<Storage> {
  const storage = await createStorage({ url, entities: [WalkRow], autoCreate: true, cache: false, ...options });
  await storage.repository(WalkRow).saveMany(Array.from({ length: 20 }, (_, k) => row(k + 1, k * 10)));
  return storage;
}

/**
 * Walks `orderBy` (ascending, pageSize 3) and, at the first row, inserts a row that sorts last and changes
 * row 20 (last too): what comes out tells a snapshot (neither seen) from keyset pages (both seen).
 */
async function walkWhileWriting(storage: Storage, column: "ranked" | "unranked"): Promise<{ ids: number[]; last: WalkRow | undefined }> {
  const repo = storage.repository(WalkRow);
  const walked: WalkRow[] = [];
  for await (const r of repo.iterate({ orderBy: { [column]: "asc" } }, { pageSize: 3 })) {
    if (walked.length === 0) {
      await repo.insert(row(100, 1000));
      await repo.update(20, { ranked: 999, unranked: 999 });
    }
    walked.push(r);
  }
  return { ids: walked.map((r) => r.id), last: walked.at(-1) };
}

const seededIds = Array.from({ length: 20 }, (_, k) => k + 1);

const backends = [
  ["sqlite (WAL file)", () => `sqlite:${path.join(dir, `walk${++n}.db`)}`],
  ["sqlite (:memory:)", () => "sqlite::memory:"],
  ["memory", () => "memory:"],
  ["file", () => `file:${path.join(dir, `files${++n}`)}`],
] as const;

for (const [label, url] of backends) {
  describe(`${label}: iterate's path`, () => {
    test("outside a transaction, an unindexed order is walked from one snapshot: a row written after the start is not yielded, a changed row comes as it was", async () => {
      const storage = await seeded(url());
      try {
        const { ids, last } = await walkWhileWriting(storage, "unranked");
        expect(ids).toEqual(seededIds);
        expect(last).toMatchObject({ id: 20, unranked: 190 });
      } finally {
        await storage.close();
      }
    });

    test("an indexed order, and any walk inside a transaction, page by keyset: rows written ahead of the position are reached", async () => {
      const storage = await seeded(url());
      try {
        expect((await walkWhileWriting(storage, "ranked")).ids).toEqual([...seededIds, 100]);
        const repo = storage.repository(WalkRow);
        await repo.delete(100);
        await repo.update(20, { ranked: 190, unranked: 190 });
        // Inside a transaction the walk reads through it, its own writes included.
        await storage.transaction(async () => {
          expect((await walkWhileWriting(storage, "unranked")).ids).toEqual([...seededIds, 100]);
        });
      } finally {
        await storage.close();
      }
    });
  });
}

describe("sqlite: a streamed walk's snapshot", () => {
  test("holds the WAL while the walk is under way, and break lets go of it: a checkpoint can then empty the WAL", async () => {
    const file = path.join(dir, `walk${++n}.db`);
    const storage = await seeded(`sqlite:${file}`);
    // timeout 0: a checkpoint that readers hold back reports busy at once instead of waiting.
    const raw = new Database(file, { timeout: 0 });
    const checkpointBusy = () => (raw.pragma("wal_checkpoint(TRUNCATE)") as { busy: number }[])[0]!.busy;
    try {
      const repo = storage.repository(WalkRow);
      let pulled = 0;
      for await (const _ of repo.iterate({ orderBy: { unranked: "desc" } }, { pageSize: 2 })) {
        if (++pulled === 1) {
          // A commit after the walk's snapshot: the WAL cannot be emptied while the walk may still read before it.
          await repo.insert(row(100, 1000));
          expect(checkpointBusy()).toBe(1);
        }
        if (pulled === 5) break;
      }
      expect(checkpointBusy()).toBe(0);
      // A throw out of the loop lets go too.
      await expect(
        (async () => {
          for await (const _ of repo.iterate({ orderBy: { unranked: "desc" } }, { pageSize: 2 })) {
            await repo.insert(row(101, 1001));
            throw new Error("stop");
          }
        })(),
      ).rejects.toThrow("stop");
      expect(checkpointBusy()).toBe(0);
    } finally {
      raw.close();
      await storage.close();
    }
  });

  test("storage.close() during a walk resolves, and the walk's next page fails as closed instead of ending short", async () => {
    const storage = await seeded(`sqlite:${path.join(dir, `walk${++n}.db`)}`);
    const walk = storage.repository(WalkRow).iterate({ orderBy: { unranked: "desc" } }, { pageSize: 2 })[Symbol.asyncIterator]();
    expect((await walk.next()).value).toMatchObject({ id: 20 });
    await storage.close();
    expect((await walk.next()).value).toMatchObject({ id: 19 });
    await expect(walk.next()).rejects.toThrow(ConnectionError);
  });

  test("storage.close() while a walk's first page waits out a busy database: the walk fails as closed and its connection is closed", async () => {
    const storage = await seeded(`sqlite:${path.join(dir, `walk${++n}.db`)}`);
    // The database answers the walk's select busy (as while another process holds a lock) until `busy` is
    // cleared: the walk's start then waits, retrying, with its own connection open, while close() runs.
    const probe = new Database(":memory:");
    const statements = Object.getPrototypeOf(probe.prepare("SELECT 1")) as { iterate(this: Database.Statement, ...params: unknown[]): IterableIterator<unknown> };
    probe.close();
    const iterate = statements.iterate;
    let busy = true;
    let walkConnection: Database.Database | undefined;
    let refused!: () => void;
    const waiting = new Promise<void>((resolve) => (refused = resolve));
    const spy = vi.spyOn(statements, "iterate").mockImplementation(function (this: Database.Statement, ...params: unknown[]) {
      if (busy) {
        walkConnection = this.database;
        refused();
        throw new Database.SqliteError("database is locked", "SQLITE_BUSY");
      }
      return iterate.apply(this, params);
    });
    const walk = storage.repository(WalkRow).iterate({ orderBy: { unranked: "desc" } }, { pageSize: 2 })[Symbol.asyncIterator]();
    try {
      const first = walk.next();
      await waiting;
      await storage.close();
      busy = false;
      await expect(first).rejects.toThrow(ConnectionError);
      expect(walkConnection?.open).toBe(false);
    } finally {
      spy.mockRestore();
      await walk.return?.();
    }
  });

  test("in journal mode delete, where a long read would lock writers out, walks page by keyset", async () => {
    const storage = await seeded(`sqlite:${path.join(dir, `walk${++n}.db`)}`, { sqlite: { journalMode: "delete" } });
    try {
      expect((await walkWhileWriting(storage, "unranked")).ids).toEqual([...seededIds, 100]);
    } finally {
      await storage.close();
    }
  });

  /** A checkpoint that a walk's snapshot holds back reports busy (timeout 0: at once instead of waiting). */
  function checkpointer(file: string): { busy(): number; close(): void } {
    const raw = new Database(file, { timeout: 0 });
    return { busy: () => (raw.pragma("wal_checkpoint(TRUNCATE)") as { busy: number }[])[0]!.busy, close: () => raw.close() };
  }

  test("a walk dropped without return() lets go of its snapshot once its iterator is collected", async () => {
    const gc = collectGarbage();
    const file = path.join(dir, `walk${++n}.db`);
    const storage = await seeded(`sqlite:${file}`);
    const checkpoint = checkpointer(file);
    try {
      const repo = storage.repository(WalkRow);
      // In a function of its own, so that nothing on this stack keeps the iterator.
      await (async () => {
        const walk = repo.iterate({ orderBy: { unranked: "desc" } }, { pageSize: 2 })[Symbol.asyncIterator]();
        expect((await walk.next()).value).toMatchObject({ id: 20 });
      })();
      await repo.insert(row(100, 1000));
      expect(checkpoint.busy()).toBe(1);
      for (let round = 0; round < 50 && checkpoint.busy() === 1; round++) {
        gc();
        // Finalization callbacks run as tasks of their own, after this one.
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(checkpoint.busy()).toBe(0);
    } finally {
      checkpoint.close();
      await storage.close();
    }
  });

  test("a walk left idle longer than its timeout lets go of its snapshot, then goes on after its last row: each row once, in order", async () => {
    const file = path.join(dir, `walk${++n}.db`);
    const storage = await seeded(`sqlite:${file}`);
    const checkpoint = checkpointer(file);
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const repo = storage.repository(WalkRow);
      // offset and limit apply to the whole walk, across the restart: ids 18 down to 7.
      const walk = repo.iterate({ orderBy: { unranked: "desc" }, offset: 2, limit: 12 }, { pageSize: 3 })[Symbol.asyncIterator]();
      const ids: number[] = [];
      for (let k = 0; k < 3; k++) ids.push(((await walk.next()).value as WalkRow).id);
      await repo.insert(row(100, 1000));
      expect(checkpoint.busy()).toBe(1);
      vi.advanceTimersByTime(STREAM_IDLE_MS - 1);
      expect(checkpoint.busy()).toBe(1);
      vi.advanceTimersByTime(1);
      expect(checkpoint.busy()).toBe(0);
      // The rest is read from a new snapshot: a row written meanwhile ahead of the position is reached, one behind it is not.
      await repo.insert(row(101, 75));
      for (let r = await walk.next(); !r.done; r = await walk.next()) ids.push((r.value as WalkRow).id);
      expect(ids).toEqual([18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 101, 8]);
    } finally {
      vi.useRealTimers();
      checkpoint.close();
      await storage.close();
    }
  });

  test(`at most ${MAX_STREAM_READERS} walks stream at once; one more walks by keyset pages, and the next walk streams again`, async () => {
    const storage = await seeded(`sqlite:${path.join(dir, `walk${++n}.db`)}`);
    try {
      const repo = storage.repository(WalkRow);
      const walks = Array.from({ length: MAX_STREAM_READERS + 1 }, () => repo.iterate({ orderBy: { unranked: "asc" } }, { pageSize: 2 })[Symbol.asyncIterator]());
      const ids: number[][] = [];
      for (const walk of walks) ids.push([((await walk.next()).value as WalkRow).id]);
      await repo.insert(row(100, 1000));
      for (const [k, walk] of walks.entries()) for (let r = await walk.next(); !r.done; r = await walk.next()) ids[k]!.push((r.value as WalkRow).id);
      for (const walked of ids.slice(0, MAX_STREAM_READERS)) expect(walked).toEqual(seededIds);
      expect(ids[MAX_STREAM_READERS]).toEqual([...seededIds, 100]);
      await repo.delete(100);
      expect((await walkWhileWriting(storage, "unranked")).ids).toEqual(seededIds);
    } finally {
      await storage.close();
    }
  });
});
