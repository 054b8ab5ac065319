/**
 * Snippets of long texts: a 1 MB column with a hit at every other word, and a query that repeats one phrase
 * many times, must come back (the window search is bounded by the hits, not by their square; a repeated
 * phrase is looked for once). The bound is vitest's test timeout, a bound against hangs, not a speed check.
 */
import { describe, expect, test } from "vitest";
import { parseSearchQuery } from "../../src/search/search-parser.js";
import { buildSnippet, SNIPPET_DEFAULTS } from "../../src/search/search-snippet.js";

/** About 1 MB: 250,000 hits of `a` between the words `b0`, `b1`, ... */
const LONG = Array.from({ length: 250_000 }, (_, i) => `a b${i}`).join(" ");

describe("snippets of long texts", () => {
  test("a 1 MB column with 250,000 hits gives the first best window", () => {
    expect(buildSnippet([LONG], parseSearchQuery("a"), SNIPPET_DEFAULTS)).toBe("<b>a</b> b0 <b>a</b> b1 <b>a</b> b2 <b>a</b> b3 <b>a</b> b4…");
    // The window with both phrases is the one with b77777, from two tokens before its `a`.
    expect(buildSnippet([LONG], parseSearchQuery("a b77777"), { ...SNIPPET_DEFAULTS, maxTokens: 4 })).toBe("…b77776 <b>a</b> <b>b77777</b> <b>a</b>…");
  });

  test("a query repeating one phrase 400 times over the 1 MB column", () => {
    const query = parseSearchQuery(Array.from({ length: 400 }, () => "a").join(" "));
    expect(buildSnippet([LONG], query, { ...SNIPPET_DEFAULTS, maxTokens: 3 })).toBe("<b>a</b> b0 <b>a</b>…");
  });
});
