/**
 * The tokenizer of full-text search: a text's words, case- and diacritic-folded, the same on every backend.
 *
 * Interim version (branch fts-engine): the engine's index needs `tokenize` before the core helper's
 * tokenizer (which matches SQLite FTS5's `unicode61 remove_diacritics 2` code point by code point) lands.
 * It has the same signature and the same module path, so the merge replaces it whole. A token is a run of
 * Unicode letters, digits and private-use characters (`[\p{L}\p{N}\p{Co}]+`), folded by NFD decomposition,
 * removal of the combining marks and lower-casing.
 */

/** One word of a text: its folded `term` and where it stands in the text (UTF-16 offsets, `end` exclusive). */
export interface Token {
  readonly term: string;
  readonly start: number;
  readonly end: number;
}

const WORD = /[\p{L}\p{N}\p{Co}]+/gu;
const MARKS = /\p{M}/gu;
// A word of ASCII letters and digits folds by lower-casing alone: no decomposition to pay for.
const NON_ASCII = /[^\p{ASCII}]/u;

/** A word as the index holds it: decomposed, without its combining marks, lower-cased. */
export function foldToken(word: string): string {
  if (!NON_ASCII.test(word)) return word.toLowerCase();
  // Marks removed after decomposition: `é` is `e` + U+0301, and only the `e` stays.
  return word.normalize("NFD").replace(MARKS, "").toLowerCase();
}

/** The words of `text` in order; a word's position is its index in the array. */
export function tokenize(text: string): Token[] {
  const out: Token[] = [];
  WORD.lastIndex = 0;
  for (let m = WORD.exec(text); m !== null; m = WORD.exec(text)) {
    const term = foldToken(m[0]);
    // A word made only of marks once folded (none with these classes, but a fold may empty a word) is no token.
    if (term.length > 0) out.push({ term, start: m.index, end: m.index + m[0].length });
  }
  return out;
}
