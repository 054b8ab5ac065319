/**
 * Model test of the engine's ordered indexes and planner: random tables (nulls, equal keys, non-BMP strings,
 * -0, dates, booleans) under random committed writes (with savepoints rolled back), random queries (ranges,
 * eq/in, like and ilike prefixes, orderings on indexed and unindexed columns, composite prefixes, mixed
 * directions, limit/offset, keyset positions, counts) answered by the engine, committed and inside a
 * transaction with its own writes, and checked against a plain filter + sort of the model's rows.
 */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { compileOrder } from "../../src/engine/compile-query.js";
import { MemoryDatabase, WriteSet } from "../../src/engine/table-engine.js";
import type { Condition, NormalizedQuery, OrderTerm } from "../../src/query/query.js";
import type { Row } from "../../src/schema/entity-schema.js";
import { schemaOfTable } from "../../src/schema/table-schema.js";
import { referenceWhere } from "../support/reference-where.js";

const schema = schemaOfTable({
  name: "cities",
  columns: [
    { name: "id", type: "string", nullable: false, primary: true, unique: false },
    { name: "s", type: "string", nullable: true, primary: false, unique: false },
    { name: "n", type: "number", nullable: true, primary: false, unique: false },
    { name: "i", type: "integer", nullable: true, primary: false, unique: false },
    { name: "b", type: "boolean", nullable: true, primary: false, unique: false },
    { name: "d", type: "datetime", nullable: true, primary: false, unique: false },
    { name: "u", type: "string", nullable: true, primary: false, unique: false },
  ],
  indexes: [
    { name: "idx_s", columns: ["s"], unique: false },
    { name: "idx_n", columns: ["n"], unique: false },
    { name: "idx_i_s", columns: ["i", "s"], unique: false },
    { name: "idx_b_d_n", columns: ["b", "d", "n"], unique: false },
  ],
});
const col = (p: string) => schema.columnsByProperty.get(p)!;

const strings = ["", "a", "A", "san", "San Jose", "SAN x", "sa", "san%", "s\u{1F600}", "s\uFFFF", "s\uE000", "\u{1F600}", "\uFFFF", "é", "b", "San_"];
const values = {
  s: fc.option(fc.constantFrom(...strings), { nil: null }),
  n: fc.option(fc.constantFrom(0, -0, 1, -1, 2.5, 1e308, -1e308, 0.1 + 0.2, 0.3), { nil: null }),
  i: fc.option(fc.constantFrom(0, 1, -1, 7, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER), { nil: null }),
  b: fc.option(fc.boolean(), { nil: null }),
  d: fc.option(fc.constantFrom(-86_400_000, 0, 1, 86_400_000, 253402300799999).map((t) => new Date(t)), { nil: null }),
  u: fc.option(fc.constantFrom(...strings), { nil: null }),
};
const ids = fc.tuple(fc.constantFrom("a", "b", "A", "\u{1F600}", "\uFFFF", ""), fc.nat(60)).map(([p, n]) => `${p}${n}`);
const row = fc.record({ id: ids, s: values.s, n: values.n, i: values.i, b: values.b, d: values.d, u: values.u });
const op = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("upsert" as const), row }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("delete" as const), id: ids }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("savepoint" as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("rollback" as const) }) },
);
type Op = { kind: "upsert"; row: Row } | { kind: "delete"; id: string } | { kind: "savepoint" } | { kind: "rollback" };

const orderable = ["s", "n", "i", "b", "d", "u"] as const;
function condition(): fc.Arbitrary<Condition> {
  return fc.constantFrom(...orderable).chain((p) => {
    const v = (values[p] as fc.Arbitrary<unknown>).filter((x) => x !== null);
    const ops: fc.Arbitrary<Condition>[] = [
      fc.tuple(fc.constantFrom("eq", "gt", "gte", "lt", "lte", "ne"), v).map(([o, x]) => ({ column: col(p), op: o as Condition["op"], value: x })),
      fc.tuple(fc.uniqueArray(v, { maxLength: 3, selector: (x) => (x instanceof Date ? x.getTime() : Object.is(x, -0) ? 0 : x) }), fc.boolean()).map(([xs, orNull]) => ({ column: col(p), op: "in" as const, value: xs, orNull })),
      fc.boolean().map((isNull) => ({ column: col(p), op: isNull ? ("isNull" as const) : ("notNull" as const) })),
    ];
    if (p === "s" || p === "u") {
      ops.push(
        fc.tuple(fc.constantFrom("like", "ilike"), fc.constantFrom(...strings), fc.constantFrom("%", "", "_%", "%a", "_")).map(([o, prefix, tail]) => ({
          column: col(p),
          op: o as Condition["op"],
          value: prefix + tail,
        })),
      );
    }
    return fc.oneof(...ops);
  });
}
const orderBy = fc
  .uniqueArray(fc.constantFrom(...orderable, "id"), { maxLength: 4 })
  .chain((props) => fc.tuple(...props.map((p) => fc.constantFrom("asc" as const, "desc" as const).map((direction) => ({ p, direction })))))
  .map((terms) => {
    const out: OrderTerm[] = [];
    for (const t of terms) {
      out.push({ column: col(t.p), direction: t.direction });
      if (t.p === "id") return out;
    }
    out.push({ column: schema.primary, direction: "asc" });
    return out;
  });
const query = fc.record({
  where: fc.oneof({ weight: 5, arbitrary: fc.array(condition(), { maxLength: 3 }).map((g) => [g]) }, { weight: 1, arbitrary: fc.array(fc.array(condition(), { maxLength: 2 }), { maxLength: 3 }) }),
  orderBy,
  limit: fc.option(fc.nat(12), { nil: undefined }),
  offset: fc.nat(6),
  after: fc.option(fc.oneof(fc.nat(100).map((at) => ({ at })), row.map((r) => ({ row: r }))), { nil: undefined }),
});

/** The reference: filter (by code apart from the engine's compiler), order, keyset and page over the model's rows. */
function expected(rows: Iterable<Row>, q: NormalizedQuery): Row[] {
  const test = referenceWhere(q.where);
  const order = compileOrder(q.orderBy);
  let out = [...rows].filter(test).sort(order);
  if (q.after) {
    const position: Row = {};
    q.orderBy.forEach((t, k) => (position[t.column.property] = q.after![k]));
    out = out.filter((r) => order(r, position) > 0);
  }
  return out.slice(q.offset, q.limit === undefined ? undefined : q.offset + q.limit);
}

/** Applies one batch of writes to a write set and to the model, savepoints included. */
function play(ws: WriteSet, model: Map<string, Row>, ops: readonly Op[]): void {
  const marks: Map<string, Row>[] = [];
  for (const o of ops) {
    if (o.kind === "upsert") {
      ws.upsert(schema, { ...o.row });
      model.set(o.row["id"] as string, { ...o.row });
    } else if (o.kind === "delete") {
      ws.delete(schema, o.id);
      model.delete(o.id);
    } else if (o.kind === "savepoint") {
      ws.savepoint(`sp${marks.length}`);
      marks.push(new Map(model));
    } else if (marks.length > 0) {
      ws.rollbackToSavepoint(`sp${marks.length - 1}`);
      const back = marks[marks.length - 1]!;
      model.clear();
      for (const [k, v] of back) model.set(k, v);
    }
  }
}

type RawQuery = { where: Condition[][]; orderBy: OrderTerm[]; limit?: number; offset: number; after?: { at: number } | { row: Row } };

function check(ws: WriteSet, model: Map<string, Row>, raw: RawQuery): void {
  let after: unknown[] | undefined;
  if (raw.after) {
    const full = expected(model.values(), { where: [[]], orderBy: raw.orderBy, offset: 0 });
    const from = "row" in raw.after ? raw.after.row : full[raw.after.at % Math.max(1, full.length)];
    if (from) after = raw.orderBy.map((t) => from[t.column.property] ?? null);
  }
  const q: NormalizedQuery = { where: raw.where, orderBy: raw.orderBy, limit: raw.limit, offset: raw.offset, after };
  const got = ws.find(schema, q);
  const want = expected(model.values(), q);
  expect(got.map((r) => r["id"])).toEqual(want.map((r) => r["id"]));
  expect(got).toEqual(want);
  expect(ws.count(schema, q.where)).toBe(expected(model.values(), { where: q.where, orderBy: q.orderBy, offset: 0 }).length);
}

describe("ordered indexes: every query answers as a scan and sort would", () => {
  test("committed reads and reads inside a transaction, after random writes with savepoints", () => {
    fc.assert(
      fc.property(
        fc.array(row, { minLength: 0, maxLength: 300 }),
        fc.array(fc.array(op, { maxLength: 30 }), { maxLength: 3 }),
        fc.array(op, { maxLength: 10 }),
        fc.array(query, { minLength: 1, maxLength: 8 }),
        (seed, batches, open, queries) => {
          const db = new MemoryDatabase();
          db.ensureTable(schema);
          const model = new Map<string, Row>();
          const first = new WriteSet(db);
          play(first, model, seed.map((r) => ({ kind: "upsert" as const, row: r })));
          db.apply(first.changes());
          // Queries before the batches build the indexes, so that the batches' commits must maintain them.
          const committed = new WriteSet(db);
          check(committed, model, queries[0]!);
          for (const batch of batches) {
            const ws = new WriteSet(db);
            play(ws, model, batch);
            db.apply(ws.changes());
          }
          for (const q of queries) check(committed, model, q);
          // Inside a transaction with its own writes (and savepoints rolled back).
          const tx = new WriteSet(db);
          const txModel = new Map(model);
          play(tx, txModel, open);
          for (const q of queries) check(tx, txModel, q);
        },
      ),
      { numRuns: 400 },
    );
  });

  test("tables of thousands of rows (many index chunks), writes between reads", () => {
    const pick = <T>(xs: readonly T[], n: number): T => xs[n % xs.length]!;
    const pool = {
      s: [null, ...strings],
      n: [null, 0, -0, 1, -1, 2.5, 1e308, -1e308, 0.3],
      i: [null, 0, 1, -1, 7, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER],
      b: [null, false, true],
      d: [null, -86_400_000, 0, 1, 86_400_000],
    };
    /** Row `k` of generation `g`: a hash spreads the values, so that runs of equal keys are long and mixed. */
    const big = (k: number, g: number): Row => {
      const h = Math.imul(k + 1 + g * 7919, 2654435761) >>> 0;
      const d = pick(pool.d, h >>> 9);
      return { id: `r${k}`, s: pick(pool.s, h), n: pick(pool.n, h >>> 5), i: pick(pool.i, h >>> 7), b: pick(pool.b, h >>> 11), d: d === null ? null : new Date(d), u: pick(pool.s, h >>> 13) };
    };
    fc.assert(
      fc.property(fc.integer({ min: 1500, max: 4000 }), fc.nat(1000), fc.array(query, { minLength: 4, maxLength: 10 }), (size, gen, queries) => {
        const db = new MemoryDatabase();
        db.ensureTable(schema);
        const model = new Map<string, Row>();
        const load = new WriteSet(db);
        play(load, model, Array.from({ length: size }, (_, k) => ({ kind: "upsert" as const, row: big(k, gen) })));
        db.apply(load.changes());
        const committed = new WriteSet(db);
        queries.forEach((q, n) => {
          check(committed, model, q);
          // Between reads: a tenth of the rows rewritten (index values moved), some deleted, some new.
          const ws = new WriteSet(db);
          const ops: Op[] = [];
          for (let k = n; k < size + 200; k += 10) ops.push(k % 30 === n % 30 ? { kind: "delete", id: `r${k}` } : { kind: "upsert", row: big(k, gen + n + 1) });
          // And 600 new rows sharing their index values: they crowd into a few chunks, which must split.
          for (let k = 0; k < 600; k++) ops.push({ kind: "upsert", row: { ...big(size + 1000 * (n + 1) + k, 0), s: "san", n: 1, i: 7, b: true, d: new Date(0) } });
          play(ws, model, ops);
          db.apply(ws.changes());
        });
      }),
      { numRuns: 25 },
    );
  });
});
