/**
 * Review of the search over waiting documents (postgres-full-text.ts, "A search never waits for a lock"):
 * rows whose document is stale, some held by another open transaction, some fresh, with keys the key array
 * must carry intact (quotes, backslashes, braces, unicode), under `where`, `limit`/`offset`, prefix, phrase and
 * exclusion queries. Every answer must be the reference's (test/support/search-reference.ts) over the rows as
 * committed, and the one the search gives once every document is built. The totals the triggers keep must
 * equal a recount after any mix of writes.
 */
import "reflect-metadata";
import fc from "fast-check";
import pg from "pg";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createStorage } from "../../src/index.js";
import type { Storage } from "../../src/index.js";
import { parseSearchQuery } from "../../src/search/search-parser.js";
import { tokenize } from "../../src/search/search-tokenizer.js";
import { searchReference, type ReferenceDocument } from "../support/search-reference.js";
import { backendSelected } from "../sql/sql-backend-cases.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "./pg-test-database.js";

@Entity("review_docs")
@Index(["title", "body"], { fulltext: true })
class Doc {
  @PrimaryColumn({ type: "string" }) id!: string;
  @Column({ type: "string" }) title!: string;
  @Column({ type: "string", nullable: true }) body!: string | null;
  @Column({ type: "integer" }) grp!: number;
}

@Entity('odd "name" ü')
@Index(["body"], { fulltext: true })
class OddDoc {
  @PrimaryColumn({ type: "integer", name: 'the "key"' }) id!: number;
  @Column({ type: "string", name: 'bo"dy' }) body!: string;
}

const skip = backendSelected("postgres") ? pgSkipReason() : "postgres not selected";

function withOptions(url: string, settings: string): string {
  const u = new URL(url);
  u.searchParams.set("options", `${u.searchParams.get("options") ?? ""} ${settings}`.trim());
  return u.href;
}

type Hit = { id: string; score: number };
type Ask = { text: string; where?: { grp: number }; limit?: number; offset?: number };

const ASKS: Ask[] = [
  { text: "wombat" },
  { text: "bil*" },
  { text: '"night owl"' },
  { text: "burrow -wombat" },
  { text: "wombat OR bilby OR owl", where: { grp: 1 } },
  { text: "wombat OR bilby OR owl OR quoll", limit: 2, offset: 1 },
  { text: '(bilby OR "night owl") -quoll' },
  { text: "ü*" },
];

async function ask(storage: Storage, a: Ask): Promise<Hit[]> {
  const rows = await storage.repository(Doc).search(a.text, { limit: a.limit ?? 100, offset: a.offset ?? 0, ...(a.where ? { where: a.where } : {}) });
  return rows.map((h) => ({ id: h.entity.id, score: h.score }));
}

/** The reference's answer over `rows` (as committed), with the same where, limit and offset. */
function reference(rows: readonly { id: string; title: string; body: string | null; grp: number }[], a: Ask): Hit[] {
  const docs: ReferenceDocument[] = rows.map((r) => ({ key: r.id, columns: [r.title, r.body] }));
  const byKey = new Map(rows.map((r) => [r.id, r]));
  const where = a.where;
  return searchReference(parseSearchQuery(a.text), docs, {
    ...(where ? { filter: (d: ReferenceDocument) => Number(byKey.get(d.key as string)!.grp) === where.grp } : {}),
    limit: a.limit ?? 100,
    offset: a.offset ?? 0,
  }).map((h) => ({ id: h.key as string, score: h.score }));
}

function expectSame(got: Hit[], want: Hit[]): void {
  expect(got.map((h) => h.id)).toEqual(want.map((h) => h.id));
  got.forEach((h, i) => expect(h.score).toBeCloseTo(want[i]!.score, 10));
}

const KEYS = { quote: "it's", dquote: 'say "hi"', backslash: "back\\slash", braces: "{a,b}", nullWord: "NULL", unicode: "ü-𝄞-日本", space: " lead ", comma: "x,y" };

describe.skipIf(skip !== undefined)("postgres: review of the search over waiting documents", () => {
  let db: PgTestDatabase;
  beforeAll(async () => {
    db = await PgTestDatabase.create(PG_URL!);
  });
  afterAll(async () => {
    await db?.drop();
  });

  test("mixed fresh, waiting and locked rows with odd keys: every query equals the reference over the committed rows", async () => {
    const url = await db.freshSchemaUrl();
    const setup = await createStorage({ url, entities: [Doc], autoCreate: true });
    try {
      await setup.repository(Doc).saveMany([
        { id: KEYS.quote, title: "Wombat", body: "a wombat digs a burrow", grp: 1 },
        { id: KEYS.dquote, title: "Owl", body: "the night owl hunts at night", grp: 2 },
        { id: KEYS.backslash, title: "Quoll", body: "quoll and wombat share the burrow", grp: 1 },
        { id: KEYS.braces, title: "Bandicoot", body: "short", grp: 2 },
        { id: KEYS.nullWord, title: "Gone", body: "bilby wombat", grp: 1 },
        { id: "fresh", title: "Fresh wombat", body: "night owl over the burrow", grp: 1 },
      ]);
      // Waiting documents: updates and inserts by statements of the user's, one text set to null, one emptied.
      await setup.sql`UPDATE review_docs SET body = ${"a bilby burrow, bilby night owl and more words than before"} WHERE id = ${KEYS.braces}`;
      await setup.sql`UPDATE review_docs SET body = NULL WHERE id = ${KEYS.quote}`;
      await setup.sql`UPDATE review_docs SET body = '', title = ${"Ünder"} WHERE id = ${KEYS.dquote}`;
      await setup.sql`INSERT INTO review_docs (id, title, body, grp) VALUES (${KEYS.unicode}, ${"Bilby"}, ${"bilby wombat üben"}, 1)`;
      await setup.sql`INSERT INTO review_docs (id, title, body, grp) VALUES (${KEYS.space}, ${"Night"}, ${"night owl, night owl"}, 2)`;
      await setup.sql`INSERT INTO review_docs (id, title, body, grp) VALUES (${KEYS.comma}, ${"Quoll"}, ${"bilby quoll burrow"}, 1)`;
    } finally {
      await setup.close();
    }

    const storage = await createStorage({ url: withOptions(url, "-c lock_timeout=1000"), entities: [Doc], poolSize: 1 });
    const other = new pg.Client({ connectionString: url });
    await other.connect();
    const seen: Hit[][] = [];
    let committed: { id: string; title: string; body: string | null; grp: number }[];
    try {
      committed = (await other.query("SELECT id, title, body, grp FROM review_docs")).rows;
      await other.query("BEGIN");
      // Held: waiting rows changed again, deleted, read for update; a new waiting row no one else may see.
      await other.query("UPDATE review_docs SET body = 'nothing to find' WHERE id = $1", [KEYS.braces]);
      await other.query("DELETE FROM review_docs WHERE id = $1", [KEYS.space]);
      await other.query("SELECT * FROM review_docs WHERE id = ANY($1) FOR UPDATE", [[KEYS.unicode, KEYS.quote, KEYS.nullWord]]);
      await other.query("INSERT INTO review_docs (id, title, body, grp) VALUES ('ghost', 'Bilby wombat', 'bilby wombat night owl', 1)");
      for (const a of ASKS) seen.push(await ask(storage, a));
      await other.query("ROLLBACK");
    } finally {
      await other.end();
    }
    try {
      ASKS.forEach((a, i) => expectSame(seen[i]!, reference(committed, a)));
      // Once nothing is held, the search builds every document: the same answers.
      for (const [i, a] of ASKS.entries()) expectSame(await ask(storage, a), seen[i]!);
      expect(await storage.sql`SELECT count(*)::int AS n FROM review_docs WHERE __strata_fts_doc IS NULL`).toEqual([{ n: 0 }]);
    } finally {
      await storage.close();
    }
  });

  test("a search in a transaction sees its own uncommitted text of a waiting row another transaction read before", async () => {
    const url = await db.freshSchemaUrl();
    const storage = await createStorage({ url, entities: [Doc], autoCreate: true });
    try {
      await storage.repository(Doc).saveMany([
        { id: "a", title: "Wombat", body: "a wombat digs a burrow", grp: 1 },
        { id: "b", title: "Owl", body: "the night owl", grp: 1 },
      ]);
      await storage.sql`UPDATE review_docs SET body = ${"stale bilby text"} WHERE id = ${"b"}`;
      const inside = await storage.transaction(async () => {
        await storage.sql`UPDATE review_docs SET body = ${"own wombat wombat text"} WHERE id = ${"b"}`;
        return ask(storage, { text: "wombat OR bilby" });
      });
      expectSame(inside, reference([{ id: "a", title: "Wombat", body: "a wombat digs a burrow", grp: 1 }, { id: "b", title: "Owl", body: "own wombat wombat text", grp: 1 }], { text: "wombat OR bilby" }));
    } finally {
      await storage.close();
    }
  });

  test.each(["REPEATABLE READ", "SERIALIZABLE"])("a search in a %s transaction over a waiting row another search indexed since its snapshot answers", async (level) => {
    const url = await db.freshSchemaUrl();
    const storage = await createStorage({ url, entities: [Doc], autoCreate: true });
    const other = await createStorage({ url, entities: [Doc] });
    try {
      await storage.repository(Doc).saveMany([
        { id: "a", title: "Wombat", body: "a wombat digs a burrow", grp: 1 },
        { id: "b", title: "Owl", body: "the night owl", grp: 1 },
      ]);
      await storage.sql`UPDATE review_docs SET body = ${"a bilby now"} WHERE id = ${"b"}`;
      const rows = [
        { id: "a", title: "Wombat", body: "a wombat digs a burrow", grp: 1 },
        { id: "b", title: "Owl", body: "a bilby now", grp: 1 },
      ];
      const inside = await storage.transaction(async () => {
        if (level === "SERIALIZABLE") await storage.sql`SET TRANSACTION ISOLATION LEVEL SERIALIZABLE`;
        else await storage.sql`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ`;
        // The snapshot is taken: the row waits in it.
        await storage.repository(Doc).count();
        // Another storage's search builds the document and commits.
        await other.repository(Doc).search("bilby");
        return ask(storage, { text: "bilby OR wombat" });
      });
      expectSame(inside, reference(rows, { text: "bilby OR wombat" }));
    } finally {
      await other.close();
      await storage.close();
    }
  });

  test("a session of the pool left read-only by the user's SET: searches still answer, later searches still index", async () => {
    const url = await db.freshSchemaUrl();
    const storage = await createStorage({ url, entities: [Doc], autoCreate: true, poolSize: 1 });
    try {
      await storage.repository(Doc).saveMany([{ id: "a", title: "Wombat", body: "a wombat", grp: 1 }]);
      await storage.sql`UPDATE review_docs SET body = ${"a bilby"} WHERE id = ${"a"}`;
      await storage.sql`SET default_transaction_read_only = on`;
      expect((await ask(storage, { text: "bilby" })).map((h) => h.id)).toEqual(["a"]);
      await storage.sql`SET default_transaction_read_only = off`;
      expect((await ask(storage, { text: "bilby" })).map((h) => h.id)).toEqual(["a"]);
      expect(await storage.sql`SELECT count(*)::int AS n FROM review_docs WHERE __strata_fts_doc IS NULL`).toEqual([{ n: 0 }]);
    } finally {
      await storage.close();
    }
  });

  test("a table and columns whose names hold quotes and unicode: waiting rows found in a read-only transaction, with the indexed scores", async () => {
    const url = await db.freshSchemaUrl();
    const storage = await createStorage({ url, entities: [OddDoc], autoCreate: true });
    try {
      const docs = storage.repository(OddDoc);
      await docs.saveMany([
        { id: 1, body: "wombat burrow" },
        { id: 2, body: "night owl" },
      ]);
      await storage.sql`UPDATE "odd ""name"" ü" SET "bo""dy" = ${"bilby wombat"} WHERE "the ""key""" = ${2}`;
      const search = async () => (await docs.search("wombat OR bilby")).map((h) => ({ id: h.entity.id, score: h.score }));
      const readOnly = await storage.transaction(async () => {
        await storage.sql`SET TRANSACTION READ ONLY`;
        return search();
      });
      const indexed = await search();
      expect(indexed.map((h) => h.id)).toEqual([2, 1]);
      expect(readOnly).toEqual(indexed);
    } finally {
      await storage.close();
    }
  });

  test("the totals equal a recount (rows, tokens) after any mix of writes and searches", async () => {
    const url = await db.freshSchemaUrl();
    const storage = await createStorage({ url, entities: [Doc], autoCreate: true, cache: false });
    const words = ["wombat", "bilby", "owl", "night", "quoll", "burrow"];
    const text = fc.array(fc.constantFrom(...words), { maxLength: 6 }).map((w) => w.join(" "));
    const id = fc.constantFrom("a", "b", "c", "d", "e");
    const op = fc.oneof(
      fc.record({ kind: fc.constant("save" as const), id, body: text }),
      fc.record({ kind: fc.constant("saveMany" as const), ids: fc.uniqueArray(id, { maxLength: 4 }), body: text }),
      fc.record({ kind: fc.constant("update" as const), id, body: text }),
      fc.record({ kind: fc.constant("sqlUpdate" as const), id, body: fc.option(text) }),
      fc.record({ kind: fc.constant("sqlUpdateAll" as const), body: text }),
      fc.record({ kind: fc.constant("sqlInsert" as const), id, body: text }),
      fc.record({ kind: fc.constant("sqlLength" as const), id, len: fc.integer({ min: 0, max: 50 }) }),
      fc.record({ kind: fc.constant("delete" as const), id }),
      fc.record({ kind: fc.constant("truncate" as const) }),
      fc.record({ kind: fc.constant("search" as const) }),
      fc.record({ kind: fc.constant("rolledBack" as const), id, body: text }),
    );
    const docs = storage.repository(Doc);
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(op, { maxLength: 25 }), async (ops) => {
          await storage.sql`TRUNCATE review_docs`;
          for (const o of ops) {
            switch (o.kind) {
              case "save":
                await docs.save({ id: o.id, title: "T", body: o.body, grp: 1 });
                break;
              case "saveMany":
                await docs.saveMany(o.ids.map((i) => ({ id: i, title: "T", body: o.body, grp: 1 })));
                break;
              case "update":
                if (await docs.exists(o.id)) await docs.update(o.id, { body: o.body });
                break;
              case "sqlUpdate":
                await storage.sql`UPDATE review_docs SET body = ${o.body} WHERE id = ${o.id}`;
                break;
              case "sqlUpdateAll":
                await storage.sql`UPDATE review_docs SET body = body || ' ' || ${o.body}`;
                break;
              case "sqlInsert":
                await storage.sql`INSERT INTO review_docs (id, title, body, grp) VALUES (${o.id}, 'T', ${o.body}, 1) ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body`;
                break;
              case "sqlLength":
                // A statement of the user's writing the hidden length: the totals follow whatever the rows hold.
                await storage.sql`UPDATE review_docs SET __strata_fts_len = ${o.len} WHERE id = ${o.id}`;
                break;
              case "delete":
                await docs.delete(o.id);
                break;
              case "truncate":
                await storage.sql`TRUNCATE review_docs`;
                break;
              case "search":
                await docs.search("wombat OR bilby");
                break;
              case "rolledBack":
                await expect(
                  storage.transaction(async () => {
                    await docs.save({ id: o.id, title: "T", body: o.body, grp: 1 });
                    await docs.search("wombat");
                    throw new Error("roll back");
                  }),
                ).rejects.toThrow("roll back");
                break;
            }
          }
          const [totals] = await storage.sql`SELECT coalesce(sum(rows), 0)::int AS rows, coalesce(sum(tokens), 0)::int AS tokens FROM review_docs__strata_fts_totals`;
          const [recount] = await storage.sql`SELECT count(*)::int AS rows, coalesce(sum(__strata_fts_len), 0)::int AS tokens FROM review_docs`;
          expect(totals).toEqual(recount);
          // Once a search has built every document, each length is the true one.
          await docs.search("wombat");
          const rows = await storage.sql`SELECT title, body, __strata_fts_len AS len FROM review_docs`;
          for (const r of rows) {
            const want = tokenize(String(r["title"])).length + (r["body"] === null ? 0 : tokenize(String(r["body"])).length);
            // A length the user wrote stays until the row's document is built again.
            if (!ops.some((o) => o.kind === "sqlLength")) expect(r["len"]).toBe(want);
          }
          const [after] = await storage.sql`SELECT coalesce(sum(tokens), 0)::int AS tokens FROM review_docs__strata_fts_totals`;
          const [sum] = await storage.sql`SELECT coalesce(sum(__strata_fts_len), 0)::int AS tokens FROM review_docs`;
          expect(after).toEqual(sum);
        }),
        { numRuns: 25 },
      );
    } finally {
      await storage.close();
    }
  });
});
