/**
 * Top-k selection (src/engine/top-k.ts) and the engine's use of it: a page far smaller than the matches is
 * selected with a bounded heap, and must be exactly the page a full sort gives.
 */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { compileOrder } from "../../src/engine/compile-query.js";
import { MemoryDatabase, WriteSet } from "../../src/engine/table-engine.js";
import { smallestSorted } from "../../src/engine/top-k.js";
import type { NormalizedQuery, OrderTerm } from "../../src/query/query.js";
import type { Row } from "../../src/schema/entity-schema.js";
import { schemaOfTable } from "../../src/schema/table-schema.js";

describe("smallestSorted", () => {
  test("is exactly sort + slice for any items, total order and k", () => {
    fc.assert(
      fc.property(fc.array(fc.option(fc.integer({ min: -20, max: 20 }), { nil: null }), { maxLength: 300 }), fc.integer({ min: -2, max: 320 }), (values, k) => {
        // Ties in v are broken by the position, as the engine's orderings end with the primary key.
        const items = values.map((v, id) => ({ v, id }));
        const compare = (a: { v: number | null; id: number }, b: { v: number | null; id: number }) =>
          a.v === b.v ? a.id - b.id : a.v === null ? -1 : b.v === null ? 1 : b.v - a.v;
        const before = items.slice();
        const expected = items.slice().sort(compare).slice(0, Math.max(0, k));
        expect(smallestSorted(items, compare, k)).toEqual(expected);
        expect(items).toEqual(before);
      }),
      { numRuns: 300 },
    );
  });
});

describe("the engine's find with a small page over many rows", () => {
  const schema = schemaOfTable({
    name: "scores",
    columns: [
      { name: "id", type: "integer", nullable: false, primary: true, unique: true },
      { name: "score", type: "integer", nullable: true, primary: false, unique: false },
      { name: "name", type: "string", nullable: true, primary: false, unique: false },
    ],
    indexes: [],
  });
  const db = new MemoryDatabase();
  db.ensureTable(schema);
  const seed = new WriteSet(db);
  // 2,000 rows with many equal scores, nulls, and names whose code-point order differs from UTF-16 order.
  const names = ["b", "a", "\u{1F600}", "\uFFFF", null, "A"];
  for (let id = 0; id < 2000; id++) {
    seed.insert(schema, { id, score: id % 7 === 0 ? null : (id * 7919) % 23, name: names[id % names.length]! });
  }
  db.apply(seed.changes());

  const column = (p: string) => schema.columnsByProperty.get(p)!;
  const orderings: OrderTerm[][] = [
    [{ column: column("score"), direction: "desc" }, { column: schema.primary, direction: "asc" }],
    [{ column: column("score"), direction: "asc" }, { column: schema.primary, direction: "desc" }],
    [{ column: column("name"), direction: "asc" }, { column: column("score"), direction: "desc" }, { column: schema.primary, direction: "asc" }],
  ];

  test.each([
    [10, 0],
    [5, 37],
    [1, 1999],
    [50, 10],
  ])("limit %i offset %i gives the rows of the full ordering at those places, in every ordering", (limit, offset) => {
    for (const orderBy of orderings) {
      const all = new WriteSet(db).find(schema, { where: [[]], orderBy, offset: 0 } as NormalizedQuery);
      const page = new WriteSet(db).find(schema, { where: [[]], orderBy, limit, offset } as NormalizedQuery);
      expect(page.map((r: Row) => r["id"])).toEqual(all.slice(offset, offset + limit).map((r: Row) => r["id"]));
      // And the full ordering is the contract's: checked against the comparator on its own.
      const order = compileOrder(orderBy);
      for (let i = 1; i < all.length; i++) expect(order(all[i - 1]!, all[i]!)).toBeLessThan(0);
    }
  });
});
