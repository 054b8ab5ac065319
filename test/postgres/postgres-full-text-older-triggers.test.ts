/**
 * A database whose full-text index was made before an update's tokens were counted by a row trigger: its
 * `<table>__strata_fts_count_update` is a statement trigger calling the counting function. autoCreate replaces
 * that function; the trigger must not be left calling it for updates, whose totals it would reset to zero.
 */
import "reflect-metadata";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createStorage } from "../../src/index.js";
import { backendSelected } from "../sql/sql-backend-cases.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "./pg-test-database.js";

@Entity("older_docs")
@Index(["body"], { fulltext: true })
class Doc {
  @PrimaryColumn({ type: "integer" }) id!: number;
  @Column({ type: "string" }) body!: string;
}

const skip = backendSelected("postgres") ? pgSkipReason() : "postgres not selected";

describe.skipIf(skip !== undefined)("postgres: autoCreate over the full-text triggers of an earlier version", () => {
  let db: PgTestDatabase;
  beforeAll(async () => {
    db = await PgTestDatabase.create(PG_URL!);
  });
  afterAll(async () => {
    await db?.drop();
  });

  test("the update counter becomes the row trigger, and the totals follow updates", async () => {
    const url = await db.freshSchemaUrl();
    const first = await createStorage({ url, entities: [Doc], autoCreate: true });
    try {
      await first.repository(Doc).saveMany([
        { id: 1, body: "wombat burrow" },
        { id: 2, body: "night owl" },
      ]);
      // The earlier version's update counter: a statement trigger with tables of old and new rows.
      await first.sql`DROP TRIGGER older_docs__strata_fts_count_update ON older_docs`;
      await first.sql`CREATE TRIGGER older_docs__strata_fts_count_update AFTER UPDATE ON older_docs REFERENCING OLD TABLE AS strata_old NEW TABLE AS strata_new FOR EACH STATEMENT EXECUTE FUNCTION older_docs__strata_fts_count()`;
    } finally {
      await first.close();
    }
    const storage = await createStorage({ url, entities: [Doc], autoCreate: true });
    try {
      const docs = storage.repository(Doc);
      await docs.save({ id: 1, body: "a much longer wombat burrow than before" });
      await storage.sql`UPDATE older_docs SET body = ${"bilby"} WHERE id = ${2}`;
      await docs.search("wombat");
      const [totals] = await storage.sql`SELECT sum(rows)::int AS rows, sum(tokens)::int AS tokens FROM older_docs__strata_fts_totals`;
      expect(totals).toEqual({ rows: 2, tokens: 8 });
    } finally {
      await storage.close();
    }
  });
});
