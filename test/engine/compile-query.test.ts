/**
 * The engine's query compiler (src/engine/compile-query.ts): normalized conditions and orderings turned
 * into row predicates and comparators. Each case states the exact rows expected, nulls included.
 */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { compileOrder, compileWhere } from "../../src/engine/compile-query.js";
import type { Condition, ConditionOp, NormalizedWhere, OrderTerm } from "../../src/query/query.js";
import type { Row } from "../../src/schema/entity-schema.js";
import { schemaOfTable } from "../../src/schema/table-schema.js";
import { referenceWhere } from "../support/reference-where.js";

const schema = schemaOfTable({
  name: "items",
  columns: [
    { name: "id", type: "integer", nullable: false, primary: true, unique: true },
    { name: "name", type: "string", nullable: true, primary: false, unique: false },
    { name: "score", type: "number", nullable: true, primary: false, unique: false },
    { name: "at", type: "datetime", nullable: true, primary: false, unique: false },
    { name: "flag", type: "boolean", nullable: true, primary: false, unique: false },
  ],
  indexes: [],
});
const column = (property: string) => schema.columnsByProperty.get(property)!;

const rows: Row[] = [
  { id: 1, name: "apple", score: 3, at: new Date(1000), flag: true },
  { id: 2, name: "Banana", score: -1, at: new Date(3000), flag: false },
  { id: 3, name: null, score: null, at: null, flag: null },
  { id: 4, name: "\u{1F600} smile", score: 3, at: new Date(2000), flag: true },
  { id: 5, name: "a_b%c", score: 10.5, at: new Date(1000), flag: false },
  // A property left out reads as null.
  { id: 6 },
];

function cond(property: string, op: ConditionOp, value?: unknown, orNull?: boolean): Condition {
  return { column: column(property), op, ...(value !== undefined ? { value } : {}), ...(orNull !== undefined ? { orNull } : {}) };
}

/** The ids of the rows `where` matches, in row order. */
function ids(where: NormalizedWhere): number[] {
  const test = compileWhere(where);
  return rows.filter(test).map((r) => r["id"] as number);
}
const one = (c: Condition) => ids([[c]]);

describe("engine: compileWhere, each operator", () => {
  test("eq never matches null; dates match by instant", () => {
    expect(one(cond("score", "eq", 3))).toEqual([1, 4]);
    expect(one(cond("at", "eq", new Date(1000)))).toEqual([1, 5]);
    expect(one(cond("flag", "eq", false))).toEqual([2, 5]);
    expect(one(cond("name", "eq", "apple"))).toEqual([1]);
  });

  test("ne matches null too", () => {
    expect(one(cond("score", "ne", 3))).toEqual([2, 3, 5, 6]);
    expect(one(cond("at", "ne", new Date(1000)))).toEqual([2, 3, 4, 6]);
  });

  test("gt, gte, lt, lte never match null", () => {
    expect(one(cond("score", "gt", 3))).toEqual([5]);
    expect(one(cond("score", "gte", 3))).toEqual([1, 4, 5]);
    expect(one(cond("score", "lt", 3))).toEqual([2]);
    expect(one(cond("score", "lte", 3))).toEqual([1, 2, 4]);
    expect(one(cond("at", "gt", new Date(1000)))).toEqual([2, 4]);
    expect(one(cond("flag", "lt", true))).toEqual([2, 5]);
  });

  test("string ranges compare by code point (upper case before lower, U+1F600 after every BMP letter)", () => {
    expect(one(cond("name", "lt", "a"))).toEqual([2]);
    expect(one(cond("name", "gt", "\uFFFF"))).toEqual([4]);
    expect(one(cond("name", "gte", "apple"))).toEqual([1, 4]);
  });

  test("isNull and notNull (a missing property is null)", () => {
    expect(one(cond("name", "isNull"))).toEqual([3, 6]);
    expect(one(cond("name", "notNull"))).toEqual([1, 2, 4, 5]);
  });

  test("in: the listed values, plus nulls only with orNull", () => {
    expect(one(cond("score", "in", [3, 10.5]))).toEqual([1, 4, 5]);
    expect(one(cond("score", "in", [3], true))).toEqual([1, 3, 4, 6]);
    expect(one(cond("score", "in", []))).toEqual([]);
    expect(one(cond("score", "in", [], true))).toEqual([3, 6]);
    expect(one(cond("at", "in", [new Date(3000), new Date(2000)]))).toEqual([2, 4]);
  });

  test("nin: every other value, nulls included unless orNull (the list held null)", () => {
    expect(one(cond("score", "nin", [3]))).toEqual([2, 3, 5, 6]);
    expect(one(cond("score", "nin", [3], true))).toEqual([2, 5]);
    expect(one(cond("at", "nin", [new Date(1000)]))).toEqual([2, 3, 4, 6]);
  });

  test("like: % and _ wildcards, case-sensitive, never null", () => {
    expect(one(cond("name", "like", "%a%"))).toEqual([1, 2, 5]);
    expect(one(cond("name", "like", "b%"))).toEqual([]);
    expect(one(cond("name", "like", "_ smile"))).toEqual([4]);
    expect(one(cond("name", "like", "%"))).toEqual([1, 2, 4, 5]);
  });

  test("ilike ignores ASCII case, never null", () => {
    expect(one(cond("name", "ilike", "b%"))).toEqual([2]);
    expect(one(cond("name", "ilike", "APPLE"))).toEqual([1]);
    expect(one(cond("name", "ilike", "%"))).toEqual([1, 2, 4, 5]);
  });
});

describe("engine: compileWhere, groups", () => {
  test("[] matches nothing and [[]] every row", () => {
    expect(ids([])).toEqual([]);
    expect(ids([[]])).toEqual([1, 2, 3, 4, 5, 6]);
  });

  test("conditions in a group are AND, groups are OR", () => {
    expect(ids([[cond("score", "eq", 3), cond("at", "gt", new Date(1000))]])).toEqual([4]);
    expect(ids([[cond("score", "gte", 3), cond("flag", "eq", true), cond("name", "like", "a%")]])).toEqual([1]);
    expect(ids([[cond("score", "eq", -1)], [cond("name", "isNull")]])).toEqual([2, 3, 6]);
    expect(ids([[cond("score", "eq", -1)], [cond("name", "isNull")], [cond("id", "eq", 5)]])).toEqual([2, 3, 5, 6]);
    // An empty group in an OR matches every row.
    expect(ids([[cond("id", "eq", 1)], []])).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

/** The ids of `rows` sorted by `orderBy`. */
function sorted(orderBy: readonly OrderTerm[], input: readonly Row[] = rows): number[] {
  return [...input].sort(compileOrder(orderBy)).map((r) => r["id"] as number);
}
const asc = (property: string): OrderTerm => ({ column: column(property), direction: "asc" });
const desc = (property: string): OrderTerm => ({ column: column(property), direction: "desc" });

describe("engine: compileWhere against a reference evaluator", () => {
  // Groups of several conditions on one or more columns: the compiled group tests some inline and calls
  // the others' closures; every value of a shape must be its own (shapes are compiled once and reused).
  const values = {
    id: fc.constantFrom(-1, 0, 1, 2, 7, Number.MAX_SAFE_INTEGER),
    name: fc.constantFrom("", "a", "A", "apple", "Apple", "b", "san x", "SAN", "\u{1F600}", "\uFFFF", "\uE000", "%", "_"),
    score: fc.constantFrom(-0, 0, 1, -1, 2.5, 3, 1e308, -1e308, 0.1 + 0.2, 0.3),
    at: fc.constantFrom(-1000, 0, 1000, 2000).map((t) => new Date(t)),
    flag: fc.boolean(),
  };
  type Property = keyof typeof values;
  const properties = Object.keys(values) as Property[];
  const row = fc.record(
    { id: values.id, name: fc.option(values.name), score: fc.option(values.score), at: fc.option(values.at), flag: fc.option(values.flag) },
    { requiredKeys: ["id"] },
  );
  const condition = fc.constantFrom(...properties).chain((p): fc.Arbitrary<Condition> => {
    const v = values[p] as fc.Arbitrary<unknown>;
    const ops: fc.Arbitrary<Condition>[] = [
      fc.tuple(fc.constantFrom<ConditionOp>("eq", "ne", "gt", "gte", "lt", "lte"), v).map(([op, x]) => cond(p, op, x)),
      fc.tuple(fc.constantFrom<ConditionOp>("in", "nin"), fc.array(v, { maxLength: 3 }), fc.boolean()).map(([op, xs, orNull]) => cond(p, op, xs, orNull)),
      fc.constantFrom<ConditionOp>("isNull", "notNull").map((op) => cond(p, op)),
    ];
    if (p === "name") ops.push(fc.tuple(fc.constantFrom<ConditionOp>("like", "ilike"), values.name, fc.constantFrom("", "%", "_")).map(([op, x, tail]) => cond(p, op, x + tail)));
    return fc.oneof(...ops);
  });

  test("every group of conditions matches the rows the reference matches, nulls and missing properties included", () => {
    fc.assert(
      fc.property(fc.array(row, { maxLength: 40 }), fc.array(fc.array(condition, { maxLength: 5 }), { maxLength: 3 }), (table, where) => {
        const reference = referenceWhere(where);
        expect(table.map(compileWhere(where))).toEqual(table.map(reference));
      }),
      { numRuns: 2000 },
    );
  });
});

describe("engine: compileOrder", () => {
  test("nulls first ascending, last descending", () => {
    expect(sorted([asc("score"), asc("id")])).toEqual([3, 6, 2, 1, 4, 5]);
    expect(sorted([desc("score"), asc("id")])).toEqual([5, 1, 4, 2, 3, 6]);
  });

  test("strings by code point", () => {
    expect(sorted([asc("name"), asc("id")])).toEqual([3, 6, 2, 5, 1, 4]);
    expect(sorted([desc("name"), asc("id")])).toEqual([4, 1, 5, 2, 3, 6]);
  });

  test("datetimes by instant, booleans false first", () => {
    expect(sorted([asc("at"), asc("id")])).toEqual([3, 6, 1, 5, 4, 2]);
    expect(sorted([asc("flag"), desc("id")])).toEqual([6, 3, 5, 2, 4, 1]);
  });

  test("each term breaks the ties of the one before it, in its own direction", () => {
    expect(sorted([desc("flag"), desc("score"), asc("id")])).toEqual([1, 4, 5, 2, 3, 6]);
    expect(sorted([asc("at"), desc("score"), desc("id")])).toEqual([6, 3, 5, 1, 4, 2]);
  });

  test("rows equal on every term compare as 0 (the sort keeps their order)", () => {
    const compare = compileOrder([asc("score")]);
    expect(compare(rows[0]!, rows[3]!)).toBe(0);
    expect(compare(rows[2]!, rows[5]!)).toBe(0);
    expect(compileOrder([])(rows[0]!, rows[1]!)).toBe(0);
  });
});
