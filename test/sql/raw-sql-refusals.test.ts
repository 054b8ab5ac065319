/**
 * Review of `storage.sql`: transaction control hidden from the first-word check (a leading semicolon, a
 * PostgreSQL nested comment, a `--` comment ended by a carriage return) must still be refused inside a
 * transaction; a PostgreSQL write the command tag calls a SELECT or an EXPLAIN (a data-modifying CTE,
 * EXPLAIN ANALYZE) must still drop the cache.
 */
import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Column, Entity, PrimaryColumn } from "typeorm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Storage } from "../../src/index.js";
import { createStorage, QueryError } from "../../src/index.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "../postgres/pg-test-database.js";

@Entity("rvd_raw_notes")
class Note {
  @PrimaryColumn({ type: "string" }) id: string;
  @Column({ type: "string" }) title: string;
}

const pgSkip = pgSkipReason();
let pgDatabase: PgTestDatabase | undefined;
const dir = mkdtempSync(path.join(tmpdir(), "rvd-raw-sql-"));
beforeAll(async () => {
  if (!pgSkip) pgDatabase = await PgTestDatabase.create(PG_URL!);
});
afterAll(async () => {
  await pgDatabase?.drop();
  rmSync(dir, { recursive: true, force: true });
});

const backends: Array<{ name: string; skip?: string; url: () => Promise<string> }> = [
  { name: "sqlite", url: async () => `sqlite:${path.join(dir, "raw.db")}` },
  { name: "postgres", skip: pgSkip, url: () => pgDatabase!.freshSchemaUrl() },
];

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(`${backend.name}: storage.sql under attack`, () => {
    let storage: Storage;
    beforeAll(async () => {
      storage = await createStorage({ url: await backend.url(), entities: [Note], autoCreate: true, cache: { l1: { max: 100 } } });
      await storage.repository(Note).save({ id: "n1", title: "First" });
    });
    afterAll(() => storage?.close());

    const hidden: Array<[string, (s: Storage) => Promise<unknown>]> = [
      ["a leading semicolon", (s) => s.sql`;COMMIT`],
      ["a comment, then a semicolon", (s) => s.sql`-- end it\n; commit`],
      ["a -- comment ended by a carriage return", (s) => s.sql`-- end it\rCOMMIT`],
      ["a nested block comment", (s) => s.sql`/* outer /* inner */ still a comment */ COMMIT`],
    ];
    for (const [how, statement] of hidden) {
      test(`COMMIT behind ${how} is refused inside a transaction, which then rolls back whole`, async () => {
        const notes = storage.repository(Note);
        const id = `tx-${how.replace(/\W+/g, "-")}`;
        const error = await storage
          .transaction(async () => {
            await notes.save({ id, title: "must not survive" });
            await statement(storage);
          })
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(QueryError);
        expect((error as Error).message).toMatch(/COMMIT.*is refused/);
        expect(await notes.findById(id)).toBeNull();
        expect(await storage.sql`select id from rvd_raw_notes where id = ${id}`).toEqual([]);
      });
    }
  });
}

describe.skipIf(pgSkip !== undefined)("postgres: storage.sql writes the command tag does not show", () => {
  let storage: Storage;
  beforeAll(async () => {
    storage = await createStorage({ url: await pgDatabase!.freshSchemaUrl(), entities: [Note], autoCreate: true, cache: { l1: { max: 100 } } });
  });
  afterAll(() => storage?.close());

  test("an UPDATE inside a WITH, selected from, drops the cached entity", async () => {
    const notes = storage.repository(Note);
    await notes.save({ id: "cte", title: "Before" });
    expect((await notes.findById("cte"))?.title).toBe("Before");
    const rows = await storage.sql`with changed as (update rvd_raw_notes set title = ${"After"} where id = ${"cte"} returning id) select id from changed`;
    expect(rows).toEqual([{ id: "cte" }]);
    expect((await notes.findById("cte"))?.title).toBe("After");
  });

  test("a DELETE inside a WITH drops the cached queries", async () => {
    const notes = storage.repository(Note);
    await notes.save({ id: "gone", title: "Doomed" });
    expect(await notes.findAll({ where: { title: "Doomed" }, cache: true })).toHaveLength(1);
    await storage.sql`with gone as (delete from rvd_raw_notes where id = ${"gone"} returning id) select count(*) as n from gone`;
    expect(await notes.findAll({ where: { title: "Doomed" }, cache: true })).toEqual([]);
  });

  test("EXPLAIN ANALYZE runs its UPDATE, and so drops the cache", async () => {
    const notes = storage.repository(Note);
    await notes.save({ id: "explained", title: "Before" });
    expect((await notes.findById("explained"))?.title).toBe("Before");
    await storage.sql`explain analyze update rvd_raw_notes set title = ${"After"} where id = ${"explained"}`;
    expect((await notes.findById("explained"))?.title).toBe("After");
  });
});
