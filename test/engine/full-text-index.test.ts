/**
 * The engine's inverted index against models: the ordered term dictionary (chunk splits and merges under
 * random adds and deletes, prefix walks), and the index's postings, lengths and totals after random writes
 * and removals settled at random moments.
 */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { FullTextIndex } from "../../src/engine/full-text-index.js";
import { SortedTerms } from "../../src/engine/sorted-terms.js";
import { tokenize } from "../../src/search/search-tokenizer.js";

const TERM = fc.string({ unit: fc.constantFrom("a", "b", "c", "é", "z"), minLength: 1, maxLength: 5 });

describe("SortedTerms", () => {
  test("prefix walks list exactly the model's terms with the prefix, in order, across chunk splits", () => {
    fc.assert(
      fc.property(fc.uniqueArray(TERM, { maxLength: 300 }), fc.array(fc.tuple(fc.boolean(), TERM), { maxLength: 3000 }), TERM, (initial, ops, prefix) => {
        const model = new Set(initial);
        const sorted = new SortedTerms(initial);
        for (const [add, term] of ops) {
          if (add && !model.has(term)) {
            model.add(term);
            sorted.add(term);
          } else if (!add && model.has(term)) {
            model.delete(term);
            sorted.delete(term);
          }
        }
        for (const p of [prefix, prefix.slice(0, 1), ""]) {
          const got: string[] = [];
          sorted.forPrefix(p, (t) => got.push(t));
          expect(got).toEqual([...model].filter((t) => t.startsWith(p)).sort());
        }
      }),
      { numRuns: 60 },
    );
  });
});

describe("FullTextIndex", () => {
  const WORDS = ["alpha", "beta", "gamma", "Ålpha", "alphabet"];
  const TEXT = fc.option(fc.array(fc.constantFrom(...WORDS), { maxLength: 4 }).map((w) => w.join(" ")), { nil: null });
  const OP = fc.oneof(
    fc.record({ kind: fc.constant("write" as const), key: fc.integer({ min: 1, max: 12 }), a: TEXT, b: TEXT }),
    fc.record({ kind: fc.constant("erase" as const), key: fc.integer({ min: 1, max: 12 }) }),
    fc.record({ kind: fc.constant("settle" as const) }),
  );

  test("settled, it holds each live row's terms, positions (a gap between columns) and length, and nothing else", () => {
    fc.assert(
      fc.property(fc.array(OP, { maxLength: 60 }), (ops) => {
        const index = new FullTextIndex({ name: "fts_t", properties: ["a", "b"] });
        const rows = new Map<number, { a: string | null; b: string | null }>();
        for (const op of ops) {
          if (op.kind === "write") {
            rows.set(op.key, { a: op.a, b: op.b });
            index.write(op.key, { a: op.a, b: op.b });
          } else if (op.kind === "erase") {
            rows.delete(op.key);
            index.erase(op.key);
          } else index.settle("t");
        }
        index.settle("t");
        const want = new Map<string, Map<number, number[]>>();
        let total = 0;
        for (const [key, row] of rows) {
          const a = row.a === null ? [] : tokenize(row.a).map((t) => t.term);
          const b = row.b === null ? [] : tokenize(row.b).map((t) => t.term);
          total += a.length + b.length;
          [...a.map((t, i) => [t, i] as const), ...b.map((t, i) => [t, a.length + 1 + i] as const)].forEach(([term, at]) => {
            const docs = want.get(term) ?? new Map<number, number[]>();
            want.set(term, docs);
            docs.set(key, [...(docs.get(key) ?? []), at]);
          });
          expect(index.docs.get(key)?.length).toBe(a.length + b.length);
        }
        expect(index.size).toBe(rows.size);
        expect(index.totalTokens).toBe(total);
        const got = new Map([...index.terms].map(([term, entry]) => [term, new Map(entry.postings.map((p) => [p.doc.key as number, p.positions]))]));
        expect(got).toEqual(want);
        // Each posting knows its place in its list (what a removal swaps by).
        for (const entry of index.terms.values()) entry.postings.forEach((p, i) => expect(p.slot).toBe(i));
      }),
      { numRuns: 200 },
    );
  });
});
