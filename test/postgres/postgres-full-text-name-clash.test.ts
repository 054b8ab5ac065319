/**
 * autoCreate beside a table of the user's named as a full-text index's table of totals would be
 * (`<table>__strata_fts_totals`): refused with a SchemaError naming it, as SQLite refuses `<table>__fts`;
 * the user's table is left as it was, and an index Strata made itself is still opened again.
 */
import "reflect-metadata";
import pg from "pg";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createStorage, SchemaError } from "../../src/index.js";
import { backendSelected } from "../sql/sql-backend-cases.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "./pg-test-database.js";

@Entity("clash_docs")
@Index(["body"], { fulltext: true })
class Doc {
  @PrimaryColumn({ type: "string" }) id!: string;
  @Column({ type: "string" }) body!: string;
}

/** A table name holding the dollar-quote tag Strata's trigger functions and DO blocks are written in. */
@Entity("dollar$strata$docs")
@Index(["body"], { fulltext: true })
class DollarDoc {
  @PrimaryColumn({ type: "string" }) id!: string;
  @Column({ type: "string" }) body!: string;
}

const skip = backendSelected("postgres") ? pgSkipReason() : "postgres not selected";

describe.skipIf(skip !== undefined)("postgres: full-text index and a user's table of the same name as its totals", () => {
  let db: PgTestDatabase;
  beforeAll(async () => {
    db = await PgTestDatabase.create(PG_URL!);
  });
  afterAll(async () => {
    await db?.drop();
  });

  test("autoCreate refuses to take the user's table over, and leaves its rows", async () => {
    const url = await db.freshSchemaUrl();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(`CREATE TABLE clash_docs__strata_fts_totals (rows bigint NOT NULL, tokens bigint NOT NULL)`);
      await client.query(`INSERT INTO clash_docs__strata_fts_totals VALUES (1000, 7)`);
      const opened = createStorage({ url, entities: [Doc], autoCreate: true });
      await expect(opened).rejects.toThrow(SchemaError);
      await expect(opened).rejects.toThrow(/clash_docs__strata_fts_totals/);
      expect((await client.query(`SELECT rows::int, tokens::int FROM clash_docs__strata_fts_totals`)).rows).toEqual([{ rows: 1000, tokens: 7 }]);
      // Renamed away, the index is made; a second open finds it Strata's own.
      await client.query(`DROP TABLE clash_docs__strata_fts_totals`);
      for (let i = 0; i < 2; i++) {
        const storage = await createStorage({ url, entities: [Doc], autoCreate: true });
        await storage.repository(Doc).save({ id: `a${i}`, body: "hello" });
        expect(await storage.repository(Doc).search("hello")).toHaveLength(i + 1);
        await storage.close();
      }
    } finally {
      await client.end();
    }
  });

  test("a table named with the dollar-quote tag ($strata$) gets its index: the tag is never closed by a name", async () => {
    const url = await db.freshSchemaUrl();
    for (let i = 0; i < 2; i++) {
      const storage = await createStorage({ url, entities: [DollarDoc], autoCreate: true });
      try {
        const repo = storage.repository(DollarDoc);
        await repo.saveMany([{ id: `a${i}`, body: "hello there" }, { id: `b${i}`, body: "goodbye" }]);
        await repo.delete(`b${i}`);
        expect((await repo.search("hello")).map((h) => h.entity.id)).toEqual(i === 0 ? ["a0"] : ["a0", "a1"]);
      } finally {
        await storage.close();
      }
    }
  });
});
