import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { QueryError } from "../../src/errors.js";
import { MAX_QUERY_DEPTH, MAX_QUERY_LENGTH, parseSearchQuery } from "../../src/search/search-parser.js";
import type { SearchNode, SearchQuery } from "../../src/search/search-query.js";
import { Fts5Table, toFts5 } from "./fts5-oracle.js";

const phrase = (index: number, tokens: string[], prefix = false): SearchNode => ({ kind: "phrase", tokens, prefix, index });

/** The query's tree without phrase objects' identity, for readable comparisons. */
const root = (text: string): SearchNode => parseSearchQuery(text).root;

function errorOf(text: string): QueryError {
  try {
    parseSearchQuery(text);
  } catch (error) {
    if (error instanceof QueryError) return error;
    throw error;
  }
  throw new Error(`${JSON.stringify(text)} parsed`);
}

/** Every structural promise of search-query.ts. */
function checkShape(query: SearchQuery): void {
  const seen: number[] = [];
  const walk = (node: SearchNode, parent: SearchNode["kind"] | "root"): void => {
    switch (node.kind) {
      case "phrase":
        expect(node.tokens.length).toBeGreaterThan(0);
        expect(node.tokens.every((t) => t.length > 0)).toBe(true);
        expect(query.phrases[node.index]).toBe(node);
        seen.push(node.index);
        return;
      case "not":
        expect(parent).toBe("and");
        walk(node.child, "not");
        return;
      case "and":
        expect(node.children.length).toBeGreaterThan(1);
        expect(node.children.some((c) => c.kind !== "not")).toBe(true);
        node.children.forEach((c) => walk(c, "and"));
        return;
      case "or":
        expect(node.children.length).toBeGreaterThan(1);
        node.children.forEach((c) => walk(c, "or"));
        return;
    }
  };
  walk(query.root, "root");
  // Reading order: the tree's phrases, left to right, are numbered 0, 1, 2, ...
  expect(seen).toEqual(query.phrases.map((_, i) => i));
}

describe("search query parser", () => {
  test("words, phrases, prefixes, OR, exclusions and parentheses", () => {
    expect(root("Köln")).toEqual(phrase(0, ["koln"]));
    expect(root("o'brien*")).toEqual(phrase(0, ["o", "brien"], true));
    expect(root('"new  York" city')).toEqual({ kind: "and", children: [phrase(0, ["new", "york"]), phrase(1, ["city"])] });
    expect(root('"new yo"*')).toEqual(phrase(0, ["new", "yo"], true));
    // AND binds tighter than OR.
    expect(root("a b OR c")).toEqual({ kind: "or", children: [{ kind: "and", children: [phrase(0, ["a"]), phrase(1, ["b"])] }, phrase(2, ["c"])] });
    expect(root("a (b OR c)")).toEqual({ kind: "and", children: [phrase(0, ["a"]), { kind: "or", children: [phrase(1, ["b"]), phrase(2, ["c"])] }] });
    expect(root("-b a")).toEqual({ kind: "and", children: [{ kind: "not", child: phrase(0, ["b"]) }, phrase(1, ["a"])] });
    expect(root('a -"x y" -(p OR q)')).toEqual({
      kind: "and",
      children: [phrase(0, ["a"]), { kind: "not", child: phrase(1, ["x", "y"]) }, { kind: "not", child: { kind: "or", children: [phrase(2, ["p"]), phrase(3, ["q"])] } }],
    });
    // Nested groups of the same operator flatten; a dash inside a word is part of it.
    expect(root("(a b) c")).toEqual({ kind: "and", children: [phrase(0, ["a"]), phrase(1, ["b"]), phrase(2, ["c"])] });
    expect(root("a OR (b OR c)")).toEqual({ kind: "or", children: [phrase(0, ["a"]), phrase(1, ["b"]), phrase(2, ["c"])] });
    expect(root("Saint-Étienne")).toEqual(phrase(0, ["saint", "etienne"]));
    // Only OR in capitals is an operator; AND, NOT and or are words.
    expect(root("rock or roll")).toEqual({ kind: "and", children: [phrase(0, ["rock"]), phrase(1, ["or"]), phrase(2, ["roll"])] });
    expect(root("a NOT b")).toEqual({ kind: "and", children: [phrase(0, ["a"]), phrase(1, ["not"]), phrase(2, ["b"])] });
    expect(root("OR*")).toEqual(phrase(0, ["or"], true));
    expect(root('"OR"')).toEqual(phrase(0, ["or"]));
    expect(root("a OR(b)")).toEqual({ kind: "or", children: [phrase(0, ["a"]), phrase(1, ["b"])] });
  });

  test.each([
    ["", 0, "is empty"],
    ["   ", 0, "is empty"],
    ["-a", 0, "only excludes"],
    ["-a -b", 0, "only excludes"],
    ["a OR -b", 5, "only excludes"],
    ["a (-b)", 3, "only excludes"],
    ['a "b c', 2, "quote that is never closed"],
    ["(a b", 0, "`(` that is never closed"],
    ["a (b (c)", 2, "`(` that is never closed"],
    ["a)", 1, "closes no"],
    [")", 0, "closes no"],
    ["*", 0, "`*` with no word"],
    ["a *", 2, "`*` with no word"],
    ["a*b", 1, "`*` inside a word"],
    ["(a)*", 3, "`*` after a group"],
    ["a - b", 2, "`-` with nothing"],
    ["--a", 0, "`-` with nothing"],
    ["a OR", 2, "no term after"],
    ["a OR OR b", 2, "no term after"],
    ["OR a", 0, "no term before"],
    ["(a OR)", 3, "no term after"],
    ["()", 1, "empty group"],
    ["a !!!", 2, "`!!!` with no letter or digit"],
    ['a ""', 2, "quoted phrase with no letter or digit"],
    ["a ---", 2, "`-` with nothing"],
  ])("%j is a QueryError at position %i", (text, position, words) => {
    const error = errorOf(text);
    expect(error.message).toContain(words);
    expect(error.message).toContain(`(at position ${position})`);
    // The caret stands under the position.
    const lines = error.message.split("\n");
    expect(lines[2]!.indexOf("^") - 2).toBe(position);
  });

  test("bounds the query's length and nesting", () => {
    expect(parseSearchQuery("a".repeat(MAX_QUERY_LENGTH)).phrases).toHaveLength(1);
    expect(errorOf("a".repeat(MAX_QUERY_LENGTH + 1)).message).toContain(`longer than ${MAX_QUERY_LENGTH} characters`);
    const nested = (depth: number): string => "(".repeat(depth) + "a" + ")".repeat(depth);
    expect(parseSearchQuery(nested(MAX_QUERY_DEPTH)).phrases).toHaveLength(1);
    expect(errorOf(nested(MAX_QUERY_DEPTH + 1)).message).toContain(`deeper than ${MAX_QUERY_DEPTH}`);
    expect(() => parseSearchQuery(undefined as unknown as string)).toThrow(QueryError);
  });

  // Any text: a query with the promised shape, which FTS5 accepts too, or a QueryError; never anything else.
  test("any text parses to a well-formed tree or is a QueryError", () => {
    const fts5 = new Fts5Table(1, [{ key: 1, columns: ["a b"] }]);
    try {
      const syntax = fc.constantFrom("a", "B", "é", "ö", "東", "1", " ", "  ", "-", "*", '"', "(", ")", "OR", "or", "'", ".", "\u0301", "\ud800", "\t");
      const text = fc.oneof(fc.array(syntax, { maxLength: 16 }).map((p) => p.join("")), fc.string({ unit: "grapheme", maxLength: 20 }), fc.string({ unit: "binary", maxLength: 20 }));
      fc.assert(
        fc.property(text, (t) => {
          let query: SearchQuery;
          try {
            query = parseSearchQuery(t);
          } catch (error) {
            expect(error).toBeInstanceOf(QueryError);
            return;
          }
          checkShape(query);
          expect(() => fts5.search(toFts5(query.root))).not.toThrow();
        }),
        { numRuns: 3000 },
      );
    } finally {
      fts5.close();
    }
  });
});
