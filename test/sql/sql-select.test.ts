/**
 * Projections on SQL, for each dialect, with no database: the statement a `select` runs names only the
 * selected columns (and the primary key), its rows are decoded by that list, and the work is decided once
 * per projection. (test/sqlite checks on a real database that unselected columns are never read; the
 * conformance suite checks the rows on every backend.)
 */
import { describe, expect, test } from "vitest";
import { SqlSession } from "../../src/backends/sql/sql-session.js";
import { SqlTables } from "../../src/backends/sql/sql-table.js";
import type { SqlRunner } from "../../src/backends/sql/sql-runner.js";
import { postgresDialect } from "../../src/backends/postgres/postgres-dialect.js";
import { sqliteDialect } from "../../src/backends/sqlite/sqlite-dialect.js";
import { normalizeQuery } from "../../src/query/normalize-query.js";
import { ProjectionCache } from "../../src/schema/projection-cache.js";
import { schemaOfTable } from "../../src/schema/table-schema.js";

const schema = schemaOfTable({
  name: "things",
  columns: [
    { name: "id", type: "string", nullable: false, primary: true, unique: false },
    { name: "label", type: "string", nullable: true, primary: false, unique: false },
    { name: "rank", type: "integer", nullable: true, primary: false, unique: false },
    { name: "flag", type: "boolean", nullable: true, primary: false, unique: false },
    { name: "at", type: "datetime", nullable: true, primary: false, unique: false },
    { name: "data", type: "json", nullable: true, primary: false, unique: false },
  ],
  indexes: [],
});
const AT = new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6));

/** A runner that records each statement and answers with `rows`. */
function recordingRunner(rows: unknown[][]): SqlRunner & { texts: string[] } {
  const texts: string[] = [];
  return {
    texts,
    all: (text) => {
      texts.push(text);
      return rows;
    },
    run: () => 0,
    query: () => ({ rows: [], wrote: false }),
  };
}

const dialects = [
  { dialect: sqliteDialect, p: "?", collate: "", at: AT.getTime(), flag: 1 },
  { dialect: postgresDialect, p: "$1", collate: ` COLLATE "C"`, at: AT, flag: true },
];

for (const x of dialects) {
  describe(`${x.dialect.name}: select`, () => {
    const tables = new SqlTables(x.dialect);
    const sorted = (column: string) => `"${column}"${x.collate ? `${x.collate} AS "${column}"` : ""}`;
    const session = (runner: SqlRunner) => new SqlSession({ tables, reads: runner, writes: (work) => work(runner), mapError: (e) => e });

    test("the statement names only the selected columns and the primary key, whatever the where and order use", async () => {
      // Returned in the select list's order: id, label, flag, at.
      const runner = recordingRunner([["k1", "x", x.flag, x.at]]);
      const query = normalizeQuery(schema, { select: ["at", "label", "flag"], where: { rank: { $gt: 1 } }, orderBy: { label: "desc" } });
      const rows = await session(runner).find(schema, query);
      // A string column the order sorts by is read as sorted (collated where the dialect collates): no extra sort column.
      expect(runner.texts).toEqual([`SELECT ${sorted("id")}, ${sorted("label")}, "flag", "at" FROM "things" WHERE "rank" > ${x.p} ORDER BY "label"${x.collate} DESC NULLS LAST, "id"${x.collate} ASC`]);
      expect(rows).toEqual([{ id: "k1", label: "x", flag: true, at: AT }]);
      expect(rows[0]!.at).toBeInstanceOf(Date);
      expect(Object.keys(rows[0]!)).toEqual(["id", "label", "flag", "at"]);
    });

    test("without select, every column is read as before", async () => {
      const runner = recordingRunner([]);
      await session(runner).find(schema, normalizeQuery(schema, {}));
      expect(runner.texts).toEqual([`SELECT ${sorted("id")}, "label", "rank", "flag", "at", "data" FROM "things" ORDER BY "id"${x.collate} ASC`]);
    });

    test("a projection's select list and decoder are decided once, whatever the order of its names", () => {
      const table = tables.get(schema);
      const a = table.projection(normalizeQuery(schema, { select: ["label", "data"] }).select!);
      const b = table.projection(normalizeQuery(schema, { select: ["data", "label", "id", "label"] }).select!);
      expect(b).toBe(a);
      expect(a.select.list).toBe(`"id", "label", "data"`);
      expect(table.projection(normalizeQuery(schema, { select: ["label"] }).select!)).not.toBe(a);
    });
  });
}

describe("ProjectionCache", () => {
  test("holds at most its bound, dropping the oldest projection first", () => {
    const cache = new ProjectionCache<string>(2);
    const [id, label, rank] = schema.columns;
    let built = 0;
    const build = (columns: readonly { property: string }[]) => `${++built}:${columns.map((c) => c.property).join(",")}`;
    expect(cache.get([id!, label!], build)).toBe("1:id,label");
    expect(cache.get([id!, label!], build)).toBe("1:id,label");
    expect(cache.get([id!, rank!], build)).toBe("2:id,rank");
    expect(cache.get([id!], build)).toBe("3:id");
    expect(cache.size).toBe(2);
    // The oldest (id,label) was dropped: asked again, it is built again.
    expect(cache.get([id!, label!], build)).toBe("4:id,label");
    expect(cache.get([id!], build)).toBe("3:id");
  });
});
