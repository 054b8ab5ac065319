/**
 * A table named like an alias of Strata's own full-text statements (`u`, the alias of the unnested documents in
 * the refresh's update and in the search's waiting rows; `p`, the positions a phrase or a prefix counts): its
 * search still builds and reads the waiting rows and counts phrases, instead of failing with `table name "u"
 * specified more than once` or a missing column.
 */
import "reflect-metadata";
import pg from "pg";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createStorage } from "../../src/index.js";
import { backendSelected } from "../sql/sql-backend-cases.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "./pg-test-database.js";

@Entity("u")
@Index(["body"], { fulltext: true })
class ShortNamed {
  @PrimaryColumn({ type: "integer" }) id!: number;
  @Column({ type: "string" }) body!: string;
}

@Entity("p")
@Index(["body"], { fulltext: true })
class PositionNamed {
  @PrimaryColumn({ type: "integer" }) id!: number;
  @Column({ type: "string" }) body!: string;
}

const skip = backendSelected("postgres") ? pgSkipReason() : "postgres not selected";

describe.skipIf(skip !== undefined)("postgres: a full-text table named like an alias of Strata's statements", () => {
  let db: PgTestDatabase;
  beforeAll(async () => {
    db = await PgTestDatabase.create(PG_URL!);
  });
  afterAll(async () => {
    await db?.drop();
  });

  test('table "u": waiting rows the search writes itself, and one another transaction holds', async () => {
    const url = await db.freshSchemaUrl();
    const storage = await createStorage({ url, entities: [ShortNamed], autoCreate: true });
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      const repo = storage.repository(ShortNamed);
      await repo.saveMany([
        { id: 1, body: "a wombat in a burrow" },
        { id: 2, body: "a night owl" },
        { id: 3, body: "wombat owl" },
      ]);
      // Changed by a statement of the user's: their documents wait, and the next search builds them.
      await holder.query(`UPDATE "u" SET body = body || ' too'`);
      expect((await repo.search("wombat")).map((h) => h.entity.id).sort()).toEqual([1, 3]);
      await holder.query(`UPDATE "u" SET body = 'owl wombat' WHERE id = 2`);
      await holder.query("BEGIN");
      await holder.query(`SELECT * FROM "u" WHERE id = 2 FOR UPDATE`);
      expect((await repo.search("wombat")).map((h) => h.entity.id).sort()).toEqual([1, 2, 3]);
      expect((await storage.transaction(async () => repo.search("wombat"))).map((h) => h.entity.id).sort()).toEqual([1, 2, 3]);
    } finally {
      await holder.end();
      await storage.close();
    }
  });

  test('table "p": a phrase and a prefix, over rows as indexed and over a waiting row', async () => {
    const url = await db.freshSchemaUrl();
    const storage = await createStorage({ url, entities: [PositionNamed], autoCreate: true });
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      const repo = storage.repository(PositionNamed);
      await repo.saveMany([
        { id: 1, body: "a wombat owl in a burrow" },
        { id: 2, body: "a night owl" },
        { id: 3, body: "owl wombat" },
      ]);
      const ids = async (text: string) => (await repo.search(text)).map((h) => h.entity.id).sort();
      expect(await ids('"wombat owl"')).toEqual([1]);
      expect(await ids('"a wom"*')).toEqual([1]);
      await holder.query(`UPDATE "p" SET body = 'the wombat owl' WHERE id = 2`);
      await holder.query("BEGIN");
      await holder.query(`SELECT * FROM "p" WHERE id = 2 FOR UPDATE`);
      expect(await ids('"wombat owl"')).toEqual([1, 2]);
      expect(await ids('"the wom"*')).toEqual([2]);
    } finally {
      await holder.end();
      await storage.close();
    }
  });
});
