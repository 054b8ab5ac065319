/**
 * The in-memory table engine (src/engine/table-engine.ts) on its own: hash-index lookups against full
 * scans, queries over a write set's uncommitted rows, ordering and paging, savepoints, commit.
 */
import { describe, expect, test } from "vitest";
import { MemoryDatabase, MemoryTable, WriteSet } from "../../src/engine/table-engine.js";
import { IntegrityError, TransactionError } from "../../src/errors.js";
import type { Condition, ConditionOp, NormalizedQuery, NormalizedWhere, OrderTerm } from "../../src/query/query.js";
import type { EntitySchema, Row } from "../../src/schema/entity-schema.js";
import type { TableIndex } from "../../src/spi/index.js";
import { schemaOfTable } from "../../src/schema/table-schema.js";

/** The same table, with or without hash indexes on `tag` and `at`; `email` is unique in both. */
function itemsSchema(indexes: readonly TableIndex[]): EntitySchema {
  return schemaOfTable({
    name: "items",
    columns: [
      { name: "id", type: "integer", nullable: false, primary: true, unique: true, generated: "increment" },
      { name: "tag", type: "string", nullable: true, primary: false, unique: false },
      { name: "rank", type: "integer", nullable: true, primary: false, unique: false },
      { name: "at", type: "datetime", nullable: true, primary: false, unique: false },
      { name: "email", type: "string", nullable: true, primary: false, unique: true },
    ],
    indexes,
  });
}
const indexed = itemsSchema([
  { name: "items_tag", columns: ["tag"], unique: false },
  { name: "items_at_rank", columns: ["at", "rank"], unique: false },
]);
const plain = itemsSchema([]);

const seed: Row[] = [
  { id: 1, tag: "a", rank: 3, at: new Date(100), email: "one@x" },
  { id: 2, tag: "b", rank: 1, at: new Date(200), email: null },
  { id: 3, tag: null, rank: 2, at: null, email: "three@x" },
  { id: 4, tag: "a", rank: null, at: new Date(100), email: null },
  { id: 5, tag: "c", rank: 3, at: new Date(300), email: "five@x" },
  { id: 6, tag: "b", rank: 5, at: null, email: null },
  { id: 7, tag: "a", rank: 4, at: new Date(200), email: "seven@x" },
];

/** A database holding the seed rows, committed. */
function seeded(schema: EntitySchema): MemoryDatabase {
  const db = new MemoryDatabase();
  db.ensureTable(schema);
  const ws = new WriteSet(db);
  for (const row of seed) ws.insert(schema, row);
  db.apply(ws.changes());
  return db;
}

function cond(schema: EntitySchema, property: string, op: ConditionOp, value?: unknown, orNull?: boolean): Condition {
  return { column: schema.columnsByProperty.get(property)!, op, ...(value !== undefined ? { value } : {}), ...(orNull !== undefined ? { orNull } : {}) };
}
function query(schema: EntitySchema, where: NormalizedWhere, options: { orderBy?: OrderTerm[]; limit?: number; offset?: number } = {}): NormalizedQuery {
  return {
    where,
    orderBy: options.orderBy ?? [{ column: schema.primary, direction: "asc" }],
    ...(options.limit !== undefined ? { limit: options.limit } : {}),
    offset: options.offset ?? 0,
  };
}
const idsOf = (rows: readonly Row[]) => rows.map((r) => r["id"]);

describe("engine: hash indexes against a full scan", () => {
  /** Each where (built for a schema), with the ids it must return in key order. */
  const cases: Array<[string, (s: EntitySchema) => NormalizedWhere, number[]]> = [
    ["eq on an indexed column", (s) => [[cond(s, "tag", "eq", "a")]], [1, 4, 7]],
    ["eq on a value no row holds", (s) => [[cond(s, "tag", "eq", "zzz")]], []],
    ["in on an indexed column", (s) => [[cond(s, "tag", "in", ["b", "c"])]], [2, 5, 6]],
    ["in with orNull (the index holds no nulls: a scan)", (s) => [[cond(s, "tag", "in", ["c"], true)]], [3, 5]],
    ["eq plus another condition", (s) => [[cond(s, "tag", "eq", "a"), cond(s, "rank", "gt", 3)]], [7]],
    ["overlapping OR groups return each row once", (s) => [[cond(s, "tag", "eq", "a")], [cond(s, "rank", "eq", 3)], [cond(s, "tag", "in", ["a", "c"])]], [1, 4, 5, 7]],
    ["eq on a datetime index (first column of a composite), another Date of the same instant", (s) => [[cond(s, "at", "eq", new Date(100))]], [1, 4]],
    ["in on the datetime index", (s) => [[cond(s, "at", "in", [new Date(200), new Date(300)])]], [2, 5, 7]],
    ["eq on the primary key", (s) => [[cond(s, "id", "eq", 6)]], [6]],
    ["in on the primary key, a missing key left out", (s) => [[cond(s, "id", "in", [7, 99, 2])]], [2, 7]],
    ["ne (never an index)", (s) => [[cond(s, "tag", "ne", "a")]], [2, 3, 5, 6]],
    ["isNull", (s) => [[cond(s, "tag", "isNull")]], [3]],
  ];

  for (const [name, where, expected] of cases) {
    test(`${name}: the same rows with and without the index`, () => {
      const viaIndex = new WriteSet(seeded(indexed)).find(indexed, query(indexed, where(indexed)));
      const viaScan = new WriteSet(seeded(plain)).find(plain, query(plain, where(plain)));
      expect(idsOf(viaIndex)).toEqual(expected);
      expect(viaIndex).toEqual(viaScan);
      expect(new WriteSet(seeded(indexed)).count(indexed, where(indexed))).toBe(expected.length);
    });
  }

  test("an equality on an indexed column reads only the rows holding the value; without the index, every row", () => {
    const table = seeded(indexed).table(indexed);
    expect(idsOf([...table.candidates([cond(indexed, "tag", "eq", "a")])]).sort()).toEqual([1, 4, 7]);
    expect(idsOf([...table.candidates([cond(indexed, "rank", "gt", 1), cond(indexed, "tag", "in", ["c"])])])).toEqual([5]);
    expect([...seeded(plain).table(plain).candidates([cond(plain, "tag", "eq", "a")])]).toHaveLength(seed.length);
    // A null in an $in list must find the rows the index leaves out: no narrowing.
    expect([...table.candidates([cond(indexed, "tag", "in", ["a"], true)])]).toHaveLength(seed.length);
  });

  test("an $ilike prefix of at most five letters then % is decided by the index's ranges; a longer one or a later wildcard is tested row by row", () => {
    const table = seeded(indexed).table(indexed);
    const plan = (pattern: string) => table.plan([cond(indexed, "tag", "ilike", pattern)], [], false)!;
    expect(plan("A%").ranges).toHaveLength(2);
    expect(plan("A%").residual).toBeUndefined();
    expect(plan("a-b c%").residual).toBeUndefined();
    // Six letters: the ranges fold only five, so they hold "abcdeF..." and "abcdef..." alike.
    expect(plan("abcdef%").residual).toBeDefined();
    expect(plan("a_%").residual).toBeDefined();
    expect(plan("a%b").residual).toBeDefined();
    expect(idsOf(new WriteSet(seeded(indexed)).find(indexed, query(indexed, [[cond(indexed, "tag", "ilike", "A%")]])))).toEqual([1, 4, 7]);
  });

  test("the index follows updates and deletes of committed rows", () => {
    const db = seeded(indexed);
    const ws = new WriteSet(db);
    ws.update(indexed, 1, { tag: "c" });
    ws.delete(indexed, 7);
    db.apply(ws.changes());
    const table = db.table(indexed);
    expect(idsOf([...table.candidates([cond(indexed, "tag", "eq", "a")])])).toEqual([4]);
    expect(idsOf([...table.candidates([cond(indexed, "tag", "eq", "c")])]).sort()).toEqual([1, 5]);
    expect(idsOf(new WriteSet(db).find(indexed, query(indexed, [[cond(indexed, "tag", "eq", "a")]])))).toEqual([4]);
  });
});

describe("engine: queries over a write set", () => {
  test("see the transaction's own writes, and not the committed rows they replace, through an index too", () => {
    for (const schema of [indexed, plain]) {
      const db = seeded(schema);
      const ws = new WriteSet(db);
      ws.update(schema, 1, { tag: "b" });
      ws.delete(schema, 2);
      ws.insert(schema, { id: 8, tag: "a", rank: 0, at: null, email: null });
      expect(idsOf(ws.find(schema, query(schema, [[cond(schema, "tag", "eq", "a")]])))).toEqual([4, 7, 8]);
      expect(idsOf(ws.find(schema, query(schema, [[cond(schema, "tag", "eq", "b")]])))).toEqual([1, 6]);
      expect(ws.count(schema, [[]])).toBe(7);
      // Another transaction still sees only what is committed.
      expect(idsOf(new WriteSet(db).find(schema, query(schema, [[cond(schema, "tag", "eq", "a")]])))).toEqual([1, 4, 7]);
    }
  });

  test("rows handed out are copies: changing one changes nothing stored", () => {
    const db = seeded(indexed);
    const ws = new WriteSet(db);
    const row = ws.findById(indexed, 1)!;
    (row["at"] as Date).setTime(0);
    row["tag"] = "changed";
    expect(ws.findById(indexed, 1)).toEqual(seed[0]);
    const found = ws.find(indexed, query(indexed, [[cond(indexed, "id", "in", [1, 2])]]));
    (found[0]!["at"] as Date).setTime(0);
    found[1]!["tag"] = "changed";
    expect(ws.find(indexed, query(indexed, [[cond(indexed, "id", "in", [1, 2])]]))).toEqual([seed[0], seed[1]]);
  });

  // Strings of 13 characters or more are stored flattened (stored-row.ts): whatever V8 built them of, the
  // stored value is exactly the one written, and an equality finds it.
  test("strings come back exactly as written: built of pieces, sliced, not in NFC, two-byte", () => {
    const big = `${"x".repeat(100)}sliced-out-of-a-longer-string${"y".repeat(100)}`;
    const written = [
      `built-of-pieces-${String(42).padStart(8, "0")}`,
      big.slice(100, 129),
      "cafe\u0301 decomposed, not NFC",
      "A\u030a and o\u0308 and n\u0303 combining",
      "two-byte \u00e9\u4e2d\u6587 text",
      "twelve chars",
      "thirteen char",
    ];
    const db = seeded(indexed);
    const ws = new WriteSet(db);
    written.forEach((tag, i) => ws.insert(indexed, { id: 100 + i, tag, rank: null, at: null, email: null }));
    ws.update(indexed, 1, { tag: written[0] });
    db.apply(ws.changes());
    const read = new WriteSet(db);
    written.forEach((tag, i) => {
      expect([...(read.findById(indexed, 100 + i)!["tag"] as string)]).toEqual([...tag]);
      expect(idsOf(read.find(indexed, query(indexed, [[cond(indexed, "tag", "eq", tag)]])))).toEqual(i === 0 ? [1, 100] : [100 + i]);
    });
  });

  test("strings inside json come back exactly as written too, the json's shape and numbers unchanged", () => {
    const schema = schemaOfTable({
      name: "docs",
      columns: [
        { name: "id", type: "integer", nullable: false, primary: true, unique: true },
        { name: "body", type: "json", nullable: true, primary: false, unique: false },
      ],
      indexes: [],
    });
    const body = { title: `built-of-pieces-${String(7).padStart(8, "0")}`, words: ["cafe\u0301 decomposed, not NFC", "short"], n: -0, nested: { deep: [1.5, null, true] } };
    const db = new MemoryDatabase();
    db.ensureTable(schema);
    const ws = new WriteSet(db);
    ws.insert(schema, { id: 1, body });
    db.apply(ws.changes());
    const stored = new WriteSet(db).findById(schema, 1)!["body"] as typeof body;
    expect(stored).toEqual({ ...body, n: 0 });
    expect(Object.is(stored.n, 0)).toBe(true);
    expect([...stored.words[0]!]).toEqual([...body.words[0]!]);
  });
});

describe("engine: ordering and paging", () => {
  const db = seeded(indexed);
  const column = (p: string) => indexed.columnsByProperty.get(p)!;
  const order = (...terms: Array<[string, "asc" | "desc"]>): OrderTerm[] => terms.map(([p, direction]) => ({ column: column(p), direction }));

  test("nulls first ascending and last descending, the key breaking ties", () => {
    expect(idsOf(new WriteSet(db).find(indexed, query(indexed, [[]], { orderBy: order(["rank", "asc"], ["id", "asc"]) })))).toEqual([4, 2, 3, 1, 5, 7, 6]);
    expect(idsOf(new WriteSet(db).find(indexed, query(indexed, [[]], { orderBy: order(["rank", "desc"], ["id", "asc"]) })))).toEqual([6, 7, 1, 5, 3, 2, 4]);
  });

  test("several terms, each in its own direction", () => {
    expect(idsOf(new WriteSet(db).find(indexed, query(indexed, [[]], { orderBy: order(["tag", "desc"], ["at", "asc"], ["id", "desc"]) })))).toEqual([5, 6, 2, 4, 1, 7, 3]);
  });

  test("limit and offset cut the ordered result", () => {
    const page = (limit: number | undefined, offset: number) =>
      idsOf(new WriteSet(db).find(indexed, query(indexed, [[]], { orderBy: order(["rank", "desc"], ["id", "asc"]), ...(limit !== undefined ? { limit } : {}), offset })));
    expect(page(2, 0)).toEqual([6, 7]);
    expect(page(2, 2)).toEqual([1, 5]);
    expect(page(3, 5)).toEqual([2, 4]);
    expect(page(undefined, 4)).toEqual([3, 2, 4]);
    expect(page(0, 0)).toEqual([]);
    expect(page(5, 10)).toEqual([]);
  });
});

describe("engine: savepoints", () => {
  test("rolling back to a savepoint undoes the inserts, updates and deletes made after it, and only those", () => {
    const db = seeded(indexed);
    const ws = new WriteSet(db);
    ws.update(indexed, 1, { rank: 30 });
    ws.savepoint("s1");
    ws.insert(indexed, { id: 9, tag: "z", rank: 1, at: null, email: "nine@x" });
    ws.update(indexed, 1, { rank: 31 });
    ws.update(indexed, 2, { tag: "q" });
    ws.delete(indexed, 3);
    ws.rollbackToSavepoint("s1");
    expect(ws.findById(indexed, 9)).toBeNull();
    expect(ws.findById(indexed, 1)!["rank"]).toBe(30);
    expect(ws.findById(indexed, 2)!["tag"]).toBe("b");
    expect(ws.findById(indexed, 3)).toEqual(seed[2]);
    expect(idsOf(ws.find(indexed, query(indexed, [[cond(indexed, "tag", "eq", "z")]])))).toEqual([]);
    // Changes hold rows as stored: a datetime as its time (engine/stored-row.ts).
    expect(ws.changes()).toEqual([{ table: "items", key: 1, row: { ...seed[0], at: (seed[0]!["at"] as Date).getTime(), rank: 30 } }]);
    // The savepoint survives its rollback: writes after it can be undone again.
    ws.delete(indexed, 4);
    ws.rollbackToSavepoint("s1");
    expect(ws.findById(indexed, 4)).toEqual(seed[3]);
  });

  test("a rolled-back insert frees its unique value", () => {
    const ws = new WriteSet(seeded(indexed));
    ws.savepoint("s");
    ws.insert(indexed, { id: 9, tag: null, rank: null, at: null, email: "taken@x" });
    expect(() => ws.insert(indexed, { id: 10, tag: null, rank: null, at: null, email: "taken@x" })).toThrow(IntegrityError);
    ws.rollbackToSavepoint("s");
    ws.insert(indexed, { id: 10, tag: null, rank: null, at: null, email: "taken@x" });
    expect(idsOf(ws.find(indexed, query(indexed, [[cond(indexed, "email", "eq", "taken@x")]])))).toEqual([10]);
  });

  test("nested savepoints: rolling back to the outer one drops the inner; releasing keeps the writes", () => {
    const ws = new WriteSet(seeded(indexed));
    ws.savepoint("outer");
    ws.update(indexed, 5, { rank: 50 });
    ws.savepoint("inner");
    ws.update(indexed, 5, { rank: 51 });
    ws.releaseSavepoint("inner");
    expect(ws.findById(indexed, 5)!["rank"]).toBe(51);
    expect(() => ws.rollbackToSavepoint("inner")).toThrow(TransactionError);
    ws.savepoint("inner");
    ws.update(indexed, 5, { rank: 52 });
    ws.rollbackToSavepoint("outer");
    expect(ws.findById(indexed, 5)!["rank"]).toBe(3);
    expect(() => ws.rollbackToSavepoint("inner")).toThrow(/No savepoint named "inner"/);
    expect(ws.isEmpty).toBe(true);
  });
});

describe("engine: commit", () => {
  test("applying a write set's changes makes them the committed rows, indexes included", () => {
    const db = seeded(indexed);
    const ws = new WriteSet(db);
    const inserted = ws.insert(indexed, { id: null, tag: "a", rank: 1, at: null, email: null });
    // Increment keys continue after the highest key seen.
    expect(inserted["id"]).toBe(8);
    ws.delete(indexed, 1);
    expect(ws.changes().map((c) => [c.key, c.row === null])).toEqual([
      [8, false],
      [1, true],
    ]);
    db.apply(ws.changes());
    expect(idsOf(new WriteSet(db).find(indexed, query(indexed, [[cond(indexed, "tag", "eq", "a")]])))).toEqual([4, 7, 8]);
    expect(db.table(indexed)).toBeInstanceOf(MemoryTable);
    expect(db.table(indexed).rows.size).toBe(7);
  });
});
