/**
 * Strata's full-text tokenizer (interim copy, same signature as the shared one that replaces it at the merge):
 * the text split into Unicode words (letters, numbers and private-use characters, as SQLite FTS5's
 * `unicode61` reads them), each case-folded and stripped of its diacritics (`remove_diacritics 2`). Every
 * backend indexes and queries with these tokens, so every backend matches the same rows.
 */

/** One token of a text: its folded term and where it stands in the text (UTF-16 offsets, end exclusive). */
export interface Token {
  readonly term: string;
  readonly start: number;
  readonly end: number;
}

// Token characters: FTS5 unicode61's default categories (L*, N*, Co), plus the combining marks that fold away
// with the diacritics of the letter they follow.
const WORD = /[\p{L}\p{N}\p{Co}][\p{L}\p{N}\p{Co}\p{M}]*/gu;
const MARKS = /\p{M}/gu;

/** `word` case-folded and without diacritics (`Köln` -> `koln`). */
export function foldToken(word: string): string {
  return word.normalize("NFD").replace(MARKS, "").toLowerCase();
}

/** The tokens of `text`, in order (a token's position is its index). */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  for (const match of text.matchAll(WORD)) {
    const term = foldToken(match[0]);
    if (term.length > 0) tokens.push({ term, start: match.index, end: match.index + match[0].length });
  }
  return tokens;
}
