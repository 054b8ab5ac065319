/**
 * The city-data cases of issue 11 on the in-memory engine: each of the 15 queries of bench/city-queries.ts
 * through the memory and the file backend, beside plain better-sqlite3 running the same query by hand on a
 * table with the same indexes (made by Strata's sqlite backend). Then every row by `iterate`, ordered by an
 * indexed column and by an unindexed one, beside better-sqlite3's `.iterate()`, and `findPage` page 1 and
 * page 1000. The issue's goal: at most the anchor's time (ratio >= 1). The cache is off.
 * BENCH_CITIES_ITERATE=0 leaves out the all-rows cases (a minute or more each while iterate pages by OFFSET).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
import { createStorage } from "../../src/index.js";
import { CITY_COLUMNS, City, cityQueries, findPageCases, iterateAll, loadCities, sqliteAnchor } from "../city-queries.js";
import type { BenchGroup, BenchPair } from "../harness.js";

const GOAL = 1;
const withIterate = process.env["BENCH_CITIES_ITERATE"] !== "0";

export default async function citiesEngineBench(): Promise<BenchGroup> {
  const cities = loadCities();
  const queries = cityQueries(cities.map((c) => c.id));
  const dir = mkdtempSync(path.join(tmpdir(), "strata-bench-cities-engine-"));
  const file = path.join(dir, "cities.db");
  const sqlite = await createStorage({ url: `sqlite:${file}`, entities: [City], autoCreate: true, cache: false });
  await sqlite.repository(City).saveMany(cities, { chunkSize: 5000 });
  await sqlite.close();
  const raw = new Database(file, { readonly: true });

  const memory = await createStorage({ url: "memory:", entities: [City], autoCreate: true, cache: false });
  const files = await createStorage({ url: `file:${path.join(dir, "data")}`, entities: [City], autoCreate: true, cache: false });
  const pairs: BenchPair[] = [];
  let i = 0;
  let j = 0;
  for (const [label, storage] of [["memory", memory], ["file", files]] as const) {
    const repo = storage.repository(City);
    await repo.saveMany(cities, { chunkSize: 5000 });
    for (const q of queries) {
      const anchor = sqliteAnchor(raw, q);
      pairs.push({ name: `${label}.${q.name}`, anchor: "better-sqlite3, same SQL by hand", minRatio: GOAL, run: () => q.strata(repo, i++), anchorRun: () => anchor(j++) });
    }
    for (const [column, indexed] of withIterate ? ([["population", true], ["lat", false]] as const) : []) {
      const statement = raw.prepare(`SELECT ${CITY_COLUMNS} FROM cities ORDER BY ${column} DESC NULLS LAST, id`);
      pairs.push({
        name: `${label}.iterate all by ${column} (${indexed ? "index" : "no index"})`,
        anchor: "better-sqlite3 .iterate()",
        // A walk of 135k rows takes most of a second: tinybench's 64 runs a round would take minutes a case.
        iterations: 5,
        minRatio: GOAL,
        run: () => iterateAll(repo, { [column]: "desc" }),
        anchorRun: () => {
          let n = 0;
          for (const _ of statement.iterate()) n++;
          return n;
        },
      });
    }
    const first = raw.prepare(`SELECT ${CITY_COLUMNS} FROM cities ORDER BY population DESC NULLS LAST, id LIMIT 100`);
    const after = raw.prepare(`SELECT ${CITY_COLUMNS} FROM cities WHERE population < ? OR (population = ? AND id > ?) ORDER BY population DESC NULLS LAST, id LIMIT 100`);
    pairs.push(...(await findPageCases(repo, label, (position) => (position ? after.all(position.population, position.population, position.id) : first.all()))));
  }

  return {
    pairs,
    close: async () => {
      raw.close();
      await files.close();
      await memory.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
