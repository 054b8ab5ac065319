import Database from "better-sqlite3";
import { expect, test } from "vitest";
import { correctLog } from "../../src/search/correct-log.js";

test("correctLog rounds ln correctly (values checked with 50-digit decimals)", () => {
  expect(correctLog(3)).toBe(1.0986122886681098);
  expect(correctLog(1.1714285714285715)).toBe(0.1582240052148942);
  expect(correctLog(5.3076923076923075)).toBe(1.6691571471357227);
  expect(correctLog(0.8740157480314961)).toBe(-0.13465688514625712);
  expect(correctLog(1)).toBe(0);
  expect(correctLog(2)).toBe(Math.LN2);
  expect(correctLog(Number.MAX_VALUE)).toBe(709.782712893384);
  expect(correctLog(5e-324)).toBe(-744.4400719213812);
  expect(correctLog(0)).toBe(-Infinity);
  expect(correctLog(-1)).toBeNaN();
});

test("correctLog agrees with SQLite's ln() on BM25's IDF arguments, at most one ulp apart elsewhere", () => {
  const db = new Database(":memory:");
  const ln = db.prepare("SELECT ln(?)").pluck();
  let differ = 0;
  let total = 0;
  for (let n = 1; n <= 300; n++) {
    for (let hit = 0; hit <= n; hit++) {
      const x = (n - hit + 0.5) / (hit + 0.5);
      const expected = ln.get(x) as number;
      const actual = correctLog(x);
      total++;
      if (actual !== expected) {
        differ++;
        expect(Math.abs(actual - expected)).toBeLessThanOrEqual(Math.abs(expected) * 2.3e-16);
      }
    }
  }
  db.close();
  // glibc's log() is within 0.52 ulp, so it rounds the other way now and then (V8's Math.log: 6% of these).
  expect(differ / total).toBeLessThan(0.002);
});
