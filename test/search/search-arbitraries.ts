/** Random full-text queries and documents for the property tests (fast-check arbitraries). */
import fc from "fast-check";
import type { ReferenceDocument } from "../support/search-reference.js";

// A small vocabulary (with case and diacritic variants, and words that share prefixes) so that random
// queries match often, phrases repeat and IDFs vary.
export const WORDS = ["a", "ab", "abc", "Abc", "b", "ba", "köln", "KOLN", "kol", "é", "e", "東京", "x"];

/** A random query text of the grammar, with its phrases drawn from the vocabulary. */
export const queryText: fc.Arbitrary<string> = fc.letrec<{ or: string; and: string; unary: string; primary: string }>((tie) => ({
  or: fc.oneof({ depthSize: "small", withCrossShrink: true }, tie("and"), fc.tuple(tie("and"), tie("and")).map(([a, b]) => `${a} OR ${b}`)),
  // An `and` keeps a positive part first (a random order would often make it all exclusions, a QueryError).
  and: fc.tuple(tie("primary"), fc.array(tie("unary"), { maxLength: 2 })).map(([first, rest]) => [first, ...rest].join(" ")),
  unary: fc.oneof(tie("primary"), tie("primary").map((p) => `-${p}`)),
  primary: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.tuple(fc.constantFrom(...WORDS), fc.boolean()).map(([w, prefix]) => `${w}${prefix ? "*" : ""}`),
    fc.tuple(fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 3 }), fc.boolean()).map(([ws, prefix]) => `"${ws.join(" ")}"${prefix ? "*" : ""}`),
    tie("or").map((o) => `(${o})`),
  ),
})).or;

export const documents: fc.Arbitrary<ReferenceDocument[]> = fc
  .array(fc.tuple(fc.array(fc.constantFrom(...WORDS), { maxLength: 6 }), fc.option(fc.array(fc.constantFrom(...WORDS), { maxLength: 4 }))), { minLength: 1, maxLength: 12 })
  .map((rows) => rows.map(([first, second], i) => ({ key: i + 1, columns: [first.join(" "), second === null ? null : second.join(" - ")] })));

