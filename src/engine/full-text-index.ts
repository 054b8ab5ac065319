/**
 * The inverted index of a table's full-text index (`schema.fullText`), over its committed rows: for each
 * term, the rows holding it and where (postings with positions); for each row, its length in tokens; the
 * table's token total and row count. These are what BM25 reads (full-text-search.ts).
 *
 * A row's document is its full-text columns in the index's order, each tokenized by search-tokenizer.ts.
 * Positions run on across the columns with a gap of one between two columns, so that a phrase never
 * matches across two of them (SQLite FTS5 keeps positions per column), while the document length is the
 * sum of the columns' tokens (FTS5's length for BM25).
 *
 * Every write keeps it current: {@link MemoryTable} hands it each row it stores and each key it removes.
 * As the ordered indexes do (ordered-index.ts), a write is only noted (the key's latest row, or its
 * removal, in a map) and the next search indexes what was noted since the last one, {@link settle}: a
 * save costs a map entry, a row written several times between two searches is tokenized once, and loading
 * a table (the file backend's open, a schema change's rebuild) costs nothing until the table is searched,
 * when the whole index is built in one pass. Only committed rows are here: a transaction's own rows stay
 * in its write set, which a search inside the transaction reads beside this index, so a rolled-back
 * transaction or savepoint never reached it (nothing to undo).
 *
 * A posting knows its place in its term's list, so removing a row's document costs one swap per term of
 * the row, whatever the term's frequency. Lists are therefore in no order: a search scores every match
 * and selects the best, as FTS5's `ORDER BY rank` does. The term dictionary in order ({@link SortedTerms},
 * for prefix queries) is built by the first prefix query and kept current from then on.
 */
import v8 from "node:v8";
import { CapacityError } from "../errors.js";
import type { FullTextSchema, Row } from "../schema/entity-schema.js";
import type { Key } from "../spi/index.js";
import type { Token } from "../search/search-tokenizer.js";
import { tokenize } from "../search/search-tokenizer.js";
import { SortedTerms } from "./sorted-terms.js";

/** One term's postings: every document holding it (in no order). */
export interface TermPostings {
  readonly term: string;
  readonly postings: Posting[];
}

/** A term in a document: its positions there, ascending (never empty). */
export interface Posting {
  readonly doc: FullTextDocument;
  readonly entry: TermPostings;
  readonly positions: number[];
  /** Its index in `entry.postings` (-1 for a document outside the index). */
  slot: number;
}

/** One row's document: its key and row (a stored reference), its length in tokens, a posting per distinct term. */
export interface FullTextDocument {
  readonly key: Key;
  readonly row: Row;
  readonly length: number;
  readonly postings: Posting[];
}

/**
 * The terms of `row`'s full-text columns and their positions, in order of first appearance, and the row's
 * length in tokens. A column's positions start after the earlier columns' tokens plus one per earlier
 * column (the gap); a null column holds no token.
 */
function analyze(row: Row, properties: readonly string[]): { terms: string[]; positions: number[][]; length: number } {
  const terms: string[] = [];
  const positions: number[][] = [];
  // Most documents hold a few terms, found again by a scan; a map only for a long one (the build of a
  // large table allocates one object less per row).
  let lookup: Map<string, number> | undefined;
  let offset = 0;
  let length = 0;
  for (const property of properties) {
    const value = row[property];
    const tokens = typeof value === "string" ? tokenize(value) : NO_TOKENS;
    for (let i = 0; i < tokens.length; i++) {
      const term = tokens[i]!.term;
      const at = lookup ? (lookup.get(term) ?? -1) : terms.indexOf(term);
      if (at >= 0) positions[at]!.push(offset + i);
      else {
        if (lookup) lookup.set(term, terms.length);
        terms.push(term);
        positions.push([offset + i]);
        if (!lookup && terms.length > LONG_DOCUMENT) lookup = new Map(terms.map((t, n) => [t, n]));
      }
    }
    offset += tokens.length + 1;
    length += tokens.length;
  }
  return { terms, positions, length };
}

const NO_TOKENS: readonly Token[] = [];

/**
 * Heap the index takes per character of indexed text and per document, rounded up from a measurement (9.6 MB
 * of text took 205 MB, about 21 bytes per character, with postings, positions and terms), for the check
 * before a build ({@link FullTextIndex.settle}).
 */
const HEAP_PER_INDEXED_CHARACTER = 24;
const HEAP_PER_DOCUMENT = 160;
/** Below this estimate a build is not worth asking V8 about. */
const HEAP_CHECK_FROM = 32 * 2 ** 20;
/** Kept free beside the estimate: V8's young generation, which `heap_size_limit` counts (see heap-budget.ts). */
const HEAP_MARGIN = 48 * 2 ** 20;

/** Past this many distinct terms, a document's terms are looked up in a map rather than by a scan. */
const LONG_DOCUMENT = 16;

export class FullTextIndex {
  /** Term -> its postings. A term whose last document goes is removed. */
  readonly terms = new Map<string, TermPostings>();
  /** Primary key -> the row's document. */
  readonly docs = new Map<Key, FullTextDocument>();
  /** The tokens of every document: with the row count, the average document length of BM25. */
  totalTokens = 0;
  private sorted: SortedTerms | undefined;
  /** Documents of rows outside the index (a transaction's own), made once per stored row. */
  private readonly loose = new WeakMap<Row, FullTextDocument>();
  /** Writes not yet indexed: a key's latest row, or null when it was removed (see {@link settle}). */
  private readonly pending = new Map<Key, Row | null>();

  constructor(readonly schema: FullTextSchema) {}

  get name(): string {
    return this.schema.name;
  }

  /** How many rows the index holds (every row of the table, once settled). */
  get size(): number {
    return this.docs.size;
  }

  /** Notes that `row` is now stored under `key` (replacing any row of the key). */
  write(key: Key, row: Row): void {
    this.pending.set(key, row);
  }

  /** Notes that the row of `key` is gone. */
  erase(key: Key): void {
    // A key never indexed leaves nothing to remove: forgetting it keeps the notes within the table's size
    // on a table written (rows added and deleted) but never searched.
    if (this.docs.has(key)) this.pending.set(key, null);
    else this.pending.delete(key);
  }

  /**
   * Indexes the writes noted since the last call: a search calls it first. A build that would not fit in the
   * heap (the first search of a large table, its whole text to index) is a `CapacityError` naming `table`
   * before anything is indexed, rather than an out-of-memory crash: the notes stay, and nothing stored changes.
   */
  settle(table: string): void {
    if (this.pending.size === 0) return;
    this.checkHeap(table);
    for (const [key, row] of this.pending) {
      this.remove(key);
      if (row !== null) this.add(key, row);
    }
    this.pending.clear();
  }

  /** @throws CapacityError when indexing the noted rows would not fit in what the heap has left. */
  private checkHeap(table: string): void {
    let characters = 0;
    for (const row of this.pending.values()) {
      if (row === null) continue;
      for (const property of this.schema.properties) {
        const value = row[property];
        if (typeof value === "string") characters += value.length;
      }
    }
    const needed = characters * HEAP_PER_INDEXED_CHARACTER + this.pending.size * HEAP_PER_DOCUMENT;
    if (needed < HEAP_CHECK_FROM) return;
    const heap = v8.getHeapStatistics();
    const free = heap.heap_size_limit - heap.used_heap_size - HEAP_MARGIN;
    if (needed <= free) return;
    const mb = (n: number) => `${Math.ceil(Math.max(0, n) / 2 ** 20)} MB`;
    throw new CapacityError(
      `The full-text index of table "${table}" does not fit in the heap: indexing its ${this.pending.size} rows (${characters} characters of text) ` +
        `needs about ${mb(needed)} (${HEAP_PER_INDEXED_CHARACTER} bytes per character and ${HEAP_PER_DOCUMENT} per row), while ${mb(free)} of the heap limit ` +
        `of ${mb(heap.heap_size_limit)} are free. Start node with a larger --max-old-space-size, or move this data to SQLite or PostgreSQL (strata copy), whose full-text indexes live on disk.`,
      { table },
    );
  }

  /** Indexes `row` under `key` (which the index does not hold). */
  private add(key: Key, row: Row): void {
    const { terms, positions: where, length } = analyze(row, this.schema.properties);
    const doc: FullTextDocument = { key, row, length, postings: [] };
    for (let i = 0; i < terms.length; i++) {
      const term = terms[i]!;
      const positions = where[i]!;
      let entry = this.terms.get(term);
      if (entry === undefined) {
        entry = { term, postings: [] };
        this.terms.set(term, entry);
        this.sorted?.add(term);
      }
      const posting: Posting = { doc, entry, positions, slot: entry.postings.length };
      entry.postings.push(posting);
      doc.postings.push(posting);
    }
    this.docs.set(key, doc);
    this.totalTokens += length;
  }

  /** Removes the document of `key`, if indexed. */
  private remove(key: Key): void {
    const doc = this.docs.get(key);
    if (doc === undefined) return;
    for (const posting of doc.postings) {
      const list = posting.entry.postings;
      const last = list.pop()!;
      if (last !== posting) {
        list[posting.slot] = last;
        last.slot = posting.slot;
      } else if (list.length === 0) {
        this.terms.delete(posting.entry.term);
        this.sorted?.delete(posting.entry.term);
      }
    }
    this.docs.delete(key);
    this.totalTokens -= doc.length;
  }

  /** Calls `visit` with the postings of every term starting with `prefix`. */
  forPrefix(prefix: string, visit: (entry: TermPostings) => void): void {
    this.sorted ??= new SortedTerms(this.terms.keys());
    this.sorted.forPrefix(prefix, (term) => visit(this.terms.get(term)!));
  }

  /**
   * The document of a row that is not in the index (a transaction's own row, under `key`), made once per
   * stored row: stored rows are replaced on write, never changed.
   */
  documentOf(key: Key, row: Row): FullTextDocument {
    let doc = this.loose.get(row);
    if (doc === undefined) {
      const { terms, positions, length } = analyze(row, this.schema.properties);
      const postings: Posting[] = [];
      doc = { key, row, length, postings };
      for (let i = 0; i < terms.length; i++) postings.push({ doc, entry: { term: terms[i]!, postings: [] }, positions: positions[i]!, slot: -1 });
      this.loose.set(row, doc);
    }
    return doc;
  }
}
