import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { parseSearchQuery } from "../../src/search/search-parser.js";
import { buildSnippet, SNIPPET_DEFAULTS } from "../../src/search/search-snippet.js";

const snippet = (texts: Array<string | null>, query: string, options: Partial<typeof SNIPPET_DEFAULTS> = {}): string =>
  buildSnippet(texts, parseSearchQuery(query), { ...SNIPPET_DEFAULTS, ...options });

describe("search snippets", () => {
  test("a short column whole, punctuation kept, every hit marked, with the stored (unfolded) text", () => {
    expect(snippet(["(Köln-Deutz)"], "koln")).toBe("(<b>Köln</b>-Deutz)");
    expect(snippet(["New York, New York"], '"new york"')).toBe("<b>New York</b>, <b>New York</b>");
    expect(snippet(["Frankfurt am Main"], "frank* main")).toBe("<b>Frankfurt</b> am <b>Main</b>");
  });

  test("a long column: the window of the most distinct phrases, a lead of context, ellipses on the cut sides", () => {
    const text = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen";
    expect(snippet([text], "nine", { maxTokens: 5 })).toBe("…eight <b>nine</b> ten eleven twelve…");
    expect(snippet([text], "one", { maxTokens: 5 })).toBe("<b>one</b> two three four five…");
    expect(snippet([text], "sixteen", { maxTokens: 5 })).toBe("…twelve thirteen fourteen fifteen <b>sixteen</b>");
    // Two distinct phrases in one window beat one phrase twice.
    const repeated = "alpha x x x x x x x alpha beta x x x x alpha x";
    expect(snippet([repeated], "alpha beta", { maxTokens: 4 })).toBe("…x <b>alpha</b> <b>beta</b> x…");
  });

  test("the column with the best window wins; excluded words are never marked; no hit shows the first column", () => {
    expect(snippet(["Bonn", "the Rhine and Bonn and Köln"], "bonn koln")).toBe("the Rhine and <b>Bonn</b> and <b>Köln</b>");
    expect(snippet(["Köln Bonn"], "koln -bonn")).toBe("<b>Köln</b> Bonn");
    expect(snippet([null, "", "plain text"], "absent")).toBe("plain text");
    expect(snippet([null], "absent")).toBe("");
  });

  test("markers and ellipsis as given; the text is not escaped", () => {
    expect(snippet(["a <tag> & köln here"], "koln", { before: "[", after: "]", ellipsis: "...", maxTokens: 2 })).toBe("...[köln] here");
    expect(snippet(["<i>köln</i>"], "koln")).toBe("<i><b>köln</b></i>");
  });

  test("any text and query: the snippet is the text's window with markers added, never more tokens than asked", () => {
    const words = fc.constantFrom("a", "b", "ab", "Köln", "koln", "x", "y", "z");
    fc.assert(
      fc.property(
        fc.array(fc.array(words, { maxLength: 30 }).map((w) => w.join(" ")), { minLength: 1, maxLength: 3 }),
        fc.constantFrom("a", "ab*", "koln OR x", '"x y"', "a -b", "z"),
        fc.integer({ min: 1, max: 12 }),
        (texts, query, maxTokens) => {
          const out = snippet(texts, query, { before: "[", after: "]", ellipsis: "~", maxTokens });
          const plain = out.replace(/[[\]~]/g, "");
          expect(texts.some((t) => t.includes(plain))).toBe(true);
          expect(plain.split(" ").filter((w) => w !== "").length).toBeLessThanOrEqual(maxTokens);
        },
      ),
      { numRuns: 500 },
    );
  });
});
