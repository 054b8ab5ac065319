import fc from "fast-check";
import { documents, queryText } from "./search-arbitraries.js";
import { describe, expect, test } from "vitest";
import { parseSearchQuery } from "../../src/search/search-parser.js";
import { bm25Idf } from "../../src/search/bm25.js";
import { searchReference, type ReferenceDocument } from "../support/search-reference.js";
import { expectSameRanking, Fts5Table, fts5ScoresReproducible, toFts5 } from "./fts5-oracle.js";

describe("search reference", () => {
  test("IDF is FTS5's, floored at 1e-6", () => {
    expect(bm25Idf(10, 1)).toBeCloseTo(Math.log(9.5 / 1.5), 15);
    expect(bm25Idf(10, 5)).toBe(1e-6);
    expect(bm25Idf(10, 9)).toBe(1e-6);
  });

  test("ranks a rarer word and a shorter document higher; ties by key", () => {
    const docs: ReferenceDocument[] = [
      { key: 3, columns: ["red apple pie", null] },
      { key: 1, columns: ["red apple", "a very long description of a red apple"] },
      { key: 2, columns: ["green pear", null] },
      { key: 4, columns: ["red apple pie", null] },
    ];
    const hits = searchReference(parseSearchQuery("pie OR pear"), docs);
    expect(hits.map((h) => h.key)).toEqual([2, 3, 4]);
    expect(hits[1]!.score).toBe(hits[2]!.score);
    expect(searchReference(parseSearchQuery("apple -pie"), docs).map((h) => h.key)).toEqual([1]);
    expect(searchReference(parseSearchQuery("red"), docs, { offset: 1, limit: 2 }).map((h) => h.key)).toEqual([4, 1]);
    // A phrase never spans two columns.
    expect(searchReference(parseSearchQuery('"apple a"'), docs)).toEqual([]);
  });

  // The property the engine and SQL backends are held to through this reference: FTS5's matches, order and
  // scores, on random documents (two columns, nulls) and random queries of every syntax element.
  test("matches FTS5: the same rows, the same order, the same scores", () => {
    fc.assert(
      fc.property(documents, queryText, (docs, text) => {
        const query = parseSearchQuery(text);
        const fts5 = new Fts5Table(2, docs as Array<{ key: number; columns: (string | null)[] }>);
        try {
          const expected = fts5.search(toFts5(query.root));
          const actual = searchReference(query, docs);
          expect(new Set(actual.map((h) => h.key))).toEqual(new Set(expected.map((h) => h.key)));
          // Where FTS5's counts depend on its cursors' state, only the matches are compared (fts5-oracle.ts).
          if (fts5ScoresReproducible(query.root)) expectSameRanking(actual, expected);
        } finally {
          fts5.close();
        }
      }),
      { numRuns: 1500 },
    );
  });
});
