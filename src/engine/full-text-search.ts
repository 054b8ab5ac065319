/**
 * A full-text query (search-query.ts) answered over a {@link FullTextIndex} and, inside a transaction, the
 * transaction's own rows of the table: the matches, scored by BM25 exactly as SQLite FTS5's `bm25()` scores
 * them, best first, ties by primary key.
 *
 * ## What FTS5 computes, and in which order (fts5_aux.c, fts5Bm25Function)
 * Over the rows the reader sees: N rows, `avgdl` = their tokens / N; for each phrase i of the query (every
 * phrase, excluded ones too), n_i = the rows holding the phrase anywhere, and
 * `idf_i = ln((N - n_i + 0.5) / (n_i + 0.5))`, replaced by 1e-6 when it is not positive. For a matching row
 * of length D: `score = sum over i, in phrase order, of idf_i * (f_i * (k1 + 1)) / (f_i + k1 * (1 - b + b * D / avgdl))`
 * with k1 = 1.2, b = 0.75, and f_i the number of the phrase's instances in the row (overlapping instances
 * each count). The sum is taken in that order, with each factor in that order, so that two equal rows get
 * bit-identical scores and the order of SQLite's top 20 is reproduced (a phrase with f_i = 0 adds an exact 0).
 *
 * Which phrases count in a row (f_i > 0) follows FTS5's evaluation: a phrase's instances count when its node
 * of the query tree sits on the row, that is when the row matches every node above it, where an `or` hands
 * the row only to the branches that match it and a `not` never to its excluded part. So in `(a b) OR c`, a
 * row with `a` and `c` but no `b` scores `c` alone.
 */
import type { Row } from "../schema/entity-schema.js";
import { phraseKey, type SearchNode, type SearchPhrase, type SearchQuery } from "../search/search-query.js";
import type { Key } from "../spi/index.js";
import type { FullTextDocument, FullTextIndex, TermPostings } from "./full-text-index.js";
import { bm25Idf, bm25Score } from "../search/bm25.js";
import { TopK } from "./top-k.js";

/** A matching row and its BM25 score (positive: higher is better). */
export interface ScoredDocument {
  readonly doc: FullTextDocument;
  readonly score: number;
}

/** The documents holding a phrase, with the count of its instances in each. */
type PhraseMatches = Map<FullTextDocument, number>;

/** What a node of the query matches: a phrase's own map, or a set made by an `and` or `or`. */
type DocumentSet = { has(doc: FullTextDocument): boolean; readonly size: number; keys(): IterableIterator<FullTextDocument> };

/**
 * The `end` best matches of `query` (then the caller skips its offset), best first. `own`: the
 * transaction's rows of the table (key -> row, null when it deleted the row), read instead of the
 * committed documents of those keys. `keep`: the request's `where`, which filters the matches but not
 * the statistics (FTS5 ranks over the whole table). `compareKeys` orders primary keys (the tie-break).
 */
export function searchDocuments(
  index: FullTextIndex,
  own: ReadonlyMap<Key, Row | null> | undefined,
  query: SearchQuery,
  keep: ((row: Row) => boolean) | undefined,
  compareKeys: (a: unknown, b: unknown) => number,
  end: number,
): ScoredDocument[] {
  let rows = index.size;
  let tokens = index.totalTokens;
  const ownDocs: FullTextDocument[] = [];
  if (own) {
    for (const [key, row] of own) {
      const old = index.docs.get(key);
      if (old) {
        rows--;
        tokens -= old.length;
      }
      if (row) {
        const doc = index.documentOf(key, row);
        rows++;
        tokens += doc.length;
        ownDocs.push(doc);
      }
    }
  }
  if (rows === 0 || end <= 0) return [];
  const phrases = query.phrases;
  // A phrase the query names twice (`a* a*`, `Köln koln`) is looked up once: its matches are the same, and a
  // 1,000-character query of one phrase repeated would otherwise walk the index hundreds of times. Each copy
  // still counts in the score, as in FTS5.
  const looked = new Map<string, PhraseMatches>();
  const counts = phrases.map((phrase) => {
    const key = phraseKey(phrase);
    let found = looked.get(key);
    if (found === undefined) looked.set(key, (found = phraseMatches(index, phrase, own, ownDocs)));
    return found;
  });
  const matched: DocumentSet = evaluate(query.root, counts);
  if (matched.size === 0) return [];

  const idf = new Float64Array(phrases.length);
  for (let i = 0; i < phrases.length; i++) {
    // FTS5's IDF and score (bm25.ts: one place for the formula and floor), with its correctly rounded log.
    idf[i] = bm25Idf(rows, counts[i]!.size);
  }
  const avgdl = tokens / rows;
  const freq = new Float64Array(phrases.length);
  // Without an `or`, every phrase outside a `not` sits on every matching row: its count is read directly.
  const flat = activeWithoutOr(query.root);
  const order = (a: ScoredDocument, b: ScoredDocument): number => (a.score !== b.score ? (a.score > b.score ? -1 : 1) : compareKeys(a.doc.key, b.doc.key));
  const top = new TopK<ScoredDocument>(order, end);
  for (const doc of matched.keys()) {
    if (keep !== undefined && !keep(doc.row)) continue;
    freq.fill(0);
    if (flat) for (const i of flat) freq[i] = counts[i]!.get(doc) ?? 0;
    else addFrequencies(query.root, doc, counts, freq);
    top.offer({ doc, score: bm25Score(idf, freq, doc.length, avgdl) });
  }
  return top.sorted();
}

/** The phrases whose counts score a row, when the tree has no `or` (undefined when it has one). */
function activeWithoutOr(root: SearchNode): number[] | undefined {
  const out: number[] = [];
  const walk = (node: SearchNode): boolean => {
    switch (node.kind) {
      case "phrase":
        out.push(node.index);
        return true;
      case "and":
        return node.children.every((c) => c.kind === "not" || walk(c));
      case "or":
        return false;
      case "not":
        return true;
    }
  };
  if (!walk(root)) return undefined;
  return out.sort((a, b) => a - b);
}

/** Whether `doc` matches `node` (the phrases' matches are known). */
function matches(node: SearchNode, doc: FullTextDocument, counts: readonly PhraseMatches[]): boolean {
  switch (node.kind) {
    case "phrase":
      return counts[node.index]!.has(doc);
    case "and":
      return node.children.every((c) => (c.kind === "not" ? !matches(c.child, doc, counts) : matches(c, doc, counts)));
    case "or":
      return node.children.some((c) => matches(c, doc, counts));
    case "not":
      return !matches(node.child, doc, counts);
  }
}

/** Sets `freq[i]` for each phrase sitting on `doc` under `node` (which matches `doc`): see the module doc. */
function addFrequencies(node: SearchNode, doc: FullTextDocument, counts: readonly PhraseMatches[], freq: Float64Array): void {
  switch (node.kind) {
    case "phrase":
      freq[node.index] = counts[node.index]!.get(doc) ?? 0;
      return;
    case "and":
      for (const c of node.children) if (c.kind !== "not") addFrequencies(c, doc, counts, freq);
      return;
    case "or":
      for (const c of node.children) if (matches(c, doc, counts)) addFrequencies(c, doc, counts, freq);
      return;
    case "not":
      return;
  }
}

/** The documents matching `node`. */
function evaluate(node: SearchNode, counts: readonly PhraseMatches[]): DocumentSet {
  switch (node.kind) {
    case "phrase":
      return counts[node.index]!;
    case "or": {
      const out = new Set<FullTextDocument>();
      for (const c of node.children) for (const doc of evaluate(c, counts).keys()) out.add(doc);
      return out;
    }
    case "and": {
      const positive: DocumentSet[] = [];
      const negative: DocumentSet[] = [];
      for (const c of node.children) {
        if (c.kind === "not") negative.push(evaluate(c.child, counts));
        else positive.push(evaluate(c, counts));
      }
      // The smallest set drives; the others are looked up.
      positive.sort((a, b) => a.size - b.size);
      const [first, ...rest] = positive;
      const out = new Set<FullTextDocument>();
      if (first === undefined) return out;
      for (const doc of first.keys()) {
        if (rest.every((s) => s.has(doc)) && !negative.some((s) => s.has(doc))) out.add(doc);
      }
      return out;
    }
    case "not":
      // The parser puts a `not` only inside an `and` with a positive part.
      throw new Error("A full-text query's exclusion stands outside an AND with a positive part");
  }
}

/**
 * The documents holding `phrase` as the reader sees the table: the index's, less those of keys the
 * transaction wrote (`own`), plus the transaction's rows (`ownDocs`).
 */
function phraseMatches(index: FullTextIndex, phrase: SearchPhrase, own: ReadonlyMap<Key, Row | null> | undefined, ownDocs: readonly FullTextDocument[]): PhraseMatches {
  const out: PhraseMatches = new Map();
  const { tokens, prefix } = phrase;
  const shadowed = own !== undefined && own.size > 0 ? own : undefined;
  if (tokens.length === 1) {
    const add = (entry: TermPostings): void => {
      for (const posting of entry.postings) {
        const doc = posting.doc;
        if (shadowed?.has(doc.key)) continue;
        // Under a prefix one document may hold several of the terms: their instances add up.
        out.set(doc, (out.get(doc) ?? 0) + posting.positions.length);
      }
    };
    if (prefix) index.forPrefix(tokens[0]!, add);
    else {
      const entry = index.terms.get(tokens[0]!);
      if (entry) add(entry);
    }
  } else {
    // The rarest whole token names the candidates; each is checked position by position.
    let driver: TermPostings | undefined;
    let missing = false;
    const whole = prefix ? tokens.length - 1 : tokens.length;
    for (let j = 0; j < whole; j++) {
      const entry = index.terms.get(tokens[j]!);
      if (entry === undefined) {
        missing = true;
        break;
      }
      if (driver === undefined || entry.postings.length < driver.postings.length) driver = entry;
    }
    if (!missing && driver) {
      for (const posting of driver.postings) {
        const doc = posting.doc;
        if (shadowed?.has(doc.key)) continue;
        const n = phraseCount(doc, tokens, prefix);
        if (n > 0) out.set(doc, n);
      }
    }
  }
  for (const doc of ownDocs) {
    const n = phraseCount(doc, tokens, prefix);
    if (n > 0) out.set(doc, n);
  }
  return out;
}

/** The positions of `term` in `doc` (undefined when absent). */
function positionsOf(doc: FullTextDocument, term: string): number[] | undefined {
  for (const posting of doc.postings) if (posting.entry.term === term) return posting.positions;
  return undefined;
}

/** The positions in `doc` of every term starting with `prefix`, ascending. */
function prefixPositions(doc: FullTextDocument, prefix: string): number[] {
  const out: number[] = [];
  for (const posting of doc.postings) if (posting.entry.term.startsWith(prefix)) out.push(...posting.positions);
  return out.sort((a, b) => a - b);
}

/** How many times the phrase `tokens` (its last token a prefix when `prefix`) starts in `doc`. */
export function phraseCount(doc: FullTextDocument, tokens: readonly string[], prefix: boolean): number {
  const k = tokens.length;
  const lists: number[][] = [];
  for (let j = 0; j < k; j++) {
    const list = prefix && j === k - 1 ? prefixPositions(doc, tokens[j]!) : positionsOf(doc, tokens[j]!);
    if (list === undefined || list.length === 0) return 0;
    lists.push(list);
  }
  if (k === 1) return lists[0]!.length;
  let n = 0;
  next: for (const start of lists[0]!) {
    for (let j = 1; j < k; j++) if (!holds(lists[j]!, start + j)) continue next;
    n++;
  }
  return n;
}

/** Whether the ascending `positions` hold `at` (binary search). */
function holds(positions: readonly number[], at: number): boolean {
  let lo = 0;
  let hi = positions.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const p = positions[mid]!;
    if (p === at) return true;
    if (p < at) lo = mid + 1;
    else hi = mid;
  }
  return false;
}
