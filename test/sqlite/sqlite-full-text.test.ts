/**
 * SQLite's full-text index (an FTS5 external-content table kept by triggers, sqlite-full-text.ts), through
 * the SPI: search answers as raw FTS5 does over the same text, every kind of write keeps the index in step
 * inside its own transaction, migrations and autoCreate make and drop it, a copy carries it, and names
 * with quotes go through quoted. The query trees are built by hand here (the parser is core's).
 */
import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn, PrimaryGeneratedColumn } from "typeorm";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import type { Backend, EntitySchema, TransactionHandle } from "../../src/index.js";
import { readEntitySchema, SchemaError, UnsupportedError } from "../../src/index.js";
import { openBackend } from "../../src/conformance/index.js";
import { copyBackend } from "../../src/copy/copy-backend.js";
import { createMigrationContext } from "../../src/migrations/schema-migration-context.js";
import type { MigrationContext } from "../../src/migrations/migration-context.js";
import { normalizeWhere } from "../../src/query/normalize-query.js";
import type { SearchNode, SearchPhrase, SearchQuery } from "../../src/search/search-query.js";
import type { SearchHit } from "../../src/spi/index.js";
import { ftsMatchExpression } from "../../src/backends/sqlite/sqlite-full-text.js";
import { backendSelected } from "../sql/sql-backend-cases.js";

@Entity("fts_places")
class Place {
  @PrimaryColumn({ type: "varchar" }) id!: string;
  @Column({ type: "varchar" }) name!: string;
  @Column({ type: "varchar", nullable: true }) altName!: string | null;
  @Column({ type: "integer" }) population!: number;
  @Column({ type: "varchar", nullable: true }) countryId!: string | null;
}

@Entity("fts_countries")
class Country {
  @PrimaryColumn({ type: "varchar" }) id!: string;
  @Column({ type: "varchar" }) name!: string;
}

@Entity("fts_notes")
class Note {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: "varchar" }) text!: string;
  @Column({ type: "varchar" }) countryId!: string;
  @ManyToOne(() => Country, { nullable: false, onDelete: "CASCADE" }) @JoinColumn({ name: "countryId" }) country?: Country;
}

@Entity(`fts_we"ird't`)
class Weird {
  @PrimaryColumn({ type: "varchar" }) id!: string;
  @Column({ type: "varchar", name: `ti"t'le` }) title!: string;
}

/** `schema` with a full-text index over `properties` (core reads it from `@Index({ fulltext: true })`). */
function searchable(schema: EntitySchema, properties: string[], name = `fts_${schema.table}`): EntitySchema {
  return { ...schema, fullText: { name, properties } };
}

const places = searchable(readEntitySchema(Place), ["name", "altName"]);
const countries = readEntitySchema(Country);
const notes = searchable(readEntitySchema(Note), ["text"]);
const weird = searchable(readEntitySchema(Weird), ["title"]);

// Hand-made query trees, as search-parser.ts would build them.
let phraseCount = 0;
const phrase = (text: string, prefix = false): SearchPhrase => ({ kind: "phrase", tokens: text.split(" "), prefix, index: phraseCount++ });
const and = (...children: SearchNode[]): SearchNode => ({ kind: "and", children });
const or = (...children: SearchNode[]): SearchNode => ({ kind: "or", children });
const not = (child: SearchNode): SearchNode => ({ kind: "not", child });
function query(root: SearchNode): SearchQuery {
  const phrases: SearchPhrase[] = [];
  const walk = (n: SearchNode): void => {
    if (n.kind === "phrase") phrases.push(n);
    else if (n.kind === "not") walk(n.child);
    else n.children.forEach(walk);
  };
  walk(root);
  return { text: "(hand-made)", root, phrases: phrases.map((p, index) => ({ ...p, index })) };
}

const CORPUS = [
  { id: "p01", name: "San Francisco", altName: "SF Frisco", population: 870000, countryId: "us" },
  { id: "p02", name: "San José", altName: "San Jose", population: 1000000, countryId: "us" },
  { id: "p03", name: "Köln", altName: "Cologne Koeln", population: 1080000, countryId: "de" },
  { id: "p04", name: "Koln Süd", altName: null, population: 5000, countryId: "de" },
  { id: "p05", name: "Santa Fe", altName: "Santa Fé de Nuevo México", population: 87000, countryId: "us" },
  { id: "p06", name: "Francisco Morazán", altName: "San Francisco de Morazán", population: 1000, countryId: "hn" },
  { id: "p07", name: "New York", altName: "NYC New Amsterdam", population: 8000000, countryId: "us" },
  { id: "p08", name: "York", altName: null, population: 200000, countryId: "gb" },
  { id: "p09", name: "Łódź", altName: "Lodz", population: 670000, countryId: "pl" },
  { id: "p10", name: "São Paulo", altName: "Sao Paulo SP", population: 12000000, countryId: "br" },
  { id: "p11", name: "San Juan", altName: "San Juan Bautista", population: 340000, countryId: "pr" },
  { id: "p12", name: "Amsterdam", altName: "Mokum", population: 900000, countryId: "nl" },
];

const QUERIES: Array<[string, SearchNode]> = [
  ["a word", phrase("san")],
  ["a folded word (Köln finds Koln)", phrase("koln")],
  ["two words", and(phrase("san"), phrase("francisco"))],
  ["a phrase", phrase("san francisco")],
  ["a prefix", phrase("fra", true)],
  ["a phrase with a prefix", phrase("san j", true)],
  ["or", or(phrase("york"), phrase("lodz"))],
  ["an exclusion", and(phrase("san"), not(phrase("jose")))],
  ["two exclusions", and(phrase("san"), not(phrase("jose")), not(phrase("juan")))],
  ["and inside or", or(and(phrase("new"), phrase("york")), phrase("amsterdam"))],
  ["or inside and", and(or(phrase("santa"), phrase("san")), phrase("fe", true))],
  ["no match", phrase("atlantis")],
];

/** Raw FTS5 over the same text (an ordinary FTS5 table, not external content): ids and scores, best first. */
function rawFts5(match: string): Array<{ id: string; score: number }> {
  const db = new Database(":memory:");
  try {
    db.exec(`CREATE VIRTUAL TABLE raw USING fts5(id UNINDEXED, name, altName, tokenize='unicode61 remove_diacritics 2')`);
    const insert = db.prepare(`INSERT INTO raw(id, name, altName) VALUES (?, ?, ?)`);
    for (const p of CORPUS) insert.run(p.id, p.name, p.altName);
    // UNINDEXED columns count no tokens, so bm25 is as over (name, altName) alone.
    return db.prepare(`SELECT id, -bm25(raw) AS score FROM raw WHERE raw MATCH ? ORDER BY bm25(raw), id`).all(match) as Array<{ id: string; score: number }>;
  } finally {
    db.close();
  }
}

const ids = (hits: readonly SearchHit[]): string[] => hits.map((h) => String(h.row["id"] ?? h.row["name"]));

describe.skipIf(!backendSelected("sqlite"))("sqlite: full-text search", () => {
  let dir: string;
  let file: string;
  let backend: Backend;
  const open = (schemas: readonly EntitySchema[] = [countries, places, notes]) => openBackend({ url: `sqlite:${file}`, autoCreate: true }, schemas);
  const search = (root: SearchNode, options: { where?: Record<string, unknown>; limit?: number; offset?: number } = {}, session = backend.session, schema = places) =>
    session.search!(schema, { query: query(root), where: options.where === undefined ? undefined : normalizeWhere(schema, options.where), limit: options.limit ?? 100, offset: options.offset ?? 0 });
  /** FTS5's own check of the index against the table's rows (throws "database disk image is malformed" when out of step). */
  const integrityCheck = (table = "fts_places") => {
    const db = new Database(file);
    try {
      db.prepare(`INSERT INTO "${table}__fts"("${table}__fts", rank) VALUES ('integrity-check', 1)`).run();
    } finally {
      db.close();
    }
  };

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "strata-fts-"));
    file = path.join(dir, "db.sqlite");
    backend = await open();
    await backend.session.upsertMany(countries, ["us", "de", "hn", "gb", "pl", "br", "pr", "nl"].map((id) => ({ id, name: id.toUpperCase() })));
    await backend.session.upsertMany(places, CORPUS);
  });
  afterEach(async () => {
    await backend.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test.each(QUERIES)("%s: the same rows, scores and order as raw FTS5", async (_label, root) => {
    const expected = rawFts5(ftsMatchExpression(query(root)));
    const hits = await search(root);
    expect(ids(hits)).toEqual(expected.map((r) => r.id));
    hits.forEach((hit, i) => expect(hit.score).toBeCloseTo(expected[i]!.score, 12));
    for (const hit of hits) expect(hit.score).toBeGreaterThan(0);
    // Whole rows come back, decoded.
    if (hits[0]) expect(hits[0].row).toEqual(CORPUS.find((p) => p.id === hits[0]!.row["id"]));
  });

  test("the FTS5 expression quotes every phrase and parenthesizes every operator", () => {
    expect(ftsMatchExpression(query(and(or(phrase("a"), phrase("b c", true)), not(phrase('x"y')))))).toBe(`(("a" OR "b c"*) NOT "x""y")`);
    // FTS5's own operators inside a phrase are words, never syntax.
    expect(ftsMatchExpression(query(phrase("near or not")))).toBe(`"near or not"`);
  });

  test("where, limit and offset: filtered by the query language, paged after ranking, ties by primary key", async () => {
    const all = await search(phrase("san"));
    expect(ids(await search(phrase("san"), { where: { countryId: "us" } }))).toEqual(ids(all).filter((id) => CORPUS.find((p) => p.id === id)!.countryId === "us"));
    expect(ids(await search(phrase("san"), { where: { population: { $gte: 500000 } }, limit: 1 }))).toEqual(
      ids(all).filter((id) => CORPUS.find((p) => p.id === id)!.population >= 500000).slice(0, 1),
    );
    expect(ids(await search(phrase("san"), { limit: 2, offset: 1 }))).toEqual(ids(all).slice(1, 3));
    expect(await search(phrase("san"), { limit: 0 })).toEqual([]);
    // Equal documents score equally: the primary key orders them.
    await backend.session.upsertMany(places, [
      { id: "z2", name: "Twin", altName: null, population: 1, countryId: null },
      { id: "z1", name: "Twin", altName: null, population: 1, countryId: null },
    ]);
    expect(ids(await search(phrase("twin")))).toEqual(["z1", "z2"]);
    // A relation condition in the where names the table unaliased.
    const rows = await search(phrase("san"), { where: { countryId: { $in: ["us", "hn"] } } });
    expect(ids(rows).sort()).toEqual(["p01", "p02", "p06"]);
  });

  test("every write keeps the index in step: insert, update, upsert, upsertMany, delete, deleteMany, a cascade", async () => {
    const s = backend.session;
    await s.insert(places, { id: "n1", name: "Atlantis", altName: null, population: 1, countryId: "us" });
    expect(ids(await search(phrase("atlantis")))).toEqual(["n1"]);
    await s.update(places, "n1", { name: "Lemuria" });
    expect(await search(phrase("atlantis"))).toEqual([]);
    expect(ids(await search(phrase("lemuria")))).toEqual(["n1"]);
    // An update of another column leaves the text (and its index) alone.
    await s.update(places, "n1", { population: 2 });
    expect(ids(await search(phrase("lemuria")))).toEqual(["n1"]);
    await s.upsert(places, { id: "n1", name: "Mu", altName: "Lemuria", population: 3, countryId: "us" });
    expect(ids(await search(and(phrase("mu"), phrase("lemuria"))))).toEqual(["n1"]);
    await s.upsertMany(places, [
      { id: "n1", name: "Hyperborea", altName: null, population: 3, countryId: "us" },
      { id: "n2", name: "Hyperborea Nova", altName: null, population: 4, countryId: "us" },
    ]);
    expect(await search(phrase("mu"))).toEqual([]);
    expect(ids(await search(phrase("hyperborea")))).toEqual(["n1", "n2"]);
    await s.upsertMany(places, [{ id: "n3", name: "Hyperborea Tertia", altName: null, population: 5, countryId: "us" }], { returnRows: false });
    expect(ids(await search(phrase("hyperborea")))).toHaveLength(3);
    await s.delete(places, "n1");
    expect(ids(await search(phrase("hyperborea")))).toEqual(["n2", "n3"]);
    await s.deleteMany(places, normalizeWhere(places, { population: { $gte: 4, $lte: 5 } }));
    expect(await search(phrase("hyperborea"))).toEqual([]);
    // A foreign key's cascade deletes rows of another table: its triggers run too.
    await s.insert(notes, { text: "Quarterly report on Bavaria", countryId: "de" });
    await s.insert(notes, { text: "Report on Texas", countryId: "us" });
    expect(await search(phrase("report"), {}, s, notes)).toHaveLength(2);
    await s.delete(countries, "de");
    expect((await search(phrase("report"), {}, s, notes)).map((h) => h.row["text"])).toEqual(["Report on Texas"]);
    // A user's statement (storage.sql), a REPLACE among them, goes through the same triggers.
    await s.sql!([`INSERT OR REPLACE INTO "fts_places" ("id", "name", "altName", "population", "countryId") VALUES (`, ", ", ", NULL, 1, NULL)"], ["p08", "Jorvik"]);
    expect(ids(await search(phrase("york")))).toEqual(["p07"]);
    expect(ids(await search(phrase("jorvik")))).toEqual(["p08"]);
    integrityCheck("fts_places");
    integrityCheck("fts_notes");
  });

  test("a rolled-back transaction or savepoint leaves the index as it was; inside, search sees the transaction's writes", async () => {
    const before = await search(phrase("san"));
    const tx: TransactionHandle = await backend.begin();
    await tx.insert(places, { id: "t1", name: "San Nowhere", altName: null, population: 1, countryId: null });
    await tx.delete(places, "p01");
    expect(ids(await search(phrase("san"), {}, tx))).toContain("t1");
    expect(ids(await search(phrase("san"), {}, tx))).not.toContain("p01");
    await tx.savepoint("s1");
    await tx.update(places, "p02", { name: "Somewhere Else", altName: null });
    expect(ids(await search(phrase("san"), {}, tx))).not.toContain("p02");
    await tx.rollbackToSavepoint("s1");
    expect(ids(await search(phrase("san"), {}, tx))).toContain("p02");
    await tx.rollback();
    expect(await search(phrase("san"))).toEqual(before);
    integrityCheck();
  });

  test("reopening keeps the index; a table with rows that gains one at open (autoCreate) gets its rows indexed", async () => {
    const before = await search(phrase("san"));
    await backend.close();
    backend = await open();
    expect(await search(phrase("san"))).toEqual(before);
    // The same tables opened by an entity without the index: the table's rows are there, the index stays.
    await backend.close();
    const db = new Database(file);
    db.exec(`DROP TRIGGER "fts_places__fts_insert"; DROP TRIGGER "fts_places__fts_delete"; DROP TRIGGER "fts_places__fts_update"; DROP TABLE "fts_places__fts"`);
    db.close();
    backend = await open();
    expect(await search(phrase("san"))).toEqual(before);
    integrityCheck();
  });

  test("migrations create and drop it; introspection reports it and hides its tables; the name collision is refused", async () => {
    const tx = await backend.begin();
    const editor = tx.schema!();
    const m: MigrationContext = createMigrationContext(backend.name, editor, tx, new Set());
    expect(await editor.listTables()).toEqual(["fts_countries", "fts_notes", "fts_places"]);
    expect((await editor.describeTable("fts_places"))?.fullText).toEqual({ name: "fts_fts_places", properties: ["name", "altName"] });
    await expect(m.createFullTextIndex("fts_places", ["name"])).rejects.toThrow(/has a full-text index already/);
    await expect(m.dropFullTextIndex("fts_places", "other")).rejects.toThrow(SchemaError);
    await m.dropFullTextIndex("fts_places");
    expect((await editor.describeTable("fts_places"))?.fullText).toBeUndefined();
    await expect(search(phrase("san"), {}, tx)).rejects.toThrow();
    await expect(m.createFullTextIndex("fts_places", ["population"])).rejects.toThrow(/not a string column/);
    await expect(m.createFullTextIndex("fts_places", ["nope"])).rejects.toThrow(SchemaError);
    await m.createFullTextIndex("fts_places", ["altName"], "places_alt");
    expect((await editor.describeTable("fts_places"))?.fullText).toEqual({ name: "places_alt", properties: ["altName"] });
    expect(ids(await search(phrase("frisco"), {}, tx, { ...places, fullText: { name: "places_alt", properties: ["altName"] } }))).toEqual(["p01"]);
    // Renames carry it (made again for the new names, its rows indexed anew).
    await m.renameColumn("fts_places", "altName", "otherName");
    await m.renameTable("fts_places", "fts_towns");
    expect((await editor.describeTable("fts_towns"))?.fullText).toEqual({ name: "places_alt", properties: ["otherName"] });
    expect(await editor.listTables()).toEqual(["fts_countries", "fts_notes", "fts_towns"]);
    // Dropping its column drops it.
    await m.dropColumn("fts_towns", "otherName");
    expect((await editor.describeTable("fts_towns"))?.fullText).toBeUndefined();
    // A table named as the index's own table would be is not taken over.
    await m.createTable("clash", { id: { type: "integer", primary: true }, body: { type: "string" } });
    await m.createTable("clash__fts", { id: { type: "integer", primary: true } });
    await expect(m.createFullTextIndex("clash", ["body"])).rejects.toThrow(/clash__fts/);
    await m.dropTable("fts_notes");
    expect(await editor.listTables()).toEqual(["clash", "clash__fts", "fts_countries", "fts_towns"]);
    await tx.rollback();
    expect((await backend.session.search!(places, { query: query(phrase("san")), where: undefined, limit: 3, offset: 0 })).length).toBe(3);
  });

  test("strata copy carries the index: the target recreates it and indexes the rows copied", async () => {
    const targetFile = path.join(dir, "copy.sqlite");
    const target = await openBackend({ url: `sqlite:${targetFile}` });
    try {
      await copyBackend(backend, target);
      const tx = await target.begin();
      expect((await tx.schema!().describeTable("fts_places"))?.fullText).toEqual({ name: "fts_fts_places", properties: ["name", "altName"] });
      await tx.rollback();
      expect(await search(phrase("san"), {}, target.session)).toEqual(await search(phrase("san")));
    } finally {
      await target.close();
    }
    // A target without full-text search is refused before anything is written to it.
    const memory = await openBackend({ url: "memory:" });
    try {
      const tx = await memory.begin();
      const supported = tx.schema!().createFullTextIndex !== undefined;
      await tx.rollback();
      if (!supported) {
        await expect(copyBackend(backend, memory)).rejects.toThrow(UnsupportedError);
        const check = await memory.begin();
        expect(await check.schema!().listTables()).toEqual([]);
        await check.rollback();
      }
    } finally {
      await memory.close();
    }
  });

  test("table and column names with quotes are quoted, never spliced", async () => {
    await backend.close();
    backend = await open([weird]);
    await backend.session.upsertMany(weird, [
      { id: "a", title: `It's "quoted"` },
      { id: "b", title: "plain" },
    ]);
    expect((await search(phrase("quoted"), {}, backend.session, weird)).map((h) => h.row)).toEqual([{ id: "a", title: `It's "quoted"` }]);
    expect((await search(phrase("plain"), { where: { title: "plain" } }, backend.session, weird)).map((h) => h.row["id"])).toEqual(["b"]);
    const tx = await backend.begin();
    expect((await tx.schema!().describeTable(`fts_we"ird't`))?.fullText).toEqual({ name: `fts_fts_we"ird't`, properties: [`ti"t'le`] });
    expect(await tx.schema!().listTables()).toEqual(["fts_countries", "fts_notes", "fts_places", `fts_we"ird't`]);
    await tx.rollback();
  });
});
