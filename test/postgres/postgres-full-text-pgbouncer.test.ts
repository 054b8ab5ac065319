/**
 * Full-text search through PgBouncer (transaction pooling, unnamed statements) over rows whose documents wait
 * and which another transaction holds locked: found, with the scores they get once indexed.
 */
import "reflect-metadata";
import pg from "pg";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { afterAll, describe, expect, test } from "vitest";
import { createStorage } from "../../src/index.js";
import { PgBouncerDatabases, pgbouncerSkipReason } from "./pgbouncer-test-databases.js";

@Entity("pooled_docs")
@Index(["body"], { fulltext: true })
class Doc {
  @PrimaryColumn({ type: "integer" }) id!: number;
  @Column({ type: "string" }) body!: string;
}

const skip = pgbouncerSkipReason();
if (skip) {
  describe("postgres-pgbouncer: full-text search over locked waiting rows", () => test.skip(skip, () => {}));
} else {
  const databases = new PgBouncerDatabases();
  afterAll(async () => {
    await databases.dropAll();
  });

  describe("postgres-pgbouncer: full-text search over locked waiting rows", () => {
    test("a search through the pooler (poolSize 1) finds a row another transaction holds, as indexed", async () => {
      const db = await databases.create();
      const storage = await createStorage({ url: db.pooledUrl, entities: [Doc], autoCreate: true, poolSize: 1, postgres: { pooler: "pgbouncer", directUrl: db.directUrl } });
      const other = new pg.Client({ connectionString: db.directUrl });
      await other.connect();
      try {
        const docs = storage.repository(Doc);
        await docs.saveMany([
          { id: 1, body: "wombat burrow" },
          { id: 2, body: "night owl" },
          { id: 3, body: "quoll" },
        ]);
        await storage.sql`UPDATE pooled_docs SET body = ${"bilby and wombat in a burrow"} WHERE id = ${3}`;
        const search = async () => (await docs.search("wombat OR bilby")).map((h) => ({ id: h.entity.id, score: h.score }));
        await other.query("BEGIN");
        await other.query("SELECT * FROM pooled_docs WHERE id = 3 FOR UPDATE");
        const whileLocked = [await search(), await search()];
        await other.query("COMMIT");
        const indexed = await search();
        expect(indexed.map((h) => h.id)).toEqual([3, 1]);
        expect(whileLocked).toEqual([indexed, indexed]);
      } finally {
        await other.end();
        await storage.close();
      }
    });
  });
}
