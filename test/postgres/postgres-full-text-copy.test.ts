/**
 * `strata copy` of a table with a full-text index from SQLite to PostgreSQL and on to memory: the copy goes
 * through (PostgreSQL's hidden document columns are made with the index, after the rows), and every backend
 * answers the same searches with the same rows, scores and order.
 */
import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createStorage, readEntitySchema } from "../../src/index.js";
import { openBackend } from "../../src/conformance/index.js";
import { copyBackend } from "../../src/copy/copy-backend.js";
import { parseSearchQuery } from "../../src/search/search-parser.js";
import { backendSelected } from "../sql/sql-backend-cases.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "./pg-test-database.js";

@Entity("copy_docs")
@Index(["body", "title"], { fulltext: true })
class Doc {
  @PrimaryColumn({ type: "string" }) id!: string;
  @Column({ type: "string" }) title!: string;
  @Column({ type: "string", nullable: true }) body!: string | null;
}

const skip = backendSelected("postgres") && backendSelected("sqlite") ? pgSkipReason() : "postgres or sqlite not selected";

describe.skipIf(skip !== undefined)("copy: a full-text index from SQLite to PostgreSQL to memory", () => {
  let db: PgTestDatabase;
  beforeAll(async () => {
    db = await PgTestDatabase.create(PG_URL!);
  });
  afterAll(async () => {
    await db?.drop();
  });

  test("the copies answer every search as the source does", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "strata-fts-copy-"));
    const file = path.join(dir, "a.db");
    const words = "alpha beta gamma delta epsilon zeta eta theta iota kappa".split(" ");
    const storage = await createStorage({ url: `sqlite:${file}`, entities: [Doc], autoCreate: true });
    await storage.repository(Doc).saveMany(
      Array.from({ length: 60 }, (_, i) => ({ id: `d${i}`, title: `${words[i % 10]} ${words[(i * 3) % 10]}`, body: i % 4 === 0 ? null : `${words[(i * 7) % 10]} ${words[i % 10]} alpha` })),
    );
    await storage.close();
    const schema = readEntitySchema(Doc);
    const sqlite = await openBackend({ url: `sqlite:${file}` }, [schema]);
    const postgres = await openBackend({ url: await db.freshSchemaUrl() }, [schema]);
    const memory = await openBackend({ url: "memory:" });
    try {
      await copyBackend(sqlite, postgres);
      await copyBackend(postgres, memory);
      for (const text of ["alpha", "beta OR gamma", "alpha -beta", '"beta delta"', "del*"]) {
        const request = { query: parseSearchQuery(text), where: undefined, limit: 100, offset: 0 };
        const answer = async (backend: typeof sqlite) => (await backend.session.search!(schema, request)).map((h) => [h.row["id"], h.score.toFixed(9)]);
        const expected = await answer(sqlite);
        expect(expected.length, text).toBeGreaterThan(0);
        expect(await answer(postgres), text).toEqual(expected);
        expect(await answer(memory), text).toEqual(expected);
      }
    } finally {
      await Promise.all([sqlite.close(), postgres.close(), memory.close()]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
