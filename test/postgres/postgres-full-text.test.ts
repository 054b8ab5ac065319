/**
 * PostgreSQL full-text search (postgres-full-text.ts) against the real server: the stored tsvector, the
 * compiled tsquery and the BM25 select, checked against a brute-force matcher over the same tokens and
 * against SQLite FTS5's own bm25() on the same rows.
 */
import "reflect-metadata";
import Database from "better-sqlite3";
import pg from "pg";
import { Column, Entity, PrimaryColumn } from "typeorm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createStorage } from "../../src/index.js";
import type { Storage } from "../../src/index.js";
import { buildEntitySchema } from "../../src/schema/entity-schema.js";
import type { EntitySchema, Row } from "../../src/schema/entity-schema.js";
import { readEntitySchema } from "../../src/schema/read-entity-schema.js";
import { normalizeWhere } from "../../src/query/normalize-query.js";
import type { SearchNode, SearchPhrase, SearchQuery } from "../../src/search/search-query.js";
import { tokenize } from "../../src/search/search-tokenizer.js";
import { postgresDialect } from "../../src/backends/postgres/postgres-dialect.js";
import { makeRowCodec } from "../../src/backends/sql/sql-row-codec.js";
import {
  backfillSelects,
  compileSearch,
  createFullTextStatements,
  documentsUpdate,
  dropFullTextStatements,
  fullTextDocument,
  lexemeOf,
  MAX_POSITION,
  quoteLexeme,
} from "../../src/backends/postgres/postgres-full-text.js";
import { backendSelected } from "../sql/sql-backend-cases.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "./pg-test-database.js";

@Entity("fts_docs")
class Doc {
  @PrimaryColumn({ type: "varchar" }) id: string;
  @Column({ type: "varchar" }) title: string;
  @Column({ type: "varchar", nullable: true }) body: string | null;
  @Column({ type: "integer" }) year: number;
}

const CORPUS: Array<{ id: string; title: string; body: string | null; year: number }> = [
  { id: "a01", title: "Köln am Rhein", body: "Die Stadt Köln liegt am Rhein, nicht weit von Bonn.", year: 1990 },
  { id: "a02", title: "Koln", body: null, year: 1991 },
  { id: "a03", title: "New York", body: "new york new york, the city so nice they named it twice", year: 1992 },
  { id: "a04", title: "York", body: "The old city of York, older than New York", year: 1993 },
  { id: "a05", title: "It's O'Brien's pub", body: "quotes ' and \" and a back\\slash \\\\ in text", year: 1994 },
  { id: "a06", title: "São Paulo", body: "A cidade de São Paulo é a maior do Brasil", year: 1995 },
  { id: "a07", title: "Sao Tome", body: "Sao Tome and Principe", year: 1996 },
  { id: "a08", title: "Zürich", body: "Zurich, Zuerich, Zürichsee", year: 1997 },
  { id: "a09", title: "Paris", body: "Paris is the capital of France; Paris Texas is not", year: 1998 },
  { id: "a10", title: "Paris Texas", body: "a film", year: 1999 },
  { id: "a11", title: "New Orleans", body: "the new city of orleans", year: 2000 },
  { id: "a12", title: "york new", body: "york", year: 2001 },
  { id: "a13", title: "Straße", body: "strasse STRASSE Straße", year: 2002 },
  { id: "a14", title: "Ελλάδα Αθήνα", body: "η Αθήνα είναι πόλη", year: 2003 },
  { id: "a15", title: "empty body", body: "", year: 2004 },
  { id: "a16", title: "the city", body: "city city city city city city city city", year: 2005 },
];

let nextIndex = 0;
/** A phrase node from words (each folded by the tokenizer, as the parser does). */
function phrase(text: string, prefix = false): SearchPhrase {
  return { kind: "phrase", tokens: tokenize(text).map((t) => t.term), prefix, index: nextIndex++ };
}
/** A query from a tree made by `build`, its phrases numbered in reading order. */
function query(text: string, build: () => SearchNode): SearchQuery {
  nextIndex = 0;
  const root = build();
  const phrases: SearchPhrase[] = [];
  const walk = (n: SearchNode): void => {
    if (n.kind === "phrase") phrases.push(n);
    else if (n.kind === "not") walk(n.child);
    else n.children.forEach(walk);
  };
  walk(root);
  return { text, root, phrases };
}
const and = (...children: SearchNode[]): SearchNode => ({ kind: "and", children });
const or = (...children: SearchNode[]): SearchNode => ({ kind: "or", children });
const not = (child: SearchNode): SearchNode => ({ kind: "not", child });

/** Each case: the tree, and the same query in FTS5's syntax. */
const QUERIES: Array<{ q: SearchQuery; fts5: string }> = [
  { q: query("koln", () => phrase("koln")), fts5: "koln" },
  { q: query("Köln", () => phrase("Köln")), fts5: "koln" },
  { q: query('"new york"', () => phrase("new york")), fts5: '"new york"' },
  { q: query("york", () => phrase("york")), fts5: "york" },
  { q: query("new york", () => and(phrase("new"), phrase("york"))), fts5: "new AND york" },
  { q: query("york -new", () => and(phrase("york"), not(phrase("new")))), fts5: "york NOT new" },
  { q: query("paris OR york", () => or(phrase("paris"), phrase("york"))), fts5: "paris OR york" },
  { q: query("pa*", () => phrase("pa", true)), fts5: "pa*" },
  { q: query('"new yo*"', () => phrase("new yo", true)), fts5: '"new yo"*' },
  { q: query("sao", () => phrase("sao")), fts5: "sao" },
  { q: query("o'brien", () => phrase("o'brien")), fts5: '"o brien"' },
  { q: query("back\\slash", () => phrase("back\\slash")), fts5: '"back slash"' },
  { q: query("city", () => phrase("city")), fts5: "city" },
  { q: query("Αθήνα", () => phrase("Αθήνα")), fts5: "Αθήνα" },
  { q: query("zurich*", () => phrase("zurich", true)), fts5: "zurich*" },
  { q: query("city -(new OR old)", () => and(phrase("city"), not(or(phrase("new"), phrase("old"))))), fts5: "city NOT (new OR old)" },
  // The phrase never crosses the columns: "york" ends a title, "new" does not start its body... "york new" is a12's title.
  { q: query('"york new"', () => phrase("york new")), fts5: '"york new"' },
  { q: query('"rhein die"', () => phrase("rhein die")), fts5: '"rhein die"' },
];

/** The brute-force matcher: does the document (its columns' tokens) match `node`? */
function matches(columns: readonly string[][], node: SearchNode): boolean {
  switch (node.kind) {
    case "phrase":
      return frequency(columns, node) > 0;
    case "and":
      return node.children.every((c) => (c.kind === "not" ? !matches(columns, c.child) : matches(columns, c)));
    case "or":
      return node.children.some((c) => matches(columns, c));
    case "not":
      return !matches(columns, node.child);
  }
}
function frequency(columns: readonly string[][], p: SearchPhrase): number {
  let count = 0;
  for (const tokens of columns) {
    for (let start = 0; start + p.tokens.length <= tokens.length; start++) {
      const ok = p.tokens.every((t, i) => (p.prefix && i === p.tokens.length - 1 ? tokens[start + i]!.startsWith(t) : tokens[start + i] === t));
      if (ok) count++;
    }
  }
  return count;
}

const skip = backendSelected("postgres") ? pgSkipReason() : "BACKENDS excludes postgres";
let db: PgTestDatabase;
let client: pg.Client;
let storage: Storage;
let schema: EntitySchema;
const codec = () => makeRowCodec(schema, postgresDialect);

async function search(q: SearchQuery, where?: unknown, limit = 100, offset = 0): Promise<Array<{ row: Row; score: number }>> {
  const normalized = where === undefined ? undefined : normalizeWhere(schema, where);
  const compiled = compileSearch(schema, q, normalized, limit, offset, postgresDialect, codec());
  const result = await client.query({ text: compiled.text, values: compiled.params, rowMode: "array" });
  return (result.rows as unknown[][]).map((values) => ({ row: codec().decode(values.slice(0, compiled.scoreAt)), score: values[compiled.scoreAt] as number }));
}

/** Fills the hidden columns of every row, in pages, as an index added to a table with rows does. */
async function backfill(pageSize: number): Promise<number> {
  const selects = backfillSelects(schema, postgresDialect);
  const update = documentsUpdate(schema, postgresDialect, codec());
  let last: unknown;
  let written = 0;
  for (;;) {
    const page = await client.query({ text: last === undefined ? selects.first : selects.next, values: last === undefined ? [pageSize] : [last, pageSize], rowMode: "array" });
    if (page.rows.length === 0) return written;
    const rows = (page.rows as unknown[][]).map(([id, title, body]) => ({ id, title, body }));
    await client.query(update.text, update.params(rows));
    written += rows.length;
    last = rows[rows.length - 1]!.id;
  }
}

if (!skip) {
  beforeAll(async () => {
    db = await PgTestDatabase.create(PG_URL!);
    const url = await db.freshSchemaUrl();
    storage = await createStorage({ url, entities: [Doc], autoCreate: true });
    client = new pg.Client({ connectionString: url });
    await client.connect();
    schema = buildEntitySchema({ ...readEntitySchema(Doc), fullText: { name: "fts_docs_search", properties: ["title", "body"] } });
    await storage.repository(Doc).saveMany(CORPUS);
    for (const statement of createFullTextStatements(schema.table, schema.fullText!.name)) await client.query(statement);
    await backfill(5);
  });
  afterAll(async () => {
    await client?.end();
    await storage?.close();
    await db?.drop();
  });
}

describe("postgres full-text: documents", () => {
  test("lexemes are quoted with quotes doubled and backslashes escaped", () => {
    expect(quoteLexeme("it's")).toBe("'it''s'");
    expect(quoteLexeme("a\\b")).toBe("'a\\\\b'");
  });

  test("columns are positioned with a gap between them; the length counts every token", () => {
    expect(fullTextDocument(["new york", "york"])).toEqual({ vector: "'new':1 'york':2,4", length: 3 });
    expect(fullTextDocument([null, "", "a b a"])).toEqual({ vector: "'a':1,3 'b':2", length: 3 });
  });

  test("positions past 16383 are stored at 16383 and counted in the length", () => {
    const words = Array.from({ length: MAX_POSITION + 5 }, (_, i) => (i < MAX_POSITION - 1 ? "w" : `x${i}`)).join(" ");
    const document = fullTextDocument([words]);
    expect(document.length).toBe(MAX_POSITION + 5);
    expect(document.vector).toContain(`'x${MAX_POSITION + 4}':${MAX_POSITION}`);
    // The repeated word keeps PostgreSQL's 256 positions at most.
    expect(document.vector.match(/'w':([\d,]+)/)![1]!.split(",")).toHaveLength(256);
  });

  test("a token too long for a lexeme becomes a stand-in both sides use", () => {
    const long = "a".repeat(3000);
    expect(lexemeOf(long)).toMatch(/^a{500}#[0-9a-f]{64}$/);
    expect(lexemeOf("short")).toBe("short");
  });
});

describe.skipIf(skip !== undefined)("postgres full-text: against the server", () => {
  test("the server reads the stored documents back as Strata wrote them (quotes, backslashes, diacritics)", async () => {
    const result = await client.query(`SELECT id, "__strata_fts_doc"::text AS doc, "__strata_fts_len" AS len FROM fts_docs WHERE id IN ('a05', 'a01') ORDER BY id`);
    expect(result.rows[0]).toEqual({ id: "a01", doc: "'am':2,9 'bonn':14 'die':5 'koln':1,7 'liegt':8 'nicht':11 'rhein':3,10 'stadt':6 'von':13 'weit':12", len: 13 });
    const a05 = tokenize(`${CORPUS[4]!.title}`).length + tokenize(`${CORPUS[4]!.body}`).length;
    expect(result.rows[1]).toMatchObject({ id: "a05", len: a05 });
  });

  test("every query matches exactly the rows the brute-force matcher finds", async () => {
    const documents = CORPUS.map((d) => ({ id: d.id, columns: [d.title, d.body ?? ""].map((v) => tokenize(v).map((t) => t.term)) }));
    for (const { q } of QUERIES) {
      const expected = documents.filter((d) => matches(d.columns, q.root)).map((d) => d.id).sort();
      const found = (await search(q)).map((h) => h.row["id"] as string).sort();
      expect(found, q.text).toEqual(expected);
    }
  });

  test("scores and order equal SQLite FTS5's bm25() on the same rows", async () => {
    const sqlite = new Database(":memory:");
    try {
      sqlite.exec(`CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, title, body, tokenize = 'unicode61 remove_diacritics 2')`);
      const insert = sqlite.prepare("INSERT INTO docs (id, title, body) VALUES (?, ?, ?)");
      for (const d of CORPUS) insert.run(d.id, d.title, d.body);
      const select = sqlite.prepare("SELECT id, -bm25(docs) AS score FROM docs WHERE docs MATCH ? ORDER BY bm25(docs), id");
      for (const { q, fts5 } of QUERIES) {
        const expected = select.all(fts5) as Array<{ id: string; score: number }>;
        const found = await search(q);
        expect(found.map((h) => h.row["id"]), q.text).toEqual(expected.map((e) => e.id));
        for (let i = 0; i < found.length; i++) expect(found[i]!.score, `${q.text} #${i}`).toBeCloseTo(expected[i]!.score, 12);
      }
    } finally {
      sqlite.close();
    }
  });

  test("where, limit and offset apply, best first and ties by key", async () => {
    const q = QUERIES.find((c) => c.q.text === "york")!.q;
    const all = await search(q);
    expect(all.length).toBe(3);
    expect(all.every((h, i) => i === 0 || h.score < all[i - 1]!.score || (h.score === all[i - 1]!.score && String(h.row["id"]) > String(all[i - 1]!.row["id"])))).toBe(true);
    expect((await search(q, undefined, 2, 1)).map((h) => h.row["id"])).toEqual(all.slice(1, 3).map((h) => h.row["id"]));
    const recent = await search(q, { year: { $gte: 2000 } });
    expect(recent.map((h) => h.row["id"]).sort()).toEqual(all.filter((h) => (h.row["year"] as number) >= 2000).map((h) => h.row["id"]).sort());
    expect(recent[0]!.row).toEqual(CORPUS.find((d) => d.id === recent[0]!.row["id"]));
  });

  test("the user's text reaches SQL only as bound values", () => {
    const q = query("x'; DROP TABLE fts_docs; --", () => phrase("x'; DROP TABLE fts_docs; --"));
    const compiled = compileSearch(schema, q, undefined, 10, 0, postgresDialect, codec());
    expect(compiled.text).not.toContain("DROP");
    expect(compiled.params).toContain("'x' <-> 'drop' <-> 'table' <-> 'fts' <-> 'docs'");
  });

  test("dropping the index takes the hidden columns and the GIN index away", async () => {
    const url = await db.freshSchemaUrl();
    const other = await createStorage({ url, entities: [Doc], autoCreate: true });
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const columns = async () => (await c.query(`SELECT column_name FROM information_schema.columns WHERE table_name = 'fts_docs' AND table_schema = current_schema() ORDER BY column_name`)).rows.map((r) => r.column_name as string);
      for (const statement of createFullTextStatements("fts_docs", "fts_docs_search")) await c.query(statement);
      expect(await columns()).toContain("__strata_fts_doc");
      for (const statement of dropFullTextStatements("fts_docs", "fts_docs_search")) await c.query(statement);
      expect(await columns()).toEqual(["body", "id", "title", "year"]);
      expect((await c.query(`SELECT 1 FROM pg_indexes WHERE indexname = 'fts_docs_search' AND schemaname = current_schema()`)).rows).toHaveLength(0);
    } finally {
      await c.end();
      await other.close();
    }
  });
});
