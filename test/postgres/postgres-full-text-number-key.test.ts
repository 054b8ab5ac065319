/**
 * A full-text index on a table whose primary key is a `number` column (a double): the keys of waiting rows are
 * bound as an array of the key's own type, in the refresh that writes their documents and in the search that
 * builds the ones it may not write.
 */
import "reflect-metadata";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createStorage } from "../../src/index.js";
import { backendSelected } from "../sql/sql-backend-cases.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "./pg-test-database.js";

@Entity("number_key_docs")
@Index(["body"], { fulltext: true })
class Doc {
  @PrimaryColumn({ type: "number" }) id!: number;
  @Column({ type: "string" }) body!: string;
}

const skip = backendSelected("postgres") ? pgSkipReason() : "postgres not selected";

describe.skipIf(skip !== undefined)("postgres: full-text search on a table keyed by a number", () => {
  let db: PgTestDatabase;
  beforeAll(async () => {
    db = await PgTestDatabase.create(PG_URL!);
  });
  afterAll(async () => {
    await db?.drop();
  });

  test("waiting rows are found, written by a search and built by a read-only one, with the indexed scores", async () => {
    const url = await db.freshSchemaUrl();
    const storage = await createStorage({ url, entities: [Doc], autoCreate: true });
    try {
      const docs = storage.repository(Doc);
      await docs.saveMany([
        { id: 1.5, body: "wombat burrow" },
        { id: 2.25, body: "night owl" },
        { id: -3, body: "quoll" },
      ]);
      await storage.sql`UPDATE number_key_docs SET body = ${"bilby and wombat"} WHERE id = ${2.25}`;
      const search = async () => (await docs.search("wombat OR bilby")).map((h) => ({ id: h.entity.id, score: h.score }));
      const readOnly = await storage.transaction(async () => {
        await storage.sql`SET TRANSACTION READ ONLY`;
        return search();
      });
      const indexed = await search();
      expect(indexed.map((h) => h.id)).toEqual([2.25, 1.5]);
      expect(readOnly).toEqual(indexed);
      expect(await storage.sql`SELECT count(*)::int AS n FROM number_key_docs WHERE __strata_fts_doc IS NULL`).toEqual([{ n: 0 }]);
    } finally {
      await storage.close();
    }
  });
});
