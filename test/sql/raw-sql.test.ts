/**
 * `storage.sql`: one statement of the user's on SQLite and PostgreSQL, values always bound, inside the
 * ambient transaction, rows as plain objects; a write drops the cache; refused statements and failures
 * are typed errors quoting the text; memory and file say they have no SQL.
 */
import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Column, Entity, PrimaryColumn } from "typeorm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Storage } from "../../src/index.js";
import { createStorage, IntegrityError, QueryError, UnsupportedError } from "../../src/index.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "../postgres/pg-test-database.js";

@Entity("raw_tasks")
class Task {
  @PrimaryColumn({ type: "string" }) id: string;
  @Column({ type: "string" }) title: string;
  @Column({ type: "boolean" }) done: boolean;
  @Column({ type: "datetime" }) due: Date;
}

const DUE = new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6));

const pgSkip = pgSkipReason();
let pgDatabase: PgTestDatabase | undefined;
const dir = mkdtempSync(path.join(tmpdir(), "strata-raw-sql-"));
beforeAll(async () => {
  if (!pgSkip) pgDatabase = await PgTestDatabase.create(PG_URL!);
});
afterAll(async () => {
  await pgDatabase?.drop();
  rmSync(dir, { recursive: true, force: true });
});

let opened = 0;
const backends: Array<{ name: string; skip?: string; url: () => Promise<string> }> = [
  { name: "sqlite", url: async () => `sqlite:${path.join(dir, `raw-${++opened}.db`)}` },
  { name: "sqlite::memory:", url: async () => "sqlite::memory:" },
  { name: "postgres", skip: pgSkip, url: () => pgDatabase!.freshSchemaUrl() },
];

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(`storage.sql on ${backend.name}`, () => {
    let storage: Storage;
    beforeAll(async () => {
      storage = await createStorage({ url: await backend.url(), entities: [Task], autoCreate: true, cache: { l1: { max: 1000 } } });
      const tasks = storage.repository(Task);
      await tasks.save({ id: "t1", title: "Write", done: false, due: DUE });
      await tasks.save({ id: "t2", title: "Ship", done: true, due: new Date(DUE.getTime() + 1) });
    });
    afterAll(() => storage?.close());

    test("binds each value and returns plain objects keyed by column", async () => {
      const rows = await storage.sql`select id, title from raw_tasks where title = ${"Ship"}`;
      expect(rows).toEqual([{ id: "t2", title: "Ship" }]);
      expect(Object.getPrototypeOf(rows[0])).toBe(Object.prototype);
      // A value that would break out of a quoted literal is only ever a value.
      expect(await storage.sql`select id from raw_tasks where title = ${"x' or '1'='1"}`).toEqual([]);
    });

    test("dates and booleans compare with what Strata stored", async () => {
      const rows = await storage.sql<{ id: string }>`select id from raw_tasks where due <= ${DUE} and done = ${false}`;
      expect(rows.map((r) => r.id)).toEqual(["t1"]);
    });

    test("runs inside the ambient transaction: sees its writes, and is rolled back with it", async () => {
      const tasks = storage.repository(Task);
      await expect(
        storage.transaction(async () => {
          await tasks.save({ id: "t3", title: "Draft", done: false, due: DUE });
          expect(await storage.sql`select id from raw_tasks where id = ${"t3"}`).toEqual([{ id: "t3" }]);
          await storage.sql`update raw_tasks set title = ${"Renamed"} where id = ${"t1"}`;
          throw new Error("give up");
        }),
      ).rejects.toThrow("give up");
      expect(await storage.sql`select id from raw_tasks where id = ${"t3"}`).toEqual([]);
      expect((await tasks.findById("t1"))?.title).toBe("Write");
    });

    test("a write drops what the cache holds, so no read is stale after it", async () => {
      const tasks = storage.repository(Task);
      expect((await tasks.findById("t2"))?.title).toBe("Ship");
      expect(await tasks.findAll({ where: { done: true }, cache: true })).toHaveLength(1);
      await storage.sql`update raw_tasks set title = ${"Shipped"}, done = ${false} where id = ${"t2"}`;
      expect((await tasks.findById("t2"))?.title).toBe("Shipped");
      expect(await tasks.findAll({ where: { done: true }, cache: true })).toEqual([]);
      await storage.sql`update raw_tasks set title = ${"Ship"}, done = ${true} where id = ${"t2"}`;
    });

    test("a write committed by a transaction drops the cache at the commit", async () => {
      const tasks = storage.repository(Task);
      expect((await tasks.findById("t1"))?.title).toBe("Write");
      await storage.transaction(() => storage.sql`update raw_tasks set title = ${"Written"} where id = ${"t1"}`);
      expect((await tasks.findById("t1"))?.title).toBe("Written");
    });

    test("refuses several statements, transaction control and undefined values, changing nothing", async () => {
      await expect(storage.sql`delete from raw_tasks; delete from raw_tasks`).rejects.toThrow(QueryError);
      await expect(storage.sql`/* hidden */ COMMIT`).rejects.toThrow(/COMMIT.*storage\.transaction/);
      await expect(storage.sql`  begin`).rejects.toThrow(QueryError);
      await expect(storage.sql`select id from raw_tasks where id = ${"t1"} or id = ${undefined}`).rejects.toThrow(/parameter 2 is undefined/);
      expect(await storage.sql`select count(*) as n from raw_tasks`).toEqual([{ n: backend.name === "postgres" ? "2" : 2 }]);
    });

    test("a statement the database refuses is a QueryError quoting it; a duplicate key an IntegrityError", async () => {
      const error = await storage.sql`selec id from raw_tasks`.catch((e: unknown) => e as QueryError);
      expect(error).toBeInstanceOf(QueryError);
      expect((error as Error).message).toContain("SQL: selec id from raw_tasks");
      await expect(storage.sql`insert into raw_tasks (id, title, done, due) values (${"t1"}, ${"x"}, ${true}, ${DUE})`).rejects.toThrow(IntegrityError);
    });

    test("called as a function rather than a tag, it says how to call it", async () => {
      const call = storage.sql as unknown as (text: string) => Promise<unknown>;
      await expect(call.call(storage, "select 1")).rejects.toThrow(/tagged template/);
    });
  });
}

describe("storage.sql on the engine backends", () => {
  for (const url of ["memory:", () => `file:${path.join(dir, "raw-file")}`] as const) {
    test(`is an UnsupportedError on ${typeof url === "string" ? url : "file:"}`, async () => {
      const storage = await createStorage({ url: typeof url === "string" ? url : url(), entities: [Task] });
      try {
        await expect(storage.sql`select 1`).rejects.toThrow(UnsupportedError);
        await expect(storage.sql`select 1`).rejects.toThrow(/needs a SQL backend/);
      } finally {
        await storage.close();
      }
    });
  }
});

describe("storage.sql refuses what is not a template", () => {
  test("an array of strings built by hand is refused like a plain string, and PREPARE says why", async () => {
    const storage = await createStorage({ url: "sqlite::memory:", entities: [Task], autoCreate: true });
    try {
      const call = storage.sql as unknown as (strings: readonly string[], ...values: unknown[]) => Promise<unknown>;
      await expect(call.call(storage, ["select 1"])).rejects.toThrow(/tagged template/);
      await expect(storage.sql`prepare p as select 1`).rejects.toThrow(/PREPARE.*connection state/);
      expect(await storage.sql`select 1 as one`).toEqual([{ one: 1 }]);
    } finally {
      await storage.close();
    }
  });
});
