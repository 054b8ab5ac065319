/**
 * Entity columns named like the names a PostgreSQL search brings into scope (its statistics, frequencies
 * and score: `strata_score`, `strata_n`, `strata_avgdl`, `strata_h0`, `strata_f0`): a where on them filters
 * by the columns, and the order is by the score.
 */
import "reflect-metadata";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createStorage } from "../../src/index.js";
import { backendSelected } from "../sql/sql-backend-cases.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "./pg-test-database.js";

@Entity("names_scored")
@Index(["body"], { fulltext: true })
class Scored {
  @PrimaryColumn({ type: "string" }) id!: string;
  @Column({ type: "string" }) body!: string;
  @Column({ type: "string" }) strata_score!: string;
  @Column({ type: "integer" }) strata_n!: number;
  @Column({ type: "integer" }) strata_avgdl!: number;
  @Column({ type: "integer" }) strata_h0!: number;
  @Column({ type: "integer" }) strata_f0!: number;
}

const skip = backendSelected("postgres") ? pgSkipReason() : "postgres not selected";

describe.skipIf(skip !== undefined)("postgres: full-text search and column names", () => {
  let db: PgTestDatabase;
  beforeAll(async () => {
    db = await PgTestDatabase.create(PG_URL!);
  });
  afterAll(async () => {
    await db?.drop();
  });

  test("a where on columns named like the search's own names filters by the columns, best first", async () => {
    const storage = await createStorage({ url: await db.freshSchemaUrl(), entities: [Scored], autoCreate: true });
    try {
      const repo = storage.repository(Scored);
      await repo.saveMany([
        { id: "a", body: "hello there", strata_score: "x", strata_n: 1, strata_avgdl: 1, strata_h0: 1, strata_f0: 1 },
        { id: "b", body: "hello hello world", strata_score: "y", strata_n: 2, strata_avgdl: 2, strata_h0: 2, strata_f0: 2 },
        { id: "c", body: "goodbye", strata_score: "y", strata_n: 2, strata_avgdl: 2, strata_h0: 2, strata_f0: 2 },
      ]);
      for (const column of ["strata_n", "strata_avgdl", "strata_h0", "strata_f0"] as const) {
        expect((await repo.search("hello", { where: { [column]: 1 } })).map((h) => h.entity.id), column).toEqual(["a"]);
      }
      const hits = await repo.search("hello", { where: { strata_score: "y" } });
      expect(hits.map((h) => h.entity)).toEqual([{ id: "b", body: "hello hello world", strata_score: "y", strata_n: 2, strata_avgdl: 2, strata_h0: 2, strata_f0: 2 }]);
      expect(hits[0]!.score).toBeGreaterThan(0);
      expect((await repo.search("hello")).map((h) => h.entity.id)).toEqual(["b", "a"]);
    } finally {
      await storage.close();
    }
  });
});
