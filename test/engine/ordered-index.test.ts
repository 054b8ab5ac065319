/**
 * The ordered index on its own: the entries' order is the contract's (code points, nulls first, dates by
 * instant, false < true, -0 equal to 0, then the key), and inserts, deletes, seeks, counts and walks in
 * either direction agree with a sorted array, across chunk splits (chunks of four entries here), with
 * writes placed at the next read in any interleaving.
 */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { compileOrder } from "../../src/engine/compile-query.js";
import type { Cursor } from "../../src/engine/ordered-index.js";
import { OrderedIndex } from "../../src/engine/ordered-index.js";
import type { Row } from "../../src/schema/entity-schema.js";
import { schemaOfTable } from "../../src/schema/table-schema.js";

const schema = schemaOfTable({
  name: "things",
  columns: [
    { name: "id", type: "integer", nullable: false, primary: true, unique: false },
    { name: "s", type: "string", nullable: true, primary: false, unique: false },
    { name: "n", type: "number", nullable: true, primary: false, unique: false },
    { name: "d", type: "datetime", nullable: true, primary: false, unique: false },
    { name: "b", type: "boolean", nullable: true, primary: false, unique: false },
  ],
  indexes: [],
});
const col = (p: string) => schema.columnsByProperty.get(p)!;
const all = (index: OrderedIndex): Row[] => {
  const out: Row[] = [];
  index.walk({ chunk: 0, at: 0 }, index.seek(() => true), false, (r) => {
    out.push(r);
    return true;
  });
  return out;
};
const START: Cursor = { chunk: 0, at: 0 };

describe("OrderedIndex", () => {
  test("orders entries as the contract does, the key breaking ties", () => {
    const index = new OrderedIndex({ name: "i", properties: ["s"], unique: false }, [col("s")], schema.primary, 4);
    const rows = ["b", null, "\u{1F600}", "\uFFFF", "a", "\uE000", "B", null, "a"].map((s, id) => ({ id, s }));
    index.build(rows);
    expect(all(index).map((r) => r["id"])).toEqual([1, 7, 6, 4, 8, 0, 5, 3, 2]);
    const byDate = new OrderedIndex({ name: "d", properties: ["d", "b", "n"], unique: false }, [col("d"), col("b"), col("n")], schema.primary, 4);
    byDate.build([
      { id: 1, d: new Date(5), b: true, n: 0 },
      { id: 2, d: new Date(5), b: false, n: 1 },
      { id: 3, d: null, b: true, n: 0 },
      { id: 4, d: new Date(-1), b: null, n: 0 },
      { id: 5, d: new Date(5), b: false, n: -0 },
      { id: 0, d: new Date(5), b: false, n: 0 },
    ]);
    expect(all(byDate).map((r) => r["id"])).toEqual([3, 4, 0, 5, 2, 1]);
  });

  test("writes take effect at the next read: inserted then deleted rows never show, re-inserted ones do", () => {
    const index = new OrderedIndex({ name: "i", properties: ["d"], unique: false }, [col("d")], schema.primary, 4);
    index.build([]);
    const rows = Array.from({ length: 20 }, (_, id) => ({ id, d: new Date(id % 3) }));
    for (const row of rows) index.insert(row);
    index.delete(rows[4]!);
    expect(index.size).toBe(19);
    // Deleting a placed row and inserting it again before the next read keeps it.
    index.delete(rows[5]!);
    index.insert(rows[5]!);
    // A new version of a placed row (same index values): the old entry goes, the new one comes.
    const moved = { id: 7, d: new Date(7 % 3) };
    index.delete(rows[7]!);
    index.insert(moved);
    index.delete(rows[8]!);
    index.insert({ id: 8, d: null });
    expect(all(index).map((r) => r["id"])).toEqual([8, 0, 3, 6, 9, 12, 15, 18, 1, 7, 10, 13, 16, 19, 2, 5, 11, 14, 17]);
    expect(all(index).find((r) => r["id"] === 7)).toBe(moved);
  });

  test("an index not yet built records no writes until it is built from the table", () => {
    const index = new OrderedIndex({ name: "i", properties: ["n"], unique: false }, [col("n")], schema.primary);
    index.insert({ id: 1, n: 1 });
    expect(index.isBuilt).toBe(false);
    expect(index.size).toBe(0);
    index.build([{ id: 2, n: 0 }]);
    index.insert({ id: 1, n: 1 });
    expect(all(index).map((r) => r["id"])).toEqual([2, 1]);
  });

  test("hundreds of writes placed at one read (the bulk pass) agree with a sorted array, chunk limits kept", () => {
    const entry = (id: number) => fc.record({ id: fc.constant(id), n: fc.option(fc.constantFrom(0, 1, 2, -3.5), { nil: null }), s: fc.option(fc.constantFrom("", "a", "b"), { nil: null }) });
    // size "max": fast-check's default size keeps arrays to about ten rows, below the bulk pass's threshold.
    const ids = fc.uniqueArray(fc.integer({ min: 0, max: 400 }), { maxLength: 300, size: "max" });
    const round = fc.record({ drop: fc.array(fc.integer({ min: 0, max: 400 }), { maxLength: 200, size: "max" }), put: ids.chain((xs) => fc.tuple(...xs.map(entry))) });
    fc.assert(
      fc.property(ids.chain((xs) => fc.tuple(...xs.map(entry))), fc.array(round, { maxLength: 4 }), fc.constantFrom(2, 4, 9), (initial, rounds, maxChunk) => {
        const index = new OrderedIndex({ name: "i", properties: ["n", "s"], unique: false }, [col("n"), col("s")], schema.primary, maxChunk);
        const model = new Map<number, Row>();
        for (const r of initial) model.set(r.id, r);
        index.build(model.values());
        const order = compileOrder([{ column: col("n"), direction: "asc" }, { column: col("s"), direction: "asc" }, { column: schema.primary, direction: "asc" }]);
        for (const { drop, put } of rounds) {
          for (const id of drop) {
            const old = model.get(id);
            if (old) index.delete(old);
            model.delete(id);
          }
          for (const row of put) {
            const old = model.get(row.id);
            if (old) index.delete(old);
            index.insert(row);
            model.set(row.id, row);
          }
          const sorted = [...model.values()].sort(order);
          expect(all(index)).toEqual(sorted);
          expect(index.size).toBe(sorted.length);
          // Every chunk within its limit and none empty: a walk from each seek position sees the chunks as they are.
          const chunks = (index as unknown as { chunks: Row[][] }).chunks;
          for (const chunk of chunks) expect(chunk.length).toBeGreaterThan(0);
          for (const chunk of chunks) expect(chunk.length).toBeLessThanOrEqual(maxChunk);
          const middle = sorted[sorted.length >> 1];
          if (middle) expect(index.countBetween(index.seek((r) => order(r, middle) < 0), index.seek(() => true))).toBe(sorted.length - (sorted.length >> 1));
        }
      }),
      { numRuns: 50 },
    );
  });

  test("random inserts and deletes: walks, seeks and counts agree with a sorted array", () => {
    const entry = fc.record({ id: fc.integer({ min: 0, max: 80 }), n: fc.option(fc.constantFrom(0, -0, 1, 2, -3.5), { nil: null }), s: fc.option(fc.constantFrom("", "a", "b", "\u{1F600}"), { nil: null }) });
    fc.assert(
      fc.property(
        fc.array(entry, { maxLength: 60 }),
        fc.array(fc.oneof(entry.map((row) => ({ put: row })), fc.integer({ min: 0, max: 80 }).map((id) => ({ drop: id })), fc.constant({ read: true as const })), { maxLength: 120 }),
        fc.array(fc.tuple(fc.option(fc.constantFrom(0, 1, 2, -3.5), { nil: null }), fc.integer({ min: 0, max: 80 }), fc.boolean()), { maxLength: 6 }),
        (initial, ops, bounds) => {
          const index = new OrderedIndex({ name: "i", properties: ["n", "s"], unique: false }, [col("n"), col("s")], schema.primary, 4);
          const model = new Map<number, Row>();
          for (const r of initial) model.set(r.id, r);
          index.build(model.values());
          for (const o of ops) {
            if ("read" in o) expect(index.size).toBe(model.size);
            else if ("put" in o) {
              const old = model.get(o.put.id);
              if (old) index.delete(old);
              index.insert(o.put);
              model.set(o.put.id, o.put);
            } else {
              const old = model.get(o.drop);
              if (old) index.delete(old);
              model.delete(o.drop);
            }
          }
          const sorted = [...model.values()].sort(compileOrder([{ column: col("n"), direction: "asc" }, { column: col("s"), direction: "asc" }, { column: schema.primary, direction: "asc" }]));
          expect(all(index)).toEqual(sorted);
          expect(index.size).toBe(sorted.length);
          for (const [a, b, reverse] of bounds) {
            // The range of entries from the first at or after (a, id a') to the first after (b's n, any s).
            const lo = (r: Row) => index.compare(r, { n: a, s: null, id: b }) < 0;
            const hi = (r: Row) => index.orders[0]!(r["n"], a) <= 0;
            const from = index.seek(lo);
            const to = index.seek(hi);
            const want = sorted.filter((r) => !lo(r) && hi(r));
            expect(index.countBetween(from, to)).toBe(want.length);
            const got: Row[] = [];
            index.walk(from, to, reverse, (r) => {
              got.push(r);
              return true;
            });
            expect(got).toEqual(reverse ? want.slice().reverse() : want);
            // Stopping early stops at once.
            const firstTwo: Row[] = [];
            const finished = index.walk(START, index.seek(() => true), reverse, (r) => (firstTwo.push(r), firstTwo.length < 2));
            expect(finished).toBe(sorted.length < 2);
            expect(firstTwo).toEqual((reverse ? sorted.slice().reverse() : sorted).slice(0, Math.min(2, sorted.length)));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
