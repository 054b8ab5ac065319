/**
 * The term dictionary of a full-text index in order, for prefix queries: `san*` reads the terms from `san`
 * up to the first that does not start with it, instead of testing every term of the index.
 *
 * A list of sorted chunks (as the ordered index's, ordered-index.ts): a lookup is two binary searches, an
 * insert or a delete splices one chunk of at most {@link MAX_CHUNK} terms, and a full chunk splits in two.
 * Terms compare by UTF-16 code unit (`<`): any total order keeps the terms of one prefix together, and
 * this one is the cheapest.
 */

/** A chunk splits in two past this many terms. */
const MAX_CHUNK = 512;

export class SortedTerms {
  private chunks: string[][] = [];
  /** Each chunk's last term, packed: the search for a chunk reads only this array. */
  private lasts: string[] = [];

  /** The list of `terms` (any order, no term twice): one sort. */
  constructor(terms: Iterable<string>) {
    const all = Array.from(terms).sort();
    for (let at = 0; at < all.length; at += MAX_CHUNK / 2) {
      const chunk = all.slice(at, at + MAX_CHUNK / 2);
      this.chunks.push(chunk);
      this.lasts.push(chunk[chunk.length - 1]!);
    }
  }

  /** The first chunk whose last term is >= `term` (the chunk count when there is none). */
  private chunkOf(term: string): number {
    return lowerBound(this.lasts, term);
  }

  /** Adds `term`, which the list does not hold. */
  add(term: string): void {
    let c = this.chunkOf(term);
    if (c === this.chunks.length) {
      // Past every term: onto the last chunk (or a first one).
      if (c === 0) {
        this.chunks.push([term]);
        this.lasts.push(term);
        return;
      }
      c--;
      this.chunks[c]!.push(term);
      this.lasts[c] = term;
    } else {
      const chunk = this.chunks[c]!;
      chunk.splice(lowerBound(chunk, term), 0, term);
    }
    const chunk = this.chunks[c]!;
    if (chunk.length > MAX_CHUNK) {
      const tail = chunk.splice(chunk.length >> 1);
      this.chunks.splice(c + 1, 0, tail);
      this.lasts.splice(c, 1, chunk[chunk.length - 1]!, tail[tail.length - 1]!);
    }
  }

  /** Removes `term`, which the list holds. */
  delete(term: string): void {
    const c = this.chunkOf(term);
    const chunk = this.chunks[c];
    if (chunk === undefined) return;
    const at = lowerBound(chunk, term);
    if (chunk[at] !== term) return;
    chunk.splice(at, 1);
    if (chunk.length === 0) {
      this.chunks.splice(c, 1);
      this.lasts.splice(c, 1);
    } else if (at === chunk.length) this.lasts[c] = chunk[at - 1]!;
  }

  /** Calls `visit` with every term that starts with `prefix`, in order. */
  forPrefix(prefix: string, visit: (term: string) => void): void {
    const first = this.chunkOf(prefix);
    for (let c = first; c < this.chunks.length; c++) {
      const chunk = this.chunks[c]!;
      for (let at = c === first ? lowerBound(chunk, prefix) : 0; at < chunk.length; at++) {
        const term = chunk[at]!;
        if (!term.startsWith(prefix)) return;
        visit(term);
      }
    }
  }
}

/** The first index of `sorted` whose term is >= `term`. */
function lowerBound(sorted: readonly string[], term: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < term) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
