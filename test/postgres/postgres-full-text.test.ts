/**
 * PostgreSQL full-text search (postgres-full-text.ts) against the real server: the stored tsvector, the
 * compiled tsquery and the BM25 select, checked against a brute-force matcher over the same tokens and
 * against SQLite FTS5's own bm25() on the same rows.
 */
import "reflect-metadata";
import Database from "better-sqlite3";
import fc from "fast-check";
import pg from "pg";
import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn, PrimaryGeneratedColumn } from "typeorm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createStorage, SchemaError } from "../../src/index.js";
import type { Storage } from "../../src/index.js";
import type { Backend, BackendFactory, DataSession } from "../../src/spi/index.js";
import { buildEntitySchema } from "../../src/schema/entity-schema.js";
import type { EntitySchema, Row } from "../../src/schema/entity-schema.js";
import { normalizeWhere } from "../../src/query/normalize-query.js";
import { schemaOfTable } from "../../src/schema/table-schema.js";
import { parseSearchQuery } from "../../src/search/search-parser.js";
import type { SearchNode, SearchPhrase, SearchQuery } from "../../src/search/search-query.js";
import { searchReference } from "../support/search-reference.js";
import type { ReferenceDocument } from "../support/search-reference.js";
import { tokenize } from "../../src/search/search-tokenizer.js";
import { createPostgresBackend } from "../../src/backends/postgres/postgres-backend.js";
import { fullTextDocument, lexemeOf, MAX_POSITION, quoteLexeme } from "../../src/backends/postgres/postgres-full-text.js";
import { backendSelected } from "../sql/sql-backend-cases.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "./pg-test-database.js";

@Entity("fts_docs")
class Doc {
  @PrimaryColumn({ type: "varchar" }) id: string;
  @Column({ type: "varchar" }) title: string;
  @Column({ type: "varchar", nullable: true }) body: string | null;
  @Column({ type: "integer" }) year: number;
}

@Entity("fts_shelves")
class Shelf {
  @PrimaryColumn({ type: "varchar" }) id: string;
}

@Entity("fts_notes")
class Note {
  @PrimaryGeneratedColumn("increment") id: number;
  @Column({ type: "varchar" }) text: string;
  @ManyToOne(() => Shelf, { nullable: false, onDelete: "CASCADE" }) @JoinColumn({ name: "shelfId" }) shelf?: Shelf;
  @Column({ type: "varchar" }) shelfId: string;
}

/** The full-text indexes the tests give the entities (until `@Index({ fulltext: true })` is read, they are set here). */
const FULL_TEXT: Record<string, { name: string; properties: string[] }> = {
  fts_docs: { name: "fts_docs_search", properties: ["title", "body"] },
  fts_notes: { name: "fts_notes_search", properties: ["text"] },
};
function withFullText(schema: EntitySchema): EntitySchema {
  const fullText = FULL_TEXT[schema.table];
  return fullText ? buildEntitySchema({ ...schema, fullText }) : schema;
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
  // A phrase of an AND branch that fails in a row the OR matches by its other branch.
  { q: query("(york paris) OR city", () => or(and(phrase("york"), phrase("paris")), phrase("city"))), fts5: "(york AND paris) OR city" },
  { q: query("(new york) OR (paris texas)", () => or(and(phrase("new"), phrase("york")), and(phrase("paris"), phrase("texas")))), fts5: "(new AND york) OR (paris AND texas)" },
  { q: query("(city -old) OR york", () => or(and(phrase("city"), not(phrase("old"))), phrase("york"))), fts5: "(city NOT old) OR york" },
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

/** A storage over a fresh schema whose backend knows the entities' full-text indexes, the backend, and a raw client. */
interface Fixture {
  storage: Storage;
  backend: Backend;
  client: pg.Client;
  schemas: Map<string, EntitySchema>;
  close(): Promise<void>;
}
async function open(): Promise<Fixture> {
  const url = await db.freshSchemaUrl();
  let backend: Backend | undefined;
  const schemas = new Map<string, EntitySchema>();
  const factory: BackendFactory = async (context) => {
    const full = context.schemas.map(withFullText);
    for (const s of full) schemas.set(s.table, s);
    backend = await createPostgresBackend({ ...context, schemas: full });
    return backend;
  };
  const storage = await createStorage({ url, backend: factory, entities: [Doc, Shelf, Note], autoCreate: true });
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return {
    storage,
    backend: backend!,
    client,
    schemas,
    async close() {
      await client.end();
      await storage.close();
    },
  };
}

async function searchIn(session: DataSession, schema: EntitySchema, q: SearchQuery, where?: unknown, limit = 100, offset = 0): Promise<Array<{ row: Row; score: number }>> {
  return session.search!(schema, { query: q, where: where === undefined ? undefined : normalizeWhere(schema, where), limit, offset });
}
const ids = (hits: ReadonlyArray<{ row: Row }>) => hits.map((h) => h.row["id"]);

if (!skip) {
  beforeAll(async () => {
    db = await PgTestDatabase.create(PG_URL!);
  });
  afterAll(async () => {
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
  let f: Fixture;
  let docs: EntitySchema;
  const search = (q: SearchQuery, where?: unknown, limit?: number, offset?: number) => searchIn(f.backend.session, docs, q, where, limit, offset);
  beforeAll(async () => {
    f = await open();
    docs = f.schemas.get("fts_docs")!;
    await f.storage.repository(Doc).saveMany(CORPUS);
  });
  afterAll(async () => {
    await f?.close();
  });

  test("the server reads the stored documents back as Strata wrote them (quotes, backslashes, diacritics)", async () => {
    await search(QUERIES[0]!.q);
    const result = await f.client.query(`SELECT id, "__strata_fts_doc"::text AS doc, "__strata_fts_len" AS len FROM fts_docs WHERE id IN ('a05', 'a01') ORDER BY id`);
    expect(result.rows[0]).toEqual({ id: "a01", doc: "'am':2,9 'bonn':14 'die':5 'koln':1,7 'liegt':8 'nicht':11 'rhein':3,10 'stadt':6 'von':13 'weit':12", len: 13 });
    const a05 = CORPUS[4]!;
    expect(result.rows[1]).toMatchObject({ id: "a05", len: tokenize(a05.title).length + tokenize(a05.body!).length });
    expect(result.rows[1].doc).toBe(fullTextDocument([a05.title, a05.body]).vector.split(" ").sort().join(" "));
  });

  test("every query matches exactly the rows the brute-force matcher finds", async () => {
    const documents = CORPUS.map((d) => ({ id: d.id, columns: [d.title, d.body ?? ""].map((v) => tokenize(v).map((t) => t.term)) }));
    for (const { q } of QUERIES) {
      const expected = documents.filter((d) => matches(d.columns, q.root)).map((d) => d.id).sort();
      expect((ids(await search(q)) as string[]).sort(), q.text).toEqual(expected);
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
        expect(ids(found), q.text).toEqual(expected.map((e) => e.id));
        for (let i = 0; i < found.length; i++) expect(found[i]!.score, `${q.text} #${i}`).toBeCloseTo(expected[i]!.score, 12);
      }
    } finally {
      sqlite.close();
    }
  });

  test("where, limit and offset apply, best first and ties by key", async () => {
    const q = QUERIES.find((c) => c.q.text === "york")!.q;
    const all = await search(q);
    expect(all).toHaveLength(3);
    expect(all.every((h, i) => i === 0 || h.score < all[i - 1]!.score || (h.score === all[i - 1]!.score && String(h.row["id"]) > String(all[i - 1]!.row["id"])))).toBe(true);
    expect(ids(await search(q, undefined, 2, 1))).toEqual(ids(all.slice(1, 3)));
    const recent = await search(q, { year: { $gte: 2000 } });
    expect(ids(recent)).toEqual(ids(all.filter((h) => (h.row["year"] as number) >= 2000)));
    expect(recent[0]!.row).toEqual(CORPUS.find((d) => d.id === recent[0]!.row["id"]));
  });

  test("the user's text reaches SQL only as bound values", async () => {
    const q = query("x'; DROP TABLE fts_docs; --", () => phrase("x'; DROP TABLE fts_docs; --"));
    const sql = f.backend.session as unknown as { dialect: { fullText: { searchStatement(s: unknown): { text: string; params: unknown[] } } } };
    const statement = sql.dialect.fullText.searchStatement({ schema: docs, indexColumns: ["title", "body"], columns: ["id"], query: q, where: () => undefined, limit: 1, offset: 0 });
    expect(statement.text).not.toContain("DROP");
    expect(statement.params).toContain("('x' <-> 'drop' <-> 'table' <-> 'fts' <-> 'docs')");
    expect(await search(q)).toEqual([]);
  });

  test("every write shows in the next search: save, partial update, delete, and statements of the user's", async () => {
    const repo = f.storage.repository(Doc);
    const q = (word: string) => query(word, () => phrase(word));
    await repo.save({ id: "w01", title: "Quokka island", body: null, year: 2020 });
    expect(ids(await search(q("quokka")))).toEqual(["w01"]);
    await repo.update("w01", { body: "wallaby" });
    expect(ids(await search(q("wallaby")))).toEqual(["w01"]);
    await repo.update("w01", { title: "Numbat land" });
    expect(ids(await search(q("quokka")))).toEqual([]);
    expect(ids(await search(q("numbat")))).toEqual(["w01"]);
    await f.storage.sql`UPDATE fts_docs SET body = ${"bilby"} WHERE id = ${"w01"}`;
    await f.storage.sql`INSERT INTO fts_docs (id, title, year) VALUES (${"w02"}, ${"Bilby burrow"}, ${2021})`;
    // The shorter document ranks first.
    expect(ids(await search(q("bilby")))).toEqual(["w02", "w01"]);
    expect(ids(await search(q("wallaby")))).toEqual([]);
    await repo.delete("w01");
    await repo.delete("w02");
    expect(ids(await search(q("bilby")))).toEqual([]);
  });

  test("Strata's inserts and upserts write the document with the row; other writes leave it to the next search", async () => {
    const stale = async () => Number((await f.client.query(`SELECT count(*) AS n FROM fts_docs WHERE "__strata_fts_doc" IS NULL`)).rows[0].n);
    // Through the session with the schema that knows the index, as the repository passes it once it reads `@Index({ fulltext: true })`.
    const session = f.backend.session;
    await session.upsertMany(docs, [
      { id: "e01", title: "Emu", body: "a bird", year: 2023 },
      { id: "e02", title: "Cassowary", body: null, year: 2023 },
    ]);
    await session.upsertMany(docs, [{ id: "e03", title: "Dingo", body: null, year: 2023 }], { returnRows: false });
    await session.insert(docs, { id: "e04", title: "Kiwi", body: null, year: 2023 });
    await session.upsert(docs, { id: "e01", title: "Emu again", body: "still a bird", year: 2024 });
    expect(await stale()).toBe(0);
    const stored = await f.client.query(`SELECT "__strata_fts_doc"::text AS doc, "__strata_fts_len" AS len FROM fts_docs WHERE id = 'e01'`);
    expect(stored.rows[0]).toEqual({ doc: "'a':5 'again':2 'bird':6 'emu':1 'still':4", len: 5 });
    // A save of other columns keeps the document; an update of an indexed column marks it stale.
    await session.update(docs, "e02", { year: 2025 });
    expect(await stale()).toBe(0);
    await session.update(docs, "e02", { body: "a taller bird" });
    // A partial upsert that leaves out an indexed column cannot build the document either.
    await session.upsert(docs, { id: "e03", title: "Dingo pup", year: 2023 }, undefined, ["title", "year"]);
    expect(await stale()).toBe(2);
    expect(ids(await search(query("taller", () => phrase("taller"))))).toEqual(["e02"]);
    expect(await stale()).toBe(0);
    expect(ids(await search(query("pup", () => phrase("pup"))))).toEqual(["e03"]);
    await session.deleteMany(docs, normalizeWhere(docs, { id: { $in: ["e01", "e02", "e03", "e04"] } }));
  });

  test("a transaction searches its own writes; a rollback, or a savepoint's, leaves nothing in the index", async () => {
    const q = query("platypus", () => phrase("platypus"));
    const tx = await f.backend.begin();
    try {
      await tx.upsert(docs, { id: "t01", title: "Platypus", body: null, year: 2022 });
      expect(ids(await searchIn(tx, docs, q))).toEqual(["t01"]);
      await tx.savepoint("s1");
      await tx.upsert(docs, { id: "t02", title: "Platypus two", body: null, year: 2022 });
      expect(ids(await searchIn(tx, docs, q))).toEqual(["t01", "t02"]);
      await tx.rollbackToSavepoint("s1");
      expect(ids(await searchIn(tx, docs, q))).toEqual(["t01"]);
      // Another connection sees none of it.
      expect(await search(q)).toEqual([]);
    } finally {
      await tx.rollback();
    }
    expect(await search(q)).toEqual([]);
    expect(await f.storage.repository(Doc).findById("t01")).toBeNull();
  });

  test("a foreign key's cascade takes the deleted rows out of the search", async () => {
    const notes = f.schemas.get("fts_notes")!;
    await f.storage.repository(Shelf).saveMany([{ id: "s1" }, { id: "s2" }]);
    await f.storage.repository(Note).saveMany([
      { text: "echidna spines", shelfId: "s1" },
      { text: "echidna eggs", shelfId: "s2" },
    ] as Note[]);
    const q = query("echidna", () => phrase("echidna"));
    expect((await searchIn(f.backend.session, notes, q)).map((h) => h.row["shelfId"]).sort()).toEqual(["s1", "s2"]);
    await f.storage.repository(Shelf).delete("s1");
    expect((await searchIn(f.backend.session, notes, q)).map((h) => h.row["shelfId"])).toEqual(["s2"]);
  });

  test("the totals BM25 reads (rows, tokens) follow every write, cascades and rollbacks included, and are summed up once they grow", async () => {
    const check = async (table: string) => {
      const actual = await f.client.query(`SELECT count(*)::int AS rows, coalesce(sum("__strata_fts_len"), 0)::int AS tokens FROM ${table}`);
      const kept = await f.client.query(`SELECT coalesce(sum(rows), 0)::int AS rows, coalesce(sum(tokens), 0)::int AS tokens FROM ${table}__strata_fts_totals`);
      expect(kept.rows[0], table).toEqual(actual.rows[0]);
    };
    const notes = f.schemas.get("fts_notes")!;
    await f.storage.repository(Shelf).save({ id: "s9" });
    for (let i = 0; i < 300; i++) await f.backend.session.insert(notes, { text: `wombat number ${i}`, shelfId: "s9" });
    await f.storage.sql`UPDATE fts_notes SET text = ${"wombat burrow deep"} WHERE text = ${"wombat number 7"}`;
    const tx = await f.backend.begin();
    await tx.insert(notes, { text: "wombat rolled back", shelfId: "s9" });
    await tx.rollback();
    expect((await f.client.query(`SELECT count(*)::int AS n FROM fts_notes__strata_fts_totals`)).rows[0].n).toBeGreaterThan(256);
    const hits = await searchIn(f.backend.session, notes, query("wombat", () => phrase("wombat")), undefined, 1000);
    expect(hits).toHaveLength(300);
    await check("fts_notes");
    expect((await f.client.query(`SELECT count(*)::int AS n FROM fts_notes__strata_fts_totals`)).rows[0].n).toBe(1);
    await f.storage.repository(Shelf).delete("s9");
    await check("fts_notes");
    await check("fts_docs");
    await f.client.query("TRUNCATE fts_notes");
    await check("fts_notes");
  });

  test("random documents and queries: the same matches, scores and order as the reference (test/support/search-reference.ts)", async () => {
    const words = ["a", "ab", "abc", "Abc", "b", "ba", "köln", "KOLN", "kol", "é", "e", "東京", "x", "it's", "back\\slash"];
    const queryText: fc.Arbitrary<string> = fc.letrec<{ or: string; and: string; unary: string; primary: string }>((tie) => ({
      or: fc.oneof({ depthSize: "small", withCrossShrink: true }, tie("and"), fc.tuple(tie("and"), tie("and")).map(([a, b]) => `${a} OR ${b}`)),
      and: fc.tuple(tie("primary"), fc.array(tie("unary"), { maxLength: 2 })).map(([first, rest]) => [first, ...rest].join(" ")),
      unary: fc.oneof(tie("primary"), tie("primary").map((p) => `-${p}`)),
      primary: fc.oneof(
        { depthSize: "small", withCrossShrink: true },
        fc.tuple(fc.constantFrom(...words.slice(0, 13)), fc.boolean()).map(([w, prefix]) => `${w}${prefix ? "*" : ""}`),
        fc.tuple(fc.array(fc.constantFrom(...words.slice(0, 13)), { minLength: 1, maxLength: 3 }), fc.boolean()).map(([ws, prefix]) => `"${ws.join(" ")}"${prefix ? "*" : ""}`),
        tie("or").map((o) => `(${o})`),
      ),
    })).or;
    const corpus = fc
      .array(fc.tuple(fc.array(fc.constantFrom(...words), { maxLength: 6 }), fc.option(fc.array(fc.constantFrom(...words), { maxLength: 4 }))), { minLength: 1, maxLength: 12 })
      .map((rows) => rows.map(([first, second], i) => ({ key: `k${i + 1}`, columns: [first.join(" "), second === null ? null : second.join(" - ")] })));
    const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-12 * Math.max(Math.abs(a), Math.abs(b));
    const session = f.backend.session;
    const saved = (await f.client.query("SELECT id, title, body, year FROM fts_docs")).rows as Array<Record<string, unknown>>;
    try {
      await fc.assert(
        fc.asyncProperty(corpus, fc.array(queryText, { minLength: 1, maxLength: 4 }), async (documents: ReferenceDocument[], texts: string[]) => {
          await session.deleteMany(docs, normalizeWhere(docs, {}));
          await session.upsertMany(docs, documents.map((d) => ({ id: d.key, title: d.columns[0], body: d.columns[1], year: 1 })));
          for (const text of texts) {
            let q: SearchQuery;
            try {
              q = parseSearchQuery(text);
            } catch {
              continue;
            }
            const expected = searchReference(q, documents);
            const found = await search(q);
            expect(found.map((h) => h.row["id"]).sort(), text).toEqual(expected.map((h) => h.key).sort());
            const scores = new Map(expected.map((h) => [h.key, h.score]));
            for (let i = 0; i < found.length; i++) {
              const key = found[i]!.row["id"] as string;
              expect(close(found[i]!.score, scores.get(key)!), `${text}: score of ${key}`).toBe(true);
              if (key !== expected[i]!.key) expect(close(found[i]!.score, expected[i]!.score), `${text}: row ${i}`).toBe(true);
            }
          }
        }),
        { numRuns: 40 },
      );
    } finally {
      await session.deleteMany(docs, normalizeWhere(docs, {}));
      await session.upsertMany(docs, saved);
    }
  });

  test("migrations: renaming the table or an indexed column keeps the index (rebuilt by the next search); dropping an indexed column drops it", async () => {
    const before = (await search(QUERIES[2]!.q)).map((h) => h.score);
    const tx = await f.backend.begin();
    try {
      const editor = tx.schema!();
      await editor.renameTable("fts_docs", "fts_papers");
      await editor.renameColumn("fts_papers", "title", "heading");
      const described = (await editor.describeTable("fts_papers"))!;
      expect(described.fullText).toEqual({ name: "fts_docs_search", properties: ["heading", "body"] });
      expect(await editor.listTables()).toEqual(["fts_notes", "fts_papers", "fts_shelves"]);
      const papers = schemaOfTable(described);
      expect(ids(await searchIn(tx, papers, QUERIES[0]!.q)).sort()).toEqual(["a01", "a02"]);
      const scored = await searchIn(tx, papers, QUERIES[2]!.q);
      expect(scored.map((h) => h.score)).toEqual(before);
      await editor.dropColumn("fts_papers", "body");
      expect((await editor.describeTable("fts_papers"))!.fullText).toBeUndefined();
      expect((await tx.sql!(["SELECT to_regclass('fts_papers__strata_fts_totals') IS NULL AS gone"], [])).rows[0]!["gone"]).toBe(true);
    } finally {
      await tx.rollback();
    }
  });

  test("searching a table whose full-text index was never created is a SchemaError naming the table", async () => {
    const shelves = buildEntitySchema({ ...f.schemas.get("fts_shelves")!, fullText: { name: "fts_shelves_search", properties: ["id"] } });
    const error = await searchIn(f.backend.session, shelves, query("x", () => phrase("x"))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SchemaError);
    expect(error).toMatchObject({ table: "fts_shelves" });
    expect((error as Error).message).toContain("createFullTextIndex");
  });

  test("introspection shows the full-text index, not its hidden columns or indexes; dropping it removes them", async () => {
    const tx = await f.backend.begin();
    try {
      const editor = tx.schema!();
      const described = await editor.describeTable("fts_docs");
      expect(described!.columns.map((c) => c.name)).toEqual(["id", "title", "body", "year"]);
      expect(described!.indexes).toEqual([]);
      expect(described!.fullText).toEqual({ name: "fts_docs_search", properties: ["title", "body"] });
      expect(await editor.listTables()).toEqual(["fts_docs", "fts_notes", "fts_shelves"]);
      await editor.dropFullTextIndex!("fts_docs", "fts_docs_search");
      expect((await editor.describeTable("fts_docs"))!.fullText).toBeUndefined();
      expect((await tx.sql!(["SELECT to_regclass('fts_docs__strata_fts_totals') IS NULL AS gone"], [])).rows[0]!["gone"]).toBe(true);
      const columns = await tx.sql!(["SELECT column_name FROM information_schema.columns WHERE table_name = 'fts_docs' AND table_schema = current_schema() ORDER BY column_name"], []);
      expect(columns.rows.map((r) => r["column_name"])).toEqual(["body", "id", "title", "year"]);
      // Made again by a migration: the rows are indexed again at the next search.
      await editor.createFullTextIndex!("fts_docs", { name: "fts_docs_search", properties: ["title", "body"] });
      expect(ids(await searchIn(tx, docs, QUERIES[0]!.q)).sort()).toEqual(["a01", "a02"]);
    } finally {
      await tx.rollback();
    }
  });
});
