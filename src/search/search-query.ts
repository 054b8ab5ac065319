/**
 * A full-text query as Strata parses it (search-parser.ts) and every backend answers it: the one query
 * language of `repo.search`, never handed raw to a database.
 *
 * ## Terms and phrases
 * The unit is the phrase, as in SQLite FTS5: a run of folded tokens (search-tokenizer.ts) that must occur at
 * consecutive positions of one document. A bare word is a phrase of the tokens it folds to (`Köln` is `koln`;
 * `o'brien` is the phrase `o brien`, as FTS5 reads a quoted string), `"a phrase"` is one phrase, and `prefix*`
 * makes the phrase's last token match every token that starts with it.
 *
 * ## Operators
 * `and` (words side by side), `or` (`a OR b`), `not` (`-excluded`, always inside an `and` that has a positive
 * part: a query or an `or` branch made only of exclusions is a `QueryError`), parentheses. An `and` binds tighter
 * than `or`: `a b OR c` is `(a b) OR c`, as FTS5 reads it.
 */

/** One phrase: `tokens` (folded, never empty) at consecutive positions; `prefix` when the last one is `token*`. */
export interface SearchPhrase {
  readonly kind: "phrase";
  readonly tokens: readonly string[];
  readonly prefix: boolean;
  /** The phrase's number in the query, 0-based, in reading order: BM25 weighs each phrase by its own rarity. */
  readonly index: number;
}

/** Every child matches. `not` children exclude (at least one child is not a `not`). */
export interface SearchAnd {
  readonly kind: "and";
  readonly children: readonly SearchNode[];
}

/** Some child matches. */
export interface SearchOr {
  readonly kind: "or";
  readonly children: readonly SearchNode[];
}

/** `-child`: only inside a {@link SearchAnd}, which must match and this must not. */
export interface SearchNot {
  readonly kind: "not";
  readonly child: SearchNode;
}

export type SearchNode = SearchPhrase | SearchAnd | SearchOr | SearchNot;

/** A parsed query: its tree and its phrases in reading order (`phrases[i].index === i`). */
export interface SearchQuery {
  /** The text the user gave, for messages. */
  readonly text: string;
  readonly root: SearchNode;
  readonly phrases: readonly SearchPhrase[];
}

/**
 * What a phrase looks for, as a string: two phrases of a query with the same key (`Köln koln`, `a* "a"*`) match
 * the same rows at the same places, so a matcher or a snippet looks such a phrase up once.
 */
export function phraseKey(phrase: SearchPhrase): string {
  return `${phrase.prefix ? "*" : ""}${phrase.tokens.join(" ")}`;
}

/**
 * The positions in `terms` (one column's folded tokens) where `phrase` starts: its tokens at consecutive
 * positions, the last one, for a prefix phrase, any token that starts with it. Overlapping occurrences each count.
 */
export function phraseOccurrences(phrase: SearchPhrase, terms: readonly string[]): number[] {
  const found: number[] = [];
  const tokens = phrase.tokens;
  const last = tokens.length - 1;
  for (let start = 0; start + last < terms.length; start++) {
    let i = 0;
    while (i < last && terms[start + i] === tokens[i]) i++;
    if (i < last) continue;
    const term = terms[start + last]!;
    if (phrase.prefix ? term.startsWith(tokens[last]!) : term === tokens[last]) found.push(start);
  }
  return found;
}
