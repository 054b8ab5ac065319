/**
 * The plain reference of full-text search, for tests: which documents a query matches and their BM25 score,
 * computed the slow, obvious way over an array of documents. Property tests hold every backend to it, and
 * test/search/search-reference.test.ts holds it to SQLite FTS5 itself. It shares with the shipped code only
 * the definition of a phrase occurrence (`phraseOccurrences`, src/search/search-query.ts) and BM25's
 * arithmetic (src/search/bm25.ts); the matching and the counting of frequencies are its own.
 *
 * ## Matching (as SQLite FTS5 matches)
 * A document is its index's columns, each tokenized on its own (search-tokenizer.ts): a phrase occurs in a
 * column where its tokens stand at consecutive positions (the last one, for a prefix phrase, any token that
 * starts with it); it never spans two columns. `and` needs every positive child and no `not` child, `or`
 * any child.
 *
 * ## Ranking (SQLite FTS5's `bm25()`, sign flipped: higher is better; the formula in src/search/bm25.ts)
 * f(p) is the number of occurrences of p in the document (overlapping ones too), counted only where p takes
 * part in the match, as FTS5's iterators leave it: not under a `not`, not in an `and` that fails, not in an
 * `or` branch that fails (FTS5 has moved such a phrase's cursor past the row).
 *
 * Where FTS5's counts depend on the state of its cursors, the reference does not follow them (a backend without
 * FTS5's cursors could not, and they depend on rowid order): FTS5 may count a phrase excluded with `-` in an
 * `or` branch (or inside another exclusion) whose positive part has run out of rows; and, on a row where
 * the words of a phrase of several words occur but not as the phrase, it empties the positions of the whole
 * and-group (below an exclusion or an `or`), which can drop another phrase's count on a later row. Such
 * queries match the same rows; only their scores may differ.
 */
import { compareStrings } from "../../src/engine/compare-values.js";
import { bm25Idf, bm25Score } from "../../src/search/bm25.js";
import { phraseOccurrences, type SearchNode, type SearchQuery } from "../../src/search/search-query.js";
import { tokenize } from "../../src/search/search-tokenizer.js";

/** A document: its key (for the tie order) and the text of each index column (null counts as empty). */
export interface ReferenceDocument {
  readonly key: string | number;
  readonly columns: readonly (string | null)[];
}

/** A document the reference found, best first. */
export interface ReferenceHit {
  readonly key: string | number;
  readonly score: number;
}

/** Options of {@link searchReference}. */
export interface ReferenceOptions {
  /** Further conditions (the `where` of a search): a document failing it is not returned, but still counts in N, n and avgdl, as on SQL. */
  readonly filter?: (document: ReferenceDocument) => boolean;
  /** @default Infinity */
  readonly limit?: number;
  /** @default 0 */
  readonly offset?: number;
}

/** The terms of each column of a document. */
export function tokenizeColumns(columns: readonly (string | null)[]): string[][] {
  return columns.map((text) => (text === null ? [] : tokenize(text).map((t) => t.term)));
}

/**
 * Whether `node` matches a document whose per-phrase occurrence counts are `occurrences` (indexed by
 * phrase index), adding to `counted` the phrases that take part in the match (module doc: ranking).
 */
function matchNode(node: SearchNode, occurrences: readonly number[], counted: Set<number>): boolean {
  switch (node.kind) {
    case "phrase":
      if (occurrences[node.index]! === 0) return false;
      counted.add(node.index);
      return true;
    case "and": {
      const mine = new Set<number>();
      for (const child of node.children) {
        if (child.kind === "not") {
          if (matchNode(child.child, occurrences, new Set())) return false;
        } else if (!matchNode(child, occurrences, mine)) {
          return false;
        }
      }
      for (const index of mine) counted.add(index);
      return true;
    }
    case "or": {
      let any = false;
      for (const child of node.children) if (matchNode(child, occurrences, counted)) any = true;
      return any;
    }
    case "not":
      // Only inside an `and` (search-query.ts), which handles it; reached alone it matches nothing.
      return false;
  }
}

/**
 * The frequencies BM25 uses for one document (`occurrences[i]`: how often phrase i occurs in it, over all
 * columns): a phrase's occurrences where it takes part in the match, 0 elsewhere; undefined when the
 * query does not match.
 */
export function countedFrequencies(query: SearchQuery, occurrences: readonly number[]): number[] | undefined {
  const counted = new Set<number>();
  if (!matchNode(query.root, occurrences, counted)) return undefined;
  return occurrences.map((n, i) => (counted.has(i) ? n : 0));
}

/** Keys ascending: numbers by value, strings by code point (the contract's string order). */
export function compareKeys(a: string | number, b: string | number): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  return compareStrings(String(a), String(b));
}

/** Documents tokenized once, for many {@link searchReference} calls. */
export interface ReferenceCorpus {
  readonly documents: readonly ReferenceDocument[];
  /** Per document, the terms of each column. */
  readonly columnTerms: readonly (readonly string[][])[];
  /** Per document, its tokens over all columns (BM25's D). */
  readonly lengths: readonly number[];
  /** BM25's avgdl. */
  readonly averageLength: number;
}

/** Tokenizes `documents` once. */
export function prepareCorpus(documents: readonly ReferenceDocument[]): ReferenceCorpus {
  const columnTerms = documents.map((d) => tokenizeColumns(d.columns));
  const lengths = columnTerms.map((columns) => columns.reduce((sum, terms) => sum + terms.length, 0));
  return { documents, columnTerms, lengths, averageLength: lengths.reduce((sum, n) => sum + n, 0) / documents.length };
}

/** The documents `query` matches, best first by BM25, ties by key ascending, then paged (module doc). */
export function searchReference(query: SearchQuery, corpus: readonly ReferenceDocument[] | ReferenceCorpus, options: ReferenceOptions = {}): ReferenceHit[] {
  const { documents, columnTerms, lengths, averageLength } = "columnTerms" in corpus ? corpus : prepareCorpus(corpus);
  const phraseCount = query.phrases.length;
  const occurrences = columnTerms.map((columns) =>
    query.phrases.map((phrase) => columns.reduce((sum, terms) => sum + phraseOccurrences(phrase, terms).length, 0)),
  );
  const idf: number[] = [];
  for (let p = 0; p < phraseCount; p++) {
    idf.push(bm25Idf(documents.length, occurrences.filter((o) => o[p]! > 0).length));
  }
  const hits: ReferenceHit[] = [];
  documents.forEach((document, d) => {
    const frequencies = countedFrequencies(query, occurrences[d]!);
    if (frequencies === undefined) return;
    if (options.filter !== undefined && !options.filter(document)) return;
    hits.push({ key: document.key, score: bm25Score(idf, frequencies, lengths[d]!, averageLength) });
  });
  hits.sort((a, b) => b.score - a.score || compareKeys(a.key, b.key));
  const offset = options.offset ?? 0;
  return hits.slice(offset, options.limit === undefined ? undefined : offset + options.limit);
}
