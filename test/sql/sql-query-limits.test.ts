/**
 * Queries past the SQL databases' own limits (SQLite's expression depth of 1000, 32,766 bound parameters
 * in SQLite and 65,535 in PostgreSQL) come back with the memory backend's answer, or are a QueryError
 * naming the limit and the table before anything runs.
 */
import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Storage } from "../../src/index.js";
import { createStorage, QueryError } from "../../src/index.js";
import type { Where } from "../../src/query/query.js";
import { Thing } from "../fixtures/sql-entities.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "../postgres/pg-test-database.js";
import { backendSelected } from "./sql-backend-cases.js";

const ROWS = 500;
/** Ranks, labels and scores repeat with different periods, so OR groups over two columns overlap. */
/** Doubles 2^62 apart by multiples of 4096: exact, and far from integers JSON.stringify spells exactly. */
const bigDouble = (i: number) => 2 ** 62 + i * 4096;
const makeRows = (count: number): Thing[] => Array.from({ length: count }, (_, i) => ({
  id: `t${i}`,
  label: i % 11 === 0 ? null : `l${i % 7}`,
  rank: i % 13 === 0 ? null : i % 500,
  // Large integral doubles, which JSON writes as integers that are not their exact value
  // (2 ** 62 is "4611686018427388000"), and ordinary fractions.
  score: i % 2 === 0 ? bigDouble(i) : i / 7,
  flag: i % 3 === 0,
  at: new Date(Date.UTC(2024, 0, 1) + i * 60_000),
  data: { i },
}));
const rows = makeRows(ROWS);

/** 70,000 distinct ids, 500 of them stored. */
const distinct70k = Array.from({ length: 70_000 }, (_, i) => `t${i}`);
/**
 * 5,000 OR groups of two conditions, one of them bound: SQLite's prepare time grows with the square of the
 * bound parameters (each is a constant it deduplicates against the others), so the test keeps to 5,000.
 */
const fiveThousandGroups: Where<Thing>[] = Array.from({ length: 5000 }, (_, i) => ({ rank: i % 600, label: i % 2 ? { $isNull: false } : { $isNull: true } }));
/** 40,000 groups of two parameters: 80,000 parameters, more than either database binds in one statement. */
const fortyThousandGroups: Where<Thing>[] = Array.from({ length: 40_000 }, (_, i) => ({ rank: { $gte: i % 500 }, label: `l${i % 5}` }));

const sortedIds = (found: readonly Thing[]) => found.map((t) => t.id).sort();
/** Every value of every row, in order, as one string: cheap to compare for thousands of rows. */
const snapshot = (found: readonly Thing[]) => JSON.stringify(found);

function queryLimitCases(name: string, open: () => Promise<Storage>): void {
  describe(`${name}: query limits`, () => {
    let sql: Storage;
    let memory: Storage;
    beforeAll(async () => {
      sql = await open();
      memory = await createStorage({ url: "memory:", entities: [Thing] });
      await sql.repository(Thing).saveMany(rows);
      await memory.repository(Thing).saveMany(rows);
    });
    afterAll(async () => {
      await sql?.close();
      await memory?.close();
    });

    test("findByIds with 70,000 ids returns what memory returns, in the order of the ids", async () => {
      // Shuffled, so that the order of the answer is the order of the ids, not of the table.
      const ids = distinct70k.map((_, i) => distinct70k[(i * 7919) % distinct70k.length]!);
      const found = await sql.repository(Thing).findByIds(ids);
      expect(found.length).toBe(ROWS);
      expect(snapshot(found)).toBe(snapshot(await memory.repository(Thing).findByIds(ids)));
    });

    test("$in and $nin with 70,000 values, on strings, integers and large doubles, answer as memory does", async () => {
      const scores = Array.from({ length: 70_000 }, (_, i) => bigDouble(i * 3));
      const wheres: Where<Thing>[] = [
        { id: { $in: distinct70k } },
        { id: { $nin: distinct70k.slice(100) } },
        { rank: { $in: Array.from({ length: 70_000 }, (_, i) => i * 2) } },
        { score: { $in: scores } },
        { score: { $nin: scores }, flag: true },
      ];
      for (const where of wheres) {
        const expected = await memory.repository(Thing).findAll({ where });
        expect(expected.length).toBeGreaterThan(0);
        expect(sortedIds(await sql.repository(Thing).findAll({ where }))).toEqual(sortedIds(expected));
        expect(await sql.repository(Thing).count(where)).toBe(expected.length);
      }
    });

    test("5,000 OR groups of two conditions: findAll, ordered and limited, and count answer as memory does", async () => {
      const query = { where: fiveThousandGroups, orderBy: { score: "desc" as const }, limit: 200, offset: 3 };
      const expected = await memory.repository(Thing).findAll(query);
      expect(expected.length).toBe(200);
      expect(await sql.repository(Thing).findAll(query)).toEqual(expected);
      expect(await sql.repository(Thing).count(fiveThousandGroups)).toBe(await memory.repository(Thing).count(fiveThousandGroups));
    });

    test("70,000 OR groups of one equality each (one parameter per group) answer as a filter of the rows does", async () => {
      // The expected rows come from a plain filter: the memory backend would test each row against 70,000 groups.
      const scores = Array.from({ length: 70_000 }, (_, i) => bigDouble(i * 3));
      const scoreSet = new Set(scores);
      const cases: Array<[Where<Thing>[], (t: Thing) => boolean]> = [
        [distinct70k.map((id) => ({ id })), () => true],
        [
          [...scores.map((score) => ({ score })), { label: null }, { rank: { $gt: 495 } }],
          (t) => scoreSet.has(t.score!) || t.label === null || (t.rank !== null && t.rank > 495),
        ],
      ];
      for (const [where, matches] of cases) {
        const expected = rows.filter(matches).map((t) => t.id).sort();
        expect(expected.length).toBeGreaterThan(0);
        expect(sortedIds(await sql.repository(Thing).findAll({ where }))).toEqual(expected);
        expect(await sql.repository(Thing).count(where)).toBe(expected.length);
      }
    });

    test("a long OR of equalities with $in: [null] or $in: [] groups on the same column answers as memory does", async () => {
      const equalities = Array.from({ length: 100 }, (_, i) => ({ rank: 1000 + i }));
      const wheres: Where<Thing>[][] = [
        [...equalities, { rank: { $in: [null] } }],
        [...equalities, { rank: { $in: [] } }, { rank: 3 }],
        [...equalities.map((_, i) => ({ label: `x${i}` })), { label: { $in: [null] } }, { label: { $in: [] } }],
      ];
      for (const where of wheres) {
        const expected = await memory.repository(Thing).findAll({ where });
        expect(expected.length).toBeGreaterThan(0);
        expect(sortedIds(await sql.repository(Thing).findAll({ where }))).toEqual(sortedIds(expected));
        expect(await sql.repository(Thing).count(where)).toBe(expected.length);
      }
    });

    test("a where that needs more parameters than one statement binds is a QueryError naming the limit and the table", async () => {
      for (const attempt of [() => sql.repository(Thing).findAll({ where: fortyThousandGroups }), () => sql.repository(Thing).count(fortyThousandGroups)]) {
        const error = await attempt().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(QueryError);
        expect((error as QueryError).table).toBe("sql_things");
        expect((error as Error).message).toMatch(/80000 bound parameters.*\((32766|65535)\)/);
      }
    });

    test("deleteMany with 40,000 and with 5,000 OR groups deletes what memory deletes, all or nothing", async () => {
      const storage = await open();
      const reference = await createStorage({ url: "memory:", entities: [Thing] });
      // Few rows: every row is tested against every one of the 40,000 groups, in both backends.
      const few = makeRows(200);
      try {
        await storage.repository(Thing).saveMany(few);
        await reference.repository(Thing).saveMany(few);
        for (const where of [fortyThousandGroups, fiveThousandGroups]) {
          const expected = await reference.repository(Thing).deleteMany(where);
          expect(expected).toBeGreaterThan(0);
          expect(await storage.repository(Thing).deleteMany(where)).toBe(expected);
          expect(sortedIds(await storage.repository(Thing).findAll())).toEqual(sortedIds(await reference.repository(Thing).findAll()));
        }
        expect(await storage.repository(Thing).count()).toBeGreaterThan(0);
      } finally {
        await storage.close();
        await reference.close();
      }
    });
  });
}

const dir = mkdtempSync(path.join(tmpdir(), "strata-limits-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

describe.skipIf(!backendSelected("sqlite"))("sqlite", () => {
  queryLimitCases("sqlite", () => createStorage({ url: `sqlite:${path.join(dir, `db${++files}.sqlite`)}`, entities: [Thing], autoCreate: true }));
});

const pgSkip = backendSelected("postgres") ? pgSkipReason() : "BACKENDS excludes postgres";
describe.skipIf(pgSkip !== undefined)("postgres", () => {
  let db: PgTestDatabase;
  beforeAll(async () => {
    db = await PgTestDatabase.create(PG_URL!);
  });
  afterAll(async () => {
    await db?.drop();
  });
  queryLimitCases("postgres", async () => createStorage({ url: await db.freshSchemaUrl(), entities: [Thing], autoCreate: true }));
});
