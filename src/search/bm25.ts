/**
 * BM25 as SQLite FTS5's `bm25()` computes it, sign flipped (higher is better): the one place for its formula,
 * its constants and its floating-point order. The in-memory engine scores with it (engine/full-text-search.ts);
 * the PostgreSQL backend writes the same steps in SQL (postgres-full-text.ts); SQLite asks FTS5 itself.
 *
 * `score = Σ idf(p) · f(p)·(k1 + 1) / (f(p) + k1·(1 − b + b·D / avgdl))` over the query's phrases p, with
 * k1 = 1.2, b = 0.75, D the document's tokens over all its columns, avgdl the tokens of all documents over
 * their number, `idf(p) = ln((N − n(p) + 0.5) / (n(p) + 0.5))` floored at 1e-6, N the documents, n(p) those
 * in which p occurs (whatever the rest of the query says). f(p) is the number of occurrences of p in the
 * document (overlapping ones too), counted only where p takes part in the match (the caller decides which).
 * The arithmetic is FTS5's, in its order, with a correctly rounded `ln` (correct-log.ts): scores equal
 * SQLite's to the bit wherever its C library's `log()` rounds correctly too (all but about 1 in 2,000
 * arguments; elsewhere one unit in the last place apart, which reorders only rows whose scores tie to 15 digits).
 */
import { correctLog } from "./correct-log.js";

/** BM25's k1 (FTS5's). */
export const BM25_K1 = 1.2;
/** BM25's b (FTS5's). */
export const BM25_B = 0.75;
/** FTS5's floor for an IDF that would be zero or negative (a phrase in half the documents or more). */
export const BM25_MIN_IDF = 1e-6;

/** FTS5's IDF of a phrase occurring in `documentsWithPhrase` of `documentCount` documents. */
export function bm25Idf(documentCount: number, documentsWithPhrase: number): number {
  const idf = correctLog((documentCount - documentsWithPhrase + 0.5) / (documentsWithPhrase + 0.5));
  return idf <= 0 ? BM25_MIN_IDF : idf;
}

/** FTS5's bm25() with the sign flipped, summed over phrases in index order as FTS5 sums them. */
export function bm25Score(idf: ArrayLike<number>, frequencies: ArrayLike<number>, documentLength: number, averageLength: number): number {
  const lengthFactor = BM25_K1 * (1 - BM25_B + (BM25_B * documentLength) / averageLength);
  let score = 0;
  for (let i = 0; i < idf.length; i++) {
    const f = frequencies[i]!;
    // An absent phrase adds an exact +0 (idf is positive): skipping it leaves the sum's bits unchanged.
    if (f === 0) continue;
    score += idf[i]! * ((f * (BM25_K1 + 1.0)) / (f + lengthFactor));
  }
  // FTS5 returns -1.0 * score: negate twice so that a zero stays +0 and every value is the same double.
  return -(-1.0 * score);
}
