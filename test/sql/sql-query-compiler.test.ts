/**
 * The SQL query compiler on its own, for each dialect: the exact text and parameters emitted for each
 * operator, ordering, limit and offset, `$in` lists, long ORs (merged into one list, or balanced), and the
 * QueryError past a database's parameter limit. No database runs here: the conformance suite checks that
 * the same queries return the memory backend's rows.
 */
import { describe, expect, test } from "vitest";
import { QueryError } from "../../src/index.js";
import { compileCount, compileDeleteMany, compileFind } from "../../src/backends/sql/sql-query-compiler.js";
import type { SqlDialect } from "../../src/backends/sql/sql-dialect.js";
import { makeRowCodec } from "../../src/backends/sql/sql-row-codec.js";
import { postgresDialect } from "../../src/backends/postgres/postgres-dialect.js";
import { sqliteDialect } from "../../src/backends/sqlite/sqlite-dialect.js";
import { normalizeQuery, normalizeWhere } from "../../src/query/normalize-query.js";
import { schemaOfTable } from "../../src/schema/table-schema.js";

const schema = schemaOfTable({
  name: "things",
  columns: [
    { name: "id", type: "string", nullable: false, primary: true, unique: false },
    { name: "label", type: "string", nullable: true, primary: false, unique: false },
    { name: "rank", type: "integer", nullable: true, primary: false, unique: false },
    { name: "score", type: "number", nullable: true, primary: false, unique: false },
    { name: "flag", type: "boolean", nullable: true, primary: false, unique: false },
    { name: "at", type: "datetime", nullable: true, primary: false, unique: false },
    { name: "data", type: "json", nullable: true, primary: false, unique: false },
  ],
  indexes: [],
});
const COLUMNS = ["id", "label", "rank", "score", "flag", "at", "data"];
const AT = new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6));

/** What differs between the dialects in the expected text, spelled once per dialect. */
interface Expected {
  readonly dialect: SqlDialect;
  /** The placeholder of the n-th parameter. */
  readonly p: (n: number) => string;
  /** A string column as compared and ordered. */
  readonly s: (column: string) => string;
  /** `column` in the list bound as parameter `ph`. */
  readonly list: (column: string, ph: string, type: string) => string;
  /** A list of encoded values as bound. */
  readonly listValue: (values: unknown[]) => unknown;
  readonly like: (ph: string) => string;
  readonly likeParam: string;
  readonly ilike: (ph: string) => string;
  /** The folded-prefix range before an `$ilike` with a literal prefix, or undefined where the dialect adds none. */
  readonly ilikeRange?: (low: string, high?: string) => string;
  readonly limit: (limit?: string, offset?: string) => string;
  /** The offset is written as digits, not bound (the limit always is). */
  readonly literalOffset: boolean;
  /** A string column the order sorts by, as the select list reads it (collated where the dialect collates). */
  readonly sorted: (column: string) => string;
  readonly encodedAt: unknown;
  readonly encodedTrue: unknown;
  readonly maxParams: number;
}

const sqlite: Expected = {
  dialect: sqliteDialect,
  p: () => "?",
  s: (column) => `"${column}"`,
  list: (column, ph, type) => (type === "number" ? `"${column}" IN (SELECT CAST(value AS REAL) FROM json_each(${ph}))` : `"${column}" IN (SELECT value FROM json_each(${ph}))`),
  listValue: (values) => JSON.stringify(values),
  like: (ph) => `"label" GLOB ${ph}`,
  // GLOB's own special characters stay literal in brackets; % and _ become * and ?.
  likeParam: "a*[*][?]?",
  ilike: (ph) => `"label" LIKE ${ph}`,
  limit: (limit, offset) => (limit || offset ? ` LIMIT ${limit ?? "-1"}${offset ? ` OFFSET ${offset}` : ""}` : ""),
  literalOffset: false,
  sorted: (column) => `"${column}"`,
  encodedAt: AT.getTime(),
  encodedTrue: 1,
  maxParams: 32766,
};

const postgres: Expected = {
  dialect: postgresDialect,
  p: (n) => `$${n}`,
  s: (column) => `"${column}" COLLATE "C"`,
  list: (column, ph, type) => `"${column}" = ANY(${ph}::${{ string: "text[]", integer: "bigint[]", number: "float8[]" }[type]})`,
  listValue: (values) => values,
  like: (ph) => `"label" LIKE ${ph} ESCAPE ''`,
  likeParam: "a%*?_",
  ilike: (ph) => `translate("label", 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') LIKE translate(${ph}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') ESCAPE ''`,
  ilikeRange: (low, high) => {
    const folded = `translate("label", 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') COLLATE "C"`;
    return `${folded} >= ${low}${high ? ` AND ${folded} < ${high}` : ""}`;
  },
  limit: (limit, offset) => `${limit ? ` LIMIT ${limit}` : ""}${offset ? ` OFFSET ${offset}` : ""}`,
  literalOffset: true,
  sorted: (column) => `"${column}" COLLATE "C" AS "${column}"`,
  encodedAt: AT.toISOString(),
  encodedTrue: true,
  maxParams: 65535,
};

for (const x of [sqlite, postgres]) {
  const { dialect, p, s } = x;
  const codec = makeRowCodec(schema, dialect);
  const find = (query: unknown, suffix?: string) => compileFind(schema, normalizeQuery(schema, query), dialect, codec, suffix);
  const where = (w: unknown) => compileCount(schema, normalizeWhere(schema, w), dialect, codec);
  const ORDER = ` ORDER BY ${s("id")} ASC`;
  /** The select of every column, those the order sorts by as {@link Expected.sorted} reads them (the primary key always is). */
  const select = (...sortedBy: string[]) =>
    `SELECT ${COLUMNS.map((c) => ((c === "id" || sortedBy.includes(c)) && (c === "id" || c === "label") ? x.sorted(c) : `"${c}"`)).join(", ")} FROM "things"`;
  const SELECT = select();

  describe(`${dialect.name}: SQL query compiler`, () => {
    test("no where selects every row, ordered by the primary key", () => {
      expect(find({})).toEqual({ text: `${SELECT}${ORDER}`, params: [] });
    });

    test("an empty OR matches nothing; an empty AND-group matches everything", () => {
      expect(where([])).toEqual({ text: `SELECT COUNT(*) FROM "things" WHERE 1 = 0`, params: [] });
      expect(where([{ rank: 1 }, {}])).toEqual({ text: `SELECT COUNT(*) FROM "things"`, params: [] });
    });

    test("comparisons: strings collated by code point, values encoded for the column", () => {
      expect(where({ label: "a" })).toEqual({ text: `SELECT COUNT(*) FROM "things" WHERE ${s("label")} = ${p(1)}`, params: ["a"] });
      expect(where({ rank: { $gt: 1, $gte: 2, $lt: 9, $lte: 8 } })).toEqual({
        text: `SELECT COUNT(*) FROM "things" WHERE "rank" > ${p(1)} AND "rank" >= ${p(2)} AND "rank" < ${p(3)} AND "rank" <= ${p(4)}`,
        params: [1, 2, 9, 8],
      });
      expect(where({ at: { $lt: AT }, flag: true })).toEqual({
        text: `SELECT COUNT(*) FROM "things" WHERE "at" < ${p(1)} AND "flag" = ${p(2)}`,
        params: [x.encodedAt, x.encodedTrue],
      });
    });

    test("$ne matches null; null and $isNull test for null", () => {
      expect(where({ rank: { $ne: 3 } })).toEqual({ text: `SELECT COUNT(*) FROM "things" WHERE ("rank" IS NULL OR "rank" <> ${p(1)})`, params: [3] });
      expect(where({ rank: null, label: { $isNull: false } })).toEqual({ text: `SELECT COUNT(*) FROM "things" WHERE "rank" IS NULL AND "label" IS NOT NULL`, params: [] });
    });

    test("$in and $nin bind one list parameter whatever their length; null in the list tests for null", () => {
      expect(where({ rank: { $in: [1, 2, 3] } })).toEqual({ text: `SELECT COUNT(*) FROM "things" WHERE ${x.list("rank", p(1), "integer")}`, params: [x.listValue([1, 2, 3])] });
      expect(where({ score: { $in: [1.5, null] } })).toEqual({
        text: `SELECT COUNT(*) FROM "things" WHERE (${x.list("score", p(1), "number")} OR "score" IS NULL)`,
        params: [x.listValue([1.5])],
      });
      expect(where({ label: { $nin: ["a"] } })).toEqual({ text: `SELECT COUNT(*) FROM "things" WHERE ("label" IS NULL OR NOT (${x.list("label", p(1), "string")}))`, params: [x.listValue(["a"])] });
      expect(where({ label: { $nin: ["a", null] } })).toEqual({
        text: `SELECT COUNT(*) FROM "things" WHERE ("label" IS NOT NULL AND NOT (${x.list("label", p(1), "string")}))`,
        params: [x.listValue(["a"])],
      });
    });

    test("empty lists: $in [] matches nothing, $nin [] everything, with null only null", () => {
      expect(where({ rank: { $in: [] } }).text).toBe(`SELECT COUNT(*) FROM "things" WHERE 1 = 0`);
      expect(where({ rank: { $nin: [] } }).text).toBe(`SELECT COUNT(*) FROM "things" WHERE 1 = 1`);
      expect(where({ rank: { $in: [null] } }).text).toBe(`SELECT COUNT(*) FROM "things" WHERE "rank" IS NULL`);
      expect(where({ rank: { $nin: [null] } }).text).toBe(`SELECT COUNT(*) FROM "things" WHERE "rank" IS NOT NULL`);
    });

    test("$like is case-sensitive with only % and _ special; $ilike folds ASCII letters", () => {
      expect(where({ label: { $like: "a%*?_" } })).toEqual({ text: `SELECT COUNT(*) FROM "things" WHERE ${x.like(p(1))}`, params: [x.likeParam] });
      if (x.ilikeRange) {
        expect(where({ label: { $ilike: "A%" } })).toEqual({ text: `SELECT COUNT(*) FROM "things" WHERE ${x.ilikeRange(p(1), p(2))} AND ${x.ilike(p(3))}`, params: ["a", "b", "A%"] });
      } else {
        expect(where({ label: { $ilike: "A%" } })).toEqual({ text: `SELECT COUNT(*) FROM "things" WHERE ${x.ilike(p(1))}`, params: ["A%"] });
      }
    });

    if (x.ilikeRange) {
      const range = x.ilikeRange;
      test("$ilike with a literal prefix adds the range of folded values that prefix allows, for the folded index", () => {
        // Only ASCII letters fold; the bound is the prefix with its last code point raised by one.
        expect(where({ label: { $ilike: "San É_x%" } }).params).toEqual(["san É", "san Ê", "San É_x%"]);
        expect(where({ label: { $ilike: "Paris" } }).params).toEqual(["paris", "parit", "Paris"]);
        // No prefix, no range.
        expect(where({ label: { $ilike: "%san" } })).toEqual({ text: `SELECT COUNT(*) FROM "things" WHERE ${x.ilike(p(1))}`, params: ["%san"] });
        expect(where({ label: { $ilike: "_a" } }).params).toEqual(["_a"]);
        // U+10FFFF has no successor: the one before it is raised; past U+D7FF comes U+E000 (no surrogate is a character).
        expect(where({ label: { $ilike: "ab\u{10FFFF}%" } }).params).toEqual(["ab\u{10FFFF}", "ac", "ab\u{10FFFF}%"]);
        expect(where({ label: { $ilike: "x\uD7FF%" } }).params).toEqual(["x\uD7FF", "x\uE000", "x\uD7FF%"]);
        expect(where({ label: { $ilike: "\u{10FFFF}%" } })).toEqual({ text: `SELECT COUNT(*) FROM "things" WHERE ${range(p(1))} AND ${x.ilike(p(2))}`, params: ["\u{10FFFF}", "\u{10FFFF}%"] });
      });
    }

    test("ordering: nulls first ascending, last descending, the primary key last", () => {
      expect(find({ orderBy: { rank: "desc", label: "asc" } }).text).toBe(`${select("label")} ORDER BY "rank" DESC NULLS LAST, ${s("label")} ASC NULLS FIRST, ${s("id")} ASC`);
    });

    test("the primary key is ordered without null placement, so an index can serve it in either direction", () => {
      expect(find({ orderBy: { id: "desc" } }).text).toBe(`${SELECT} ORDER BY ${s("id")} DESC`);
    });

    test("every column but the primary key keeps its null placement, whatever the entity or the where says (Strata's indexes hold that order)", () => {
      const strict = schemaOfTable({
        name: "things",
        columns: schema.columns.map((c) => ({ name: c.name, type: c.type, nullable: c.name === "rank" ? false : c.nullable, primary: c.primary, unique: false })),
        indexes: [],
      });
      const findStrict = (query: unknown) => compileFind(strict, normalizeQuery(strict, query), dialect, makeRowCodec(strict, dialect)).text;
      // NOT NULL in the entity is no proof: the table may hold nulls (a migration's nullable column).
      expect(findStrict({ orderBy: { rank: "desc" } })).toBe(`${SELECT} ORDER BY "rank" DESC NULLS LAST, ${s("id")} ASC`);
      // A where that lets no null through changes nothing either: `DESC NULLS LAST` is what the index's backward scan gives.
      expect(find({ where: { rank: { $gte: 5 } }, orderBy: { rank: "desc" } }).text).toMatch(/ORDER BY "rank" DESC NULLS LAST, /);
      expect(find({ where: { rank: { $nin: [1, null] } }, orderBy: { rank: "asc" } }).text).toMatch(/ORDER BY "rank" ASC NULLS FIRST, /);
    });

    test("limit and offset are bound after the where's parameters (the limit written as digits where the dialect says)", () => {
      // Digits, not parameters: SQLite prepared a statement with a bound LIMIT again at every run; PostgreSQL
      // sends a select with no parameter in one message. SQLite keeps the offset bound: one statement a page size.
      expect(find({ where: { rank: 1 }, limit: 10, offset: 20 })).toEqual({
        text: `${SELECT} WHERE "rank" = ${p(1)}${ORDER}${x.limit("10", x.literalOffset ? "20" : p(2))}`,
        params: x.literalOffset ? [1] : [1, 20],
      });
      expect(find({ limit: 5 })).toEqual({ text: `${SELECT}${ORDER}${x.limit("5")}`, params: [] });
      expect(find({ offset: 7 })).toEqual({ text: `${SELECT}${ORDER}${x.limit(undefined, x.literalOffset ? "7" : p(1))}`, params: x.literalOffset ? [] : [7] });
      expect(find({ offset: 0 })).toEqual({ text: `${SELECT}${ORDER}`, params: [] });
    });

    // Keyset positions (NormalizedQuery.after): one value per ordering term, the primary key's last.
    const seek = (query: Record<string, unknown>, after: unknown[]) => compileFind(schema, { ...normalizeQuery(schema, query), after }, dialect, codec);

    test("after, one direction, no null in the position: a row-value comparison an index seeks, bound after the where", () => {
      expect(seek({ where: { flag: true }, orderBy: { rank: "asc" }, limit: 10 }, [5, "k"])).toEqual({
        // Placement stays: Strata's indexes hold nulls first, so `ASC NULLS FIRST` is their forward scan.
        text: `${SELECT} WHERE ("flag" = ${p(1)}) AND ("rank", ${s("id")}) > (${p(2)}, ${p(3)}) ORDER BY "rank" ASC NULLS FIRST, ${s("id")} ASC${x.limit("10")}`,
        params: [x.encodedTrue, 5, "k"],
      });
      expect(seek({}, ["k"])).toEqual({ text: `${SELECT} WHERE ${s("id")} > ${p(1)}${ORDER}`, params: ["k"] });
      expect(seek({ orderBy: { id: "desc" } }, ["k"]).text).toBe(`${SELECT} WHERE ${s("id")} < ${p(1)} ORDER BY ${s("id")} DESC`);
      // Descending where the where lets no null through: the row form too.
      expect(seek({ where: { at: { $lt: AT } }, orderBy: { at: "desc", id: "desc" } }, [AT, "k"])).toEqual({
        text: `${SELECT} WHERE ("at" < ${p(1)}) AND ("at", ${s("id")}) < (${p(2)}, ${p(3)}) ORDER BY "at" DESC NULLS LAST, ${s("id")} DESC`,
        params: [x.encodedAt, x.encodedAt, "k"],
      });
      // The primary key appended ascending after a descending term: two directions, so the expanded form.
      expect(seek({ where: { at: { $lt: AT } }, orderBy: { at: "desc" } }, [AT, "k"]).text).toBe(
        `${SELECT} WHERE ("at" < ${p(1)}) AND "at" <= ${p(2)} AND (("at" < ${p(3)}) OR ("at" = ${p(4)} AND ${s("id")} > ${p(5)})) ORDER BY "at" DESC NULLS LAST, ${s("id")} ASC`,
      );
    });

    test("after, descending on a nullable column: the expanded form, with nulls after every value", () => {
      expect(seek({ orderBy: { rank: "desc" } }, [5, "k"])).toEqual({
        text: `${SELECT} WHERE ((("rank" < ${p(1)} OR "rank" IS NULL)) OR ("rank" = ${p(2)} AND ${s("id")} > ${p(3)})) ORDER BY "rank" DESC NULLS LAST, ${s("id")} ASC`,
        params: [5, 5, "k"],
      });
    });

    test("a page after a position, descending on a nullable column: the non-null rows after it, then (run only when they end within the page) the nulls, each seeking", () => {
      expect(seek({ where: { flag: true }, orderBy: { rank: "desc" }, limit: 10, offset: 2 }, [5, "k"])).toEqual({
        text: `${SELECT} WHERE ("flag" = ${p(1)} AND "rank" IS NOT NULL) AND "rank" <= ${p(2)} AND (("rank" < ${p(3)}) OR ("rank" = ${p(4)} AND ${s("id")} > ${p(5)})) ORDER BY "rank" DESC NULLS LAST, ${s("id")} ASC${x.limit("12")}`,
        params: [x.encodedTrue, 5, 5, 5, "k"],
        nulls: {
          text: `${SELECT} WHERE "flag" = ${p(1)} AND "rank" IS NULL ORDER BY "rank" DESC NULLS LAST, ${s("id")} ASC${x.limit("12")}`,
          params: [x.encodedTrue],
          window: 12,
          offset: 2,
        },
      });
      // Inside a write transaction (a row-lock suffix: a transaction's read stays one statement): one select.
      const locked = compileFind(schema, { ...normalizeQuery(schema, { orderBy: { rank: "desc" }, limit: 10 }), after: [5, "k"] }, dialect, codec, " FOR UPDATE");
      expect(locked.nulls).toBeUndefined();
      expect(locked.text.endsWith(" FOR UPDATE")).toBe(true);
    });

    test("a page split at the nulls binds the where once in each select: a where near the parameter limit still pages", () => {
      // One parameter per OR group (no two on one column are equalities, so nothing merges them into a list).
      const groups = Math.floor(dialect.maxParams / 2) + 10;
      const where = Array.from({ length: groups }, (_, k) => ({ label: { $gt: `x${k}` } }));
      const page = compileFind(schema, { ...normalizeQuery(schema, { where, orderBy: { rank: "desc" }, limit: 10 }), after: [5, "k"] }, dialect, codec);
      expect(page.nulls).toBeDefined();
      expect(page.params.length).toBeLessThanOrEqual(dialect.maxParams);
      expect(page.nulls!.params.length).toBe(groups);
    });

    test("after, mixed directions: the expanded form, led by the first term's range for an index", () => {
      expect(seek({ orderBy: { label: "asc", rank: "desc" } }, ["m", 5, "k"])).toEqual({
        text:
          `${select("label")} WHERE ${s("label")} >= ${p(1)} AND ((${s("label")} > ${p(2)}) OR (${s("label")} = ${p(3)} AND ("rank" < ${p(4)} OR "rank" IS NULL)) OR (${s("label")} = ${p(5)} AND "rank" = ${p(6)} AND ${s("id")} > ${p(7)}))` +
          ` ORDER BY ${s("label")} ASC NULLS FIRST, "rank" DESC NULLS LAST, ${s("id")} ASC`,
        params: ["m", "m", "m", 5, "m", 5, "k"],
      });
    });

    test("after with nulls in the position: ascending, every value follows null; descending, nothing does", () => {
      expect(seek({ orderBy: { rank: "asc" } }, [null, "k"])).toEqual({
        text: `${SELECT} WHERE (("rank" IS NOT NULL) OR ("rank" IS NULL AND ${s("id")} > ${p(1)})) ORDER BY "rank" ASC NULLS FIRST, ${s("id")} ASC`,
        params: ["k"],
      });
      expect(seek({ orderBy: { rank: "desc" } }, [null, "k"])).toEqual({
        text: `${SELECT} WHERE ("rank" IS NULL AND ${s("id")} > ${p(1)}) ORDER BY "rank" DESC NULLS LAST, ${s("id")} ASC`,
        params: ["k"],
      });
    });

    test("after: terms past the primary key decide nothing and bind nothing", () => {
      expect(seek({ orderBy: { id: "asc", label: "desc" } }, ["k", "z"])).toEqual({
        text: `${select("label")} WHERE ${s("id")} > ${p(1)} ORDER BY ${s("id")} ASC, ${s("label")} DESC NULLS LAST`,
        params: ["k"],
      });
    });

    test("the suffix (a row lock) follows limit and offset", () => {
      expect(find({ limit: 1 }, " FOR UPDATE").text).toBe(`${SELECT}${ORDER}${x.limit("1")} FOR UPDATE`);
    });

    test("a few OR groups stay a flat chain, each group in parentheses", () => {
      expect(where([{ rank: 1 }, { label: "b", flag: true }])).toEqual({
        text: `SELECT COUNT(*) FROM "things" WHERE ("rank" = ${p(1)}) OR (${s("label")} = ${p(2)} AND "flag" = ${p(3)})`,
        params: [1, "b", x.encodedTrue],
      });
    });

    test("64 or more single equalities on one column merge into one list; fewer are kept", () => {
      const ids = Array.from({ length: 64 }, (_, i) => `t${i}`);
      expect(where(ids.map((id) => ({ id })))).toEqual({ text: `SELECT COUNT(*) FROM "things" WHERE ${x.list("id", p(1), "string")}`, params: [x.listValue(ids)] });
      // $in groups and null join the list; a group on two fields stays apart.
      const mixed = [...ids.slice(0, 62).map((id) => ({ id })), { id: { $in: ["u1", "u2"] } }, { rank: null }, { rank: 5 }, { label: "x", rank: 1 }];
      expect(where(mixed)).toEqual({
        text: `SELECT COUNT(*) FROM "things" WHERE (${s("label")} = ${p(1)} AND "rank" = ${p(2)}) OR (${x.list("id", p(3), "string")}) OR ((${x.list("rank", p(4), "integer")} OR "rank" IS NULL))`,
        params: ["x", 1, x.listValue([...ids.slice(0, 62), "u1", "u2"]), x.listValue([5])],
      });
      const few = where(ids.slice(0, 63).map((id) => ({ id })));
      expect(few.params).toEqual(ids.slice(0, 63));
      expect(few.text).toBe(`SELECT COUNT(*) FROM "things" WHERE (${ids.slice(0, 63).map((_, i) => `${s("id")} = ${p(i + 1)}`).join(") OR (")})`);
    });

    test("more than 64 OR groups become a balanced tree of flat chains", () => {
      const groups = Array.from({ length: 65 }, (_, i) => ({ rank: { $gt: i }, label: { $isNull: true } }));
      const part = (from: number, to: number) => `(${Array.from({ length: to - from }, (_, i) => `"rank" > ${p(from + i + 1)} AND "label" IS NULL`).join(") OR (")})`;
      expect(where(groups)).toEqual({
        text: `SELECT COUNT(*) FROM "things" WHERE (${part(0, 33)}) OR (${part(33, 65)})`,
        params: Array.from({ length: 65 }, (_, i) => i),
      });
    });

    test("a statement past the parameter limit is a QueryError naming table and limit, before anything runs", () => {
      const tooMany = Array.from({ length: x.maxParams + 1 }, (_, i) => ({ rank: { $gt: i } }));
      const expected = `things: the query on table "things" needs ${x.maxParams + 1} bound parameters, more than ${dialect.name} allows in one statement (${x.maxParams}): use $in lists (one parameter each, whatever their length) or split the where`;
      expect(() => find({ where: tooMany })).toThrow(new QueryError(expected, { table: "things" }));
      expect(() => where(tooMany)).toThrow(new QueryError(expected, { table: "things" }));
      // At the limit exactly, it compiles; a bound offset counts too, a limit written as digits does not.
      expect(find({ where: tooMany.slice(0, x.maxParams), limit: 1 }).params).toHaveLength(x.maxParams);
      if (x.literalOffset) expect(find({ where: tooMany.slice(0, x.maxParams), offset: 1 }).params).toHaveLength(x.maxParams);
      else expect(() => find({ where: tooMany.slice(0, x.maxParams), offset: 1 })).toThrow(QueryError);
    });

    test("deleteMany past the limit is split into slices of at most 1000 parameters over whole OR groups", () => {
      const groups = Array.from({ length: x.maxParams + 1 }, (_, i) => ({ rank: { $gt: i } }));
      const statements = compileDeleteMany(schema, normalizeWhere(schema, groups), dialect, codec);
      expect(statements).toHaveLength(Math.ceil((x.maxParams + 1) / 1000));
      expect(statements.flatMap((st) => st.params)).toEqual(groups.map((_, i) => i));
      for (const st of statements) {
        expect(st.params.length).toBeLessThanOrEqual(1000);
        expect(st.text).toMatch(/^DELETE FROM "things" WHERE \(+"rank" > /);
        expect(st.text).toContain(`("rank" > ${p(1)}) OR ("rank" > ${p(2)})`);
        // Each slice binds its own parameters from the first placeholder on, one per group.
        expect(st.text.split(`"rank" > `).length - 1).toBe(st.params.length);
      }
      expect(compileDeleteMany(schema, normalizeWhere(schema, { rank: 1 }), dialect, codec)).toEqual([{ text: `DELETE FROM "things" WHERE "rank" = ${p(1)}`, params: [1] }]);
    });

    test("deleteMany slices count the parameters of $ilike's prefix range, so no slice binds more than 1000", () => {
      // Each group binds its pattern, and the range's two bounds where the dialect binds one.
      const perGroup = x.ilikeRange ? 3 : 1;
      const groups = Array.from({ length: Math.floor(x.maxParams / perGroup) + 1 }, (_, i) => ({ label: { $ilike: `p${i}%` } }));
      const statements = compileDeleteMany(schema, normalizeWhere(schema, groups), dialect, codec);
      expect(statements).toHaveLength(Math.ceil(groups.length / Math.floor(1000 / perGroup)));
      for (const st of statements) expect(st.params.length).toBeLessThanOrEqual(1000);
      expect(statements.flatMap((st) => st.params)).toHaveLength(groups.length * perGroup);
    });
  });
}
