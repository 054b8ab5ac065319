/**
 * A full-text index on a table whose name is long: the names of the objects it makes (`<table>__strata_fts_count_insert`,
 * ...) would pass PostgreSQL's 63 bytes and be cut to one name, leaving the index with one counting trigger
 * of four. Its totals (BM25's N and average length) must follow deletes as they do for a short name.
 */
import "reflect-metadata";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createStorage } from "../../src/index.js";
import { backendSelected } from "../sql/sql-backend-cases.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "./pg-test-database.js";

@Entity("long_name_docs")
@Index(["body"], { fulltext: true })
class Short {
  @PrimaryColumn({ type: "string" }) id!: string;
  @Column({ type: "string" }) body!: string;
}

@Entity(`long_name_docs_${"x".repeat(40)}`)
@Index(["body"], { fulltext: true })
class Long {
  @PrimaryColumn({ type: "string" }) id!: string;
  @Column({ type: "string" }) body!: string;
}

const skip = backendSelected("postgres") ? pgSkipReason() : "postgres not selected";

describe.skipIf(skip !== undefined)("postgres: full-text index of a table with a long name", () => {
  let db: PgTestDatabase;
  beforeAll(async () => {
    db = await PgTestDatabase.create(PG_URL!);
  });
  afterAll(async () => {
    await db?.drop();
  });

  test("after inserts, updates, deletes and a truncate, its scores equal a short-named table's; it opens again", async () => {
    const url = await db.freshSchemaUrl();
    const rows = [
      { id: "a", body: "hello there" },
      { id: "b", body: "hello hello world" },
      { id: "c", body: "goodbye old world" },
      { id: "d", body: "nothing here at all" },
    ];
    const scores = async (): Promise<number[][]> => {
      const storage = await createStorage({ url, entities: [Short, Long], autoCreate: true });
      try {
        const out: number[][] = [];
        for (const entity of [Short, Long] as const) {
          const repo = storage.repository<{ id: string; body: string }>(entity);
          await repo.saveMany(rows);
          await repo.delete("d");
          await repo.update("c", { body: "goodbye" });
          out.push((await repo.search("hello OR goodbye")).map((h) => h.score));
        }
        return out;
      } finally {
        await storage.close();
      }
    };
    const [short, long] = await scores();
    expect(long).toEqual(short);
    // A second open finds every object made (none is made twice, none is missing) and counts as before.
    const [shortAgain, longAgain] = await scores();
    expect(longAgain).toEqual(shortAgain);
  });
});
