/** The engine's value ordering and pattern matching (src/engine/compare-values.ts), the reference the other backends must agree with. */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { asciiLower, comparatorFor, compareStrings, likeMatcher, valueKey } from "../../src/engine/compare-values.js";
import { referenceLike } from "../support/reference-where.js";

describe("engine: compareStrings", () => {
  test("orders by code point: a character above U+FFFF sorts after U+E000-U+FFFF (UTF-16 `<` would put it before)", () => {
    const words = ["\u{1F600}", "\uFFFD", "\uE000", "z", "a", "ab", "", "B", "\u00E9"];
    expect([...words].sort(compareStrings)).toEqual(["", "B", "a", "ab", "z", "\u00E9", "\uE000", "\uFFFD", "\u{1F600}"]);
    // The same list by code unit, to show the difference the comparator exists for.
    expect([...words].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)).slice(-3)).toEqual(["\u{1F600}", "\uE000", "\uFFFD"]);
  });

  test("returns 0 for equal strings, and a shorter prefix first", () => {
    expect(compareStrings("abc", "abc")).toBe(0);
    expect(compareStrings("ab", "abc")).toBe(-1);
    expect(compareStrings("abc", "ab")).toBe(1);
    expect(compareStrings("\u{1F600}", "\u{1F601}")).toBe(-1);
    expect(compareStrings("\u{1F601}a", "\u{1F601}")).toBe(1);
  });
});

describe("engine: comparatorFor", () => {
  test("datetime compares instants, not objects", () => {
    const compare = comparatorFor("datetime");
    expect(compare(new Date(5), new Date(5))).toBe(0);
    expect(Math.sign(compare(new Date(4), new Date(5)))).toBe(-1);
    expect(Math.sign(compare(new Date(6), new Date(5)))).toBe(1);
  });

  test("boolean: false before true", () => {
    const compare = comparatorFor("boolean");
    expect(Math.sign(compare(false, true))).toBe(-1);
    expect(compare(true, true)).toBe(0);
    expect(Math.sign(compare(true, false))).toBe(1);
  });

  test("integer and number compare numerically, negatives included", () => {
    for (const type of ["integer", "number"] as const) {
      const compare = comparatorFor(type);
      expect([10, -2, 3.5, 0, 2].sort(compare)).toEqual([-2, 0, 2, 3.5, 10]);
      expect(compare(7, 7)).toBe(0);
    }
  });

  test("string compares by code point", () => {
    expect(["\u{1F600}", "\uFFFF", "a"].sort(comparatorFor("string"))).toEqual(["a", "\uFFFF", "\u{1F600}"]);
  });
});

describe("engine: valueKey", () => {
  test("dates meet by instant in a Map; other values are their own key", () => {
    const map = new Map<unknown, string>([[valueKey(new Date(42)), "found"]]);
    expect(map.get(valueKey(new Date(42)))).toBe("found");
    expect(valueKey("x")).toBe("x");
    expect(valueKey(3)).toBe(3);
    expect(valueKey(null)).toBe(null);
  });
});

describe("engine: asciiLower", () => {
  test("lowers ASCII letters only", () => {
    expect(asciiLower("ABC xyz \u00C9\u00C0 \u0130 Z")).toBe("abc xyz \u00C9\u00C0 \u0130 z");
  });
});

describe("engine: likeMatcher", () => {
  test("% matches any run, the empty one and line breaks included; the pattern is anchored at both ends", () => {
    const match = likeMatcher("a%z", false);
    expect(["az", "abz", "a\nb\nz", "a%z"].map(match)).toEqual([true, true, true, true]);
    expect(["xaz", "aza", "a", "Az"].map(match)).toEqual([false, false, false, false]);
  });

  test("_ matches exactly one code point (a character above U+FFFF is one)", () => {
    const match = likeMatcher("a_b", false);
    expect(["axb", "a\u{1F600}b", "a\nb"].map(match)).toEqual([true, true, true]);
    expect(["ab", "axyb"].map(match)).toEqual([false, false]);
  });

  test("regular-expression characters in the pattern are literal", () => {
    expect(likeMatcher("a.c", false)("abc")).toBe(false);
    expect(likeMatcher("a.c", false)("a.c")).toBe(true);
    expect(likeMatcher("(x)+[y]$^\\{2}|/?*", false)("(x)+[y]$^\\{2}|/?*")).toBe(true);
    expect(likeMatcher("x+", false)("xx")).toBe(false);
  });

  test("$like is case-sensitive; $ilike ignores the case of ASCII letters only", () => {
    expect(likeMatcher("abc%", false)("ABCdef")).toBe(false);
    expect(likeMatcher("abc%", true)("ABCdef")).toBe(true);
    expect(likeMatcher("ABC%", true)("abcdef")).toBe(true);
    expect(likeMatcher("\u00E9%", true)("\u00C9t\u00E9")).toBe(false);
    expect(likeMatcher("\u00E9%", true)("\u00E9t\u00E9")).toBe(true);
    // Nor is a non-ASCII capital in the pattern folded.
    expect(likeMatcher("\u00C9T\u00C9", true)("\u00E9t\u00E9")).toBe(false);
    expect(likeMatcher("\u00C9T\u00C9", true)("\u00C9t\u00C9")).toBe(true);
  });

  test("matches as a plain like evaluator does, on random patterns and texts (ASCII letters of both cases, wildcards, non-ASCII)", () => {
    const text = fc.array(fc.constantFrom("a", "A", "s", "S", "z", "Z", "%", "_", ".", "[", "\u00E9", "\u00C9", "\u212A", "\u{1F600}", "\n"), { maxLength: 6 }).map((cs) => cs.join(""));
    fc.assert(
      fc.property(text, text, fc.boolean(), (pattern, candidate, ignoreCase) => {
        expect(likeMatcher(pattern, ignoreCase)(candidate)).toBe(referenceLike(pattern, candidate, ignoreCase));
      }),
      { numRuns: 5000 },
    );
  });
});
