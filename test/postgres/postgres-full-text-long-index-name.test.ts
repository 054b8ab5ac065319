/**
 * The default name of a full-text index, `fts_<table>`, for a table whose name is 60 bytes or more (ASCII,
 * or fewer characters of multibyte UTF-8): longer than PostgreSQL's 63 bytes, so cut by it, two such tables
 * sharing their first bytes would get one GIN index name. Each table must get its own index, and the index
 * must be made, searched, read back (nothing for generate) and dropped as any other.
 */
import "reflect-metadata";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { diffSchema } from "../../src/migrations/diff-schema.js";
import type { Migration, Storage } from "../../src/index.js";
import { createStorage, readEntitySchema } from "../../src/index.js";
import type { SchemaEditor } from "../../src/spi/index.js";
import { coreOf } from "../../src/storage-core.js";
import { backendSelected } from "../sql/sql-backend-cases.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "./pg-test-database.js";

// 61 bytes each, alike in their first 60: `fts_` and either name is 65 bytes, alike in the first 64.
const ASCII_ONE = `fts_long_${"a".repeat(51)}1`;
const ASCII_TWO = `fts_long_${"a".repeat(51)}2`;
// 62 bytes each (29 two-byte characters and 4 ASCII), alike in their first 60.
const WIDE_ONE = `${"ä".repeat(29)}_one`;
const WIDE_TWO = `${"ä".repeat(29)}_two`;

function entityOf(table: string): new () => { id: string; body: string } {
  @Entity(table)
  @Index(["body"], { fulltext: true })
  class Doc {
    @PrimaryColumn({ type: "string" }) id!: string;
    @Column({ type: "string" }) body!: string;
  }
  return Doc;
}

const skip = backendSelected("postgres") ? pgSkipReason() : "postgres not selected";

async function inTransaction<T>(storage: Storage, work: (editor: SchemaEditor) => Promise<T>): Promise<T> {
  const tx = await coreOf(storage).backend.begin();
  try {
    return await work(tx.schema!());
  } finally {
    await tx.rollback();
  }
}

/** The GIN indexes the catalog lists on `table`. */
async function ginIndexes(storage: Storage, table: string): Promise<number> {
  return inTransaction(storage, async (editor) => {
    const rows = (await editor.sql!(`SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND tablename = $1 AND indexdef LIKE '%USING gin%'`, [table])) as unknown[][];
    return Number(rows[0]![0]);
  });
}

describe.skipIf(skip !== undefined)("postgres: the default full-text index name of a long table name", () => {
  let db: PgTestDatabase;
  beforeAll(async () => {
    db = await PgTestDatabase.create(PG_URL!);
  });
  afterAll(async () => {
    await db?.drop();
  });

  test("autoCreate gives each table its own GIN index; both search; generate finds nothing to do", async () => {
    const entities = [ASCII_ONE, ASCII_TWO, WIDE_ONE, WIDE_TWO].map(entityOf);
    const storage = await createStorage({ url: await db.freshSchemaUrl(), entities, autoCreate: true });
    try {
      for (const [i, entity] of entities.entries()) {
        const repo = storage.repository(entity);
        await repo.save({ id: `r${i}`, body: `wombat number ${i}` });
        expect((await repo.search("wombat")).map((h) => h.entity.id)).toEqual([`r${i}`]);
        expect(await ginIndexes(storage, readEntitySchema(entity).table)).toBe(1);
      }
      expect(await inTransaction(storage, (editor) => diffSchema(entities.map((e) => readEntitySchema(e)), editor))).toEqual({ up: [], down: [], warnings: [] });
    } finally {
      await storage.close();
    }
  });

  test("migrations make both tables' indexes with the default name, and drop them", async () => {
    const migrations: Migration[] = [
      {
        version: 1,
        name: "create",
        async up(m) {
          for (const table of [ASCII_ONE, ASCII_TWO]) {
            await m.createTable(table, { id: { type: "string", primary: true }, body: { type: "string" } });
            await m.createFullTextIndex(table, ["body"]);
          }
        },
        async down(m) {
          for (const table of [ASCII_ONE, ASCII_TWO]) await m.dropTable(table);
        },
      },
      {
        version: 2,
        name: "drop-index",
        async up(m) {
          for (const table of [ASCII_ONE, ASCII_TWO]) await m.dropFullTextIndex(table);
        },
        async down(m) {
          for (const table of [ASCII_ONE, ASCII_TWO]) await m.createFullTextIndex(table, ["body"]);
        },
      },
    ];
    const entities = [ASCII_ONE, ASCII_TWO].map(entityOf);
    const storage = await createStorage({ url: await db.freshSchemaUrl(), entities, migrations, autoCreate: false });
    try {
      await storage.migrations.up({ to: 1 });
      for (const [i, entity] of entities.entries()) {
        const repo = storage.repository(entity);
        await repo.save({ id: `m${i}`, body: "bilby burrow" });
        expect((await repo.search("bilby")).map((h) => h.entity.id)).toEqual([`m${i}`]);
        expect(await ginIndexes(storage, readEntitySchema(entity).table)).toBe(1);
      }
      expect(await inTransaction(storage, (editor) => diffSchema(entities.map((e) => readEntitySchema(e)), editor))).toEqual({ up: [], down: [], warnings: [] });
      await storage.migrations.up();
      for (const entity of entities) {
        expect(await ginIndexes(storage, readEntitySchema(entity).table)).toBe(0);
        expect((await inTransaction(storage, (editor) => editor.describeTable(readEntitySchema(entity).table)))?.fullText).toBeUndefined();
      }
      await storage.migrations.down({ to: 1 });
      for (const entity of entities) expect(await ginIndexes(storage, readEntitySchema(entity).table)).toBe(1);
    } finally {
      await storage.close();
    }
  });
});
