/**
 * A table of the user's named as a full-text index's GIN index would be (`fts_<table>` by default, or the
 * fitted name of a long one): autoCreate's `CREATE INDEX IF NOT EXISTS` would skip the index in silence and
 * every search would read the whole table. Refused with a SchemaError naming both, the user's table left as
 * it was; the same from a migration's m.createFullTextIndex.
 */
import "reflect-metadata";
import pg from "pg";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createStorage, SchemaError } from "../../src/index.js";
import type { Migration } from "../../src/index.js";
import { suffixedName } from "../../src/backends/sql/sql-table-statements.js";
import { backendSelected } from "../sql/sql-backend-cases.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "./pg-test-database.js";

@Entity("gin_docs")
@Index(["body"], { fulltext: true })
class Doc {
  @PrimaryColumn({ type: "string" }) id!: string;
  @Column({ type: "string" }) body!: string;
}

const LONG_TABLE = `gin_${"l".repeat(70)}`;

@Entity(LONG_TABLE)
@Index(["body"], { fulltext: true })
class LongDoc {
  @PrimaryColumn({ type: "string" }) id!: string;
  @Column({ type: "string" }) body!: string;
}

const skip = backendSelected("postgres") ? pgSkipReason() : "postgres not selected";

describe.skipIf(skip !== undefined)("postgres: full-text index and a user's table named as its GIN index", () => {
  let db: PgTestDatabase;
  beforeAll(async () => {
    db = await PgTestDatabase.create(PG_URL!);
  });
  afterAll(async () => {
    await db?.drop();
  });

  test.each([
    ["the default name", Doc, "gin_docs", "fts_gin_docs"],
    ["a long table's fitted name", LongDoc, LONG_TABLE, suffixedName(`fts_${LONG_TABLE}`, "")],
  ] as const)("autoCreate refuses it (%s) and leaves the user's rows", async (_, entity, table, index) => {
    const url = await db.freshSchemaUrl();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(`CREATE TABLE "${index}" (n integer)`);
      await client.query(`INSERT INTO "${index}" VALUES (42)`);
      const opened = createStorage({ url, entities: [entity], autoCreate: true });
      await expect(opened).rejects.toThrow(SchemaError);
      await expect(opened).rejects.toThrow(new RegExp(`"${index}".*"${table}"`));
      expect((await client.query(`SELECT n FROM "${index}"`)).rows).toEqual([{ n: 42 }]);
      // Renamed away, the index is made, and opened again as Strata's own.
      await client.query(`DROP TABLE "${index}"`);
      for (let i = 0; i < 2; i++) {
        const storage = await createStorage({ url, entities: [entity], autoCreate: true });
        await storage.close();
      }
      const made = await client.query(`SELECT indexdef FROM pg_indexes WHERE indexname = $1`, [index]);
      expect(made.rows[0]?.indexdef).toMatch(/USING gin/);
    } finally {
      await client.end();
    }
  });

  test("m.createFullTextIndex refuses it too", async () => {
    const url = await db.freshSchemaUrl();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(`CREATE TABLE "fts_gin_docs" (n integer)`);
      const migrations: Migration[] = [
        {
          version: 1,
          name: "docs",
          async up(m) {
            await m.createTable("gin_docs", { id: { type: "string", primary: true }, body: { type: "string" } });
            await m.createFullTextIndex("gin_docs", ["body"]);
          },
        },
      ];
      const storage = await createStorage({ url, entities: [Doc], migrations, autoCreate: false });
      try {
        // A MigrationError (the migration was rolled back) caused by the refusal.
        const failure: unknown = await storage.migrations.up().then(() => undefined, (error: unknown) => error);
        const cause = (failure as { cause?: unknown } | undefined)?.cause;
        expect(cause).toBeInstanceOf(SchemaError);
        expect((cause as Error).message).toMatch(/"fts_gin_docs".*"gin_docs"/);
        expect((await client.query(`SELECT to_regclass('gin_docs') AS t`)).rows).toEqual([{ t: null }]);
      } finally {
        await storage.close();
      }
    } finally {
      await client.end();
    }
  });

  test("autoCreate refuses an index of the user's on the same table holding the GIN index's name (or the waiting rows' index's)", async () => {
    for (const [name, column] of [["fts_gin_docs", "body"], ["fts_gin_docs__stale", "id"]] as const) {
      const url = await db.freshSchemaUrl();
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`CREATE TABLE gin_docs (id text COLLATE "C" PRIMARY KEY, body text NOT NULL)`);
        await client.query(`CREATE INDEX "${name}" ON gin_docs (${column})`);
        const opened = createStorage({ url, entities: [Doc], autoCreate: true });
        await expect(opened).rejects.toThrow(SchemaError);
        await expect(opened).rejects.toThrow(new RegExp(`"${name}".*"gin_docs"`));
      } finally {
        await client.end();
      }
    }
  });
});
