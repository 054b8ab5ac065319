/**
 * The iterator `repo.iterate` returns, driven by hand as a caller of the async iteration protocol may: calls
 * that do not wait for each other, `return()` and `throw()` before, during and after a walk, errors. It
 * hands out a page's rows from a buffer (src/repository/row-walk.ts), not from an async generator, so what
 * the generator gave for free is checked here, on the streamed path (unindexed order) and the keyset one.
 */
import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { afterAll, describe, expect, test } from "vitest";
import { createStorage, ValidationError } from "../../src/index.js";
import type { Storage } from "../../src/index.js";

@Entity("walked_rows")
class WalkedRow {
  @PrimaryColumn({ type: "integer" }) id: number;
  @Index()
  @Column({ type: "integer" })
  ranked: number;
  @Column({ type: "integer" }) unranked: number;
  @Column({ type: "datetime" }) at: Date;
}

const dir = mkdtempSync(path.join(tmpdir(), "strata-iterate-walk-"));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function seeded(url: string): Promise<Storage> {
  const storage = await createStorage({ url, entities: [WalkedRow], autoCreate: true, cache: false });
  await storage.repository(WalkedRow).saveMany(Array.from({ length: 7 }, (_, k) => ({ id: k + 1, ranked: k, unranked: k, at: new Date(Date.UTC(2026, 0, 1 + k)) })));
  return storage;
}

const orders = [
  ["streamed (no index)", { unranked: "desc" }],
  ["keyset (index)", { ranked: "desc" }],
] as const;

for (const backend of ["memory", "sqlite"] as const) {
  const url = () => (backend === "memory" ? "memory:" : `sqlite:${path.join(dir, `walk${++n}.db`)}`);
  for (const [label, orderBy] of orders) {
    describe(`${backend}: iterate ${label}, the iterator driven by hand`, () => {
      test("next() called many times without waiting answers each in order across pages, then done, and done again", async () => {
        const storage = await seeded(url());
        try {
          const walk = storage.repository(WalkedRow).iterate({ orderBy }, { pageSize: 2 })[Symbol.asyncIterator]();
          const results = await Promise.all(Array.from({ length: 9 }, () => walk.next()));
          expect(results.map((r) => (r.done ? "done" : r.value.id))).toEqual([7, 6, 5, 4, 3, 2, 1, "done", "done"]);
          const first = results[0]!.value as WalkedRow;
          expect(first).toBeInstanceOf(WalkedRow);
          expect(first.at).toEqual(new Date(Date.UTC(2026, 0, 7)));
          expect(await walk.next()).toEqual({ value: undefined, done: true });
        } finally {
          await storage.close();
        }
      });

      test("return() mid-page ends the walk: later next() calls are done; return() before the first next() too", async () => {
        const storage = await seeded(url());
        try {
          const repo = storage.repository(WalkedRow);
          const walk = repo.iterate({ orderBy }, { pageSize: 3 })[Symbol.asyncIterator]();
          expect((await walk.next()).value).toMatchObject({ id: 7 });
          expect(await walk.return!()).toEqual({ value: undefined, done: true });
          expect(await walk.next()).toEqual({ value: undefined, done: true });
          const unstarted = repo.iterate({ orderBy })[Symbol.asyncIterator]();
          expect(await unstarted.return!()).toEqual({ value: undefined, done: true });
          expect(await unstarted.next()).toEqual({ value: undefined, done: true });
        } finally {
          await storage.close();
        }
      });

      test("throw() ends the walk and rejects with the error given", async () => {
        const storage = await seeded(url());
        try {
          const walk = storage.repository(WalkedRow).iterate({ orderBy }, { pageSize: 3 })[Symbol.asyncIterator]();
          await walk.next();
          await expect(walk.throw!(new Error("caller's"))).rejects.toThrow("caller's");
          expect(await walk.next()).toEqual({ value: undefined, done: true });
        } finally {
          await storage.close();
        }
      });

      test("a bad pageSize fails at the first next(), not at the call, and the walk is then done", async () => {
        const storage = await seeded(url());
        try {
          const walk = storage.repository(WalkedRow).iterate({ orderBy }, { pageSize: 0 })[Symbol.asyncIterator]();
          await expect(walk.next()).rejects.toThrow(ValidationError);
          expect(await walk.next()).toEqual({ value: undefined, done: true });
        } finally {
          await storage.close();
        }
      });

      test("an entity handed out shares nothing with storage: changing it (and its Date) changes no later read", async () => {
        const storage = await seeded(url());
        try {
          const repo = storage.repository(WalkedRow);
          for await (const row of repo.iterate({ orderBy }, { pageSize: 2 })) {
            row.at.setUTCFullYear(1999);
            row.unranked = -1;
          }
          const again = await repo.findAll({ orderBy: { id: "asc" } });
          expect(again.map((r) => [r.unranked, r.at.getUTCFullYear()])).toEqual(Array.from({ length: 7 }, (_, k) => [k, 2026]));
        } finally {
          await storage.close();
        }
      });
    });
  }
}

describe("sqlite: throw() on a streamed walk", () => {
  test("releases the walk's snapshot: a checkpoint can then empty the WAL", async () => {
    const file = path.join(dir, `walk${++n}.db`);
    const storage = await seeded(`sqlite:${file}`);
    const raw = new Database(file, { timeout: 0 });
    const checkpointBusy = () => (raw.pragma("wal_checkpoint(TRUNCATE)") as { busy: number }[])[0]!.busy;
    try {
      const repo = storage.repository(WalkedRow);
      const walk = repo.iterate({ orderBy: { unranked: "desc" } }, { pageSize: 2 })[Symbol.asyncIterator]();
      await walk.next();
      await repo.insert({ id: 100, ranked: 100, unranked: 100, at: new Date() });
      expect(checkpointBusy()).toBe(1);
      await expect(walk.throw!(new Error("stop"))).rejects.toThrow("stop");
      expect(checkpointBusy()).toBe(0);
    } finally {
      raw.close();
      await storage.close();
    }
  });
});
