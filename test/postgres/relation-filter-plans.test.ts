/**
 * Relation filters on PostgreSQL: the EXISTS subquery a relation filter compiles to is served by the index
 * every foreign key gets (idx_<table>_<column>), and the target's primary key for a to-one, checked with
 * EXPLAIN on analyzed tables of 2,000 authors, 2,000 posts and 20,000 comments, for a query whose own
 * conditions keep few rows (else a hash join over the whole related table is the better plan, and
 * PostgreSQL rightly takes it); and the rows are the contract's.
 */
import "reflect-metadata";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { postgresDialect } from "../../src/backends/postgres/postgres-dialect.js";
import { compileCount, compileFind } from "../../src/backends/sql/sql-query-compiler.js";
import { makeRowCodec } from "../../src/backends/sql/sql-row-codec.js";
import { RELATION_FILTER_ENTITIES, RfAuthor, RfComment, RfPost } from "../../src/conformance/relation-filter-tests.js";
import { createStorage, readEntitySchema } from "../../src/index.js";
import type { Storage } from "../../src/index.js";
import { normalizeQuery, normalizeWhere } from "../../src/query/normalize-query.js";
import { backendSelected } from "../sql/sql-backend-cases.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "./pg-test-database.js";

const POSTS = 2_000;
const COMMENTS_PER_POST = 10;
const AUTHORS = 2_000;
const skip = backendSelected("postgres") ? pgSkipReason() : "BACKENDS excludes postgres";

describe.skipIf(skip !== undefined)("postgres: relation filter plans", () => {
  let db: PgTestDatabase;
  let client: pg.Client;
  let storage: Storage;
  const schema = readEntitySchema(RfPost);
  const codec = makeRowCodec(schema, postgresDialect);
  beforeAll(async () => {
    db = await PgTestDatabase.create(PG_URL!);
    const url = await db.freshSchemaUrl();
    storage = await createStorage({ url, entities: RELATION_FILTER_ENTITIES, autoCreate: true, cache: false });
    await storage.repository(RfAuthor).saveMany(Array.from({ length: AUTHORS }, (_, a) => Object.assign(new RfAuthor(), { id: `a${a}`, name: `name${a}`, rank: a % 7 })));
    await storage.repository(RfPost).saveMany(Array.from({ length: POSTS }, (_, p) => Object.assign(new RfPost(), { id: p + 1, title: `t${p % 50}`, authorId: `a${p % AUTHORS}` })));
    await storage.repository(RfComment).saveMany(
      Array.from({ length: POSTS * COMMENTS_PER_POST }, (_, c) =>
        Object.assign(new RfComment(), { id: c + 1, postId: (c % POSTS) + 1, approved: c % 3 === 0 ? null : c % 3 === 1, body: `b${c % 13}`, authorId: null }),
      ),
    );
    client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query("ANALYZE rf_authors; ANALYZE rf_posts; ANALYZE rf_comments");
  }, 120_000);
  afterAll(async () => {
    await storage?.close();
    await client?.end();
    await db?.drop();
  });

  const explain = async (text: string, params: unknown[]) => (await client.query(`EXPLAIN ${text}`, params)).rows.map((r: Record<string, string>) => r["QUERY PLAN"]).join("\n");

  test("$some / $every on a to-many: the subquery probes the foreign key's index on the related table", async () => {
    for (const where of [
      { id: { $in: [5, 6, 7] }, comments: { $some: { approved: true } } },
      { id: { $in: [5, 6, 7] }, comments: { $every: { approved: { $ne: false } } } },
      { id: { $in: [5, 6, 7] }, comments: { $none: { body: "b1" } } },
    ]) {
      const { text, params } = compileFind(schema, normalizeQuery(schema, { where }), postgresDialect, codec);
      const plan = await explain(text, params);
      // An index scan of it, or a bitmap of it: the planner picks by the rows it expects.
      expect(plan).toMatch(/Index (Only )?Scan (using|on) "?idx_rf_comments_postId"?/);
      expect(plan).not.toMatch(/Seq Scan on "?rf_comments"?/);
    }
    const ids = (await storage.repository(RfPost).findAll({ where: { id: { $in: [5, 6, 7] }, comments: { $some: { approved: true } } } })).map((p) => p.id);
    // Comment c belongs to post c % 2000 + 1 and is approved when c % 3 === 1: posts 5, 6, 7 each have some.
    expect(ids).toEqual([5, 6, 7]);
  });

  test("a to-one filter probes the related table's primary key", async () => {
    const { text, params } = compileCount(schema, normalizeWhere(schema, { id: { $in: [3, 4, 5] }, author: { rank: 3 } }), postgresDialect, codec);
    const plan = await explain(text, params);
    expect(plan).toMatch(/Index (Only )?Scan (using|on) "?rf_authors_pkey"?/);
    expect(plan).not.toMatch(/Seq Scan/);
    // Post p + 1 is written by author p, whose rank is p % 7: posts 3, 4, 5 by authors of ranks 2, 3, 4.
    expect(await storage.repository(RfPost).count({ id: { $in: [3, 4, 5] }, author: { rank: 3 } })).toBe(1);
  });
});
