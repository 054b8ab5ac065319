/**
 * An ordered index over one table's rows: the rows sorted by the index columns (in the contract's order,
 * nulls smallest) then by the primary key, so every entry is distinct. It backs range predicates,
 * `orderBy` on an index prefix, counts over ranges and keyset seeks in the engine's planner.
 *
 * The structure is a list of sorted chunks (as Python's `sortedcontainers.SortedList`): a two-level B+tree
 * whose leaves are plain arrays of row references. Lookups are two binary searches; a delete splices one
 * chunk of at most {@link MAX_CHUNK} entries (a memmove), and a full chunk splits in two. Compared with a
 * deeper B+tree this keeps the walk a plain array loop and the constants small.
 *
 * Inserts are placed lazily: a write only adds the row to a pending set, and the next read places them
 * (sorted first, so that consecutive rows meet warm chunks). Writes that no read follows cost a `Set.add`,
 * and a row inserted then deleted before any read is never placed.
 *
 * The index is built lazily, by one sort, the first time a query asks for it: loading a table (the file
 * backend replays a snapshot row by row) then costs nothing per index, and a table never queried by
 * range or order keeps no sorted copy. Once built, every {@link OrderedIndex.insert}/{@link OrderedIndex.delete}
 * keeps it current.
 */
import type { ColumnSchema, IndexSchema, Row } from "../schema/entity-schema.js";
import { comparatorFor, compareStrings } from "./compare-values.js";

/** A chunk splits in two past this many entries (the default of {@link OrderedIndex}'s `maxChunk`). */
const MAX_CHUNK = 512;

/**
 * From this many rows on (and dense enough: see {@link OrderedIndex.dense}), the writes placed at a read go
 * in one pass over the chunks rather than one binary search and splice each; fewer touch too few chunks for
 * a pass over every chunk to pay.
 */
const BULK = 32;

/** A chunk gaining fewer rows than this in a bulk placement takes them by binary search and splice, not by a merge. */
const SMALL_SHARE = 8;

/** The chunk lists of an {@link OrderedIndex}, built anew by its bulk writes. */
interface ChunkLists {
  chunks: Row[][];
  heads: unknown[][];
  keys: unknown[][];
  lastHeads: unknown[];
  lastKeys: unknown[];
}

/** Appends a non-empty chunk and its packed values to `out`. */
function pushChunk(out: ChunkLists, rows: Row[], heads: unknown[], keys: unknown[]): void {
  out.chunks.push(rows);
  out.heads.push(heads);
  out.keys.push(keys);
  out.lastHeads.push(heads[heads.length - 1]);
  out.lastKeys.push(keys[keys.length - 1]);
}

/** A comparator of two possibly-null values: nulls smallest, then the column type's order. */
export type ValueOrder = (a: unknown, b: unknown) => number;

/** The order of one column's values as the index keeps them (nulls first, as the contract's ascending order). */
export function valueOrderFor(column: ColumnSchema): ValueOrder {
  const compare = comparatorFor(column.type);
  return (a, b) => {
    if (a === b) return 0;
    const aNull = a === null || a === undefined;
    const bNull = b === null || b === undefined;
    if (aNull || bNull) return aNull && bNull ? 0 : aNull ? -1 : 1;
    return compare(a, b);
  };
}

/** A position in the index: `chunk` and `at` within it; the end is (chunks.length, 0). */
export interface Cursor {
  chunk: number;
  at: number;
}

/**
 * A monotone test over the index order: true for every entry before some boundary, false from it on.
 * Ranges are given as two such tests (their boundaries are the range's start and end).
 */
export type Before = (row: Row) => boolean;

export class OrderedIndex {
  /** The index columns, in index order. */
  readonly columns: readonly ColumnSchema[];
  /** One order per index column (nulls smallest). */
  readonly orders: readonly ValueOrder[];
  /** The entries' order: the index columns, then the primary key. Total: no two rows compare equal. */
  readonly compare: (a: Row, b: Row) => number;
  private chunks: Row[][] = [];
  /**
   * Beside each chunk, its entries' first index value (a Date as its time) and primary key: inserts and
   * deletes binary-search these packed arrays instead of reaching into each row object scattered on the
   * heap, which made every comparison a cache miss (saveMany into a 135k-row table was 3x slower).
   */
  private heads: unknown[][] = [];
  private keys: unknown[][] = [];
  /** Each chunk's last head and key, packed: the search for the chunk reads only these two arrays. */
  private lastHeads: unknown[] = [];
  private lastKeys: unknown[] = [];
  private built = false;
  /**
   * Rows inserted since the last read, not yet placed: a write only adds to this set, and the next seek
   * places them all (see {@link settle}). A delete of a pending row just drops it from here.
   */
  private readonly pending = new Set<Row>();
  /** Placed rows deleted since the last read, removed at the next one (as {@link pending}). */
  private readonly removed = new Set<Row>();
  private readonly headOf: (row: Row) => unknown;
  private readonly headOrder: ValueOrder;
  private readonly keyOrder: (a: unknown, b: unknown) => number;
  private readonly pk: string;
  /** Compares the index columns after the first (composite indexes only). */
  private readonly restOrder: ((a: Row, b: Row) => number) | undefined;

  constructor(
    readonly index: IndexSchema,
    columns: readonly ColumnSchema[],
    primary: ColumnSchema,
    /** A chunk splits in two past this many entries (small in tests, to exercise splits). */
    private readonly maxChunk = MAX_CHUNK,
  ) {
    this.columns = columns;
    this.orders = columns.map(valueOrderFor);
    this.compare = entryOrder(columns, this.orders, primary);
    const first = columns[0]!;
    const p = first.property;
    // Stored datetimes are numbers already (stored-row.ts); a Date is read as its time all the same.
    this.headOf = first.type === "datetime" ? (row) => (row[p] instanceof Date ? (row[p] as Date).getTime() : (row[p] ?? null)) : (row) => row[p] ?? null;
    this.headOrder = first.type === "string" ? compareStringHeads : compareOtherHeads;
    this.keyOrder = comparatorFor(primary.type);
    this.pk = primary.property;
    const rest = columns.slice(1).map((c) => c.property);
    const restOrders = this.orders.slice(1);
    this.restOrder =
      rest.length === 0
        ? undefined
        : (a, b) => {
            for (let i = 0; i < rest.length; i++) {
              const c = restOrders[i]!(a[rest[i]!], b[rest[i]!]);
              if (c !== 0) return c;
            }
            return 0;
          };
  }

  /** Whether the entries exist; until then writes are not recorded (see the module doc). */
  get isBuilt(): boolean {
    return this.built;
  }

  /** Builds the index from every row of the table, once. */
  build(rows: Iterable<Row>): void {
    if (this.built) return;
    this.fill(Array.from(rows).sort(this.compare));
    this.built = true;
  }

  /** Replaces the entries with `sorted` (in entry order), in half-full chunks. */
  private fill(sorted: readonly Row[]): void {
    const half = this.maxChunk >> 1;
    this.chunks = [];
    this.heads = [];
    this.keys = [];
    this.lastHeads = [];
    this.lastKeys = [];
    for (let i = 0; i < sorted.length; i += half) {
      const chunk = sorted.slice(i, i + half);
      const heads = chunk.map(this.headOf);
      const keys = chunk.map((r) => r[this.pk]);
      this.chunks.push(chunk);
      this.heads.push(heads);
      this.keys.push(keys);
      this.lastHeads.push(heads[heads.length - 1]);
      this.lastKeys.push(keys[keys.length - 1]);
    }
  }

  /**
   * Places the pending deletes, then the pending inserts, in entry order: consecutive rows then land in the
   * same or the next chunk, whose arrays are still in the cache. Past {@link BULK} rows, in one pass over the
   * chunks (see {@link unplaceAll}, {@link placeAll}), which compares rows only with the chunks they fall in,
   * on the packed heads and keys. (A merge pass over every entry, row objects and all, was slower for 10,000
   * rows into 135,000: it compared each stored row once, and each of those reads was a cache miss.)
   */
  private settle(): void {
    if (this.removed.size > 0) {
      const outgoing = Array.from(this.removed).sort(this.compare);
      this.removed.clear();
      if (this.dense(outgoing.length)) this.unplaceAll(outgoing);
      else for (const row of outgoing) this.unplace(row);
    }
    if (this.pending.size > 0) {
      const incoming = Array.from(this.pending).sort(this.compare);
      this.pending.clear();
      if (this.chunks.length === 0) this.fill(incoming);
      else if (this.dense(incoming.length)) this.placeAll(incoming);
      else for (const row of incoming) this.place(row);
    }
  }

  /**
   * Whether `n` rows written at once go in one pass over the chunks: when they are at least {@link BULK} and
   * as many as a quarter of the entries the chunks can hold. Rows scattered thinly over a large index (10,000
   * random rows into 135,000) go one by one: a splice moves a chunk's tail in one memmove, cheaper than
   * rebuilding every chunk they touch (measured 25-50% slower in bulk).
   */
  private dense(n: number): boolean {
    return n >= BULK && n * 4 >= this.chunks.length * this.maxChunk;
  }

  /**
   * Removes the entries of `sorted` (in entry order; rows with no entry are passed over) in one pass over
   * the chunks: each chunk that loses entries is filtered once, instead of a binary search and a splice per
   * row (deleting 10,000 children of one parent spliced the same chunks 10,000 times).
   */
  private unplaceAll(sorted: readonly Row[]): void {
    const n = sorted.length;
    const heads = sorted.map(this.headOf);
    const keys = sorted.map((r) => r[this.pk]);
    const out = this.emptyLists();
    let i = 0;
    for (let c = 0; c < this.chunks.length; c++) {
      // The rows not after this chunk's last entry are the only ones it can hold.
      let j = i;
      while (j < n && this.versusLast(c, sorted[j]!, heads[j], keys[j]) >= 0) j++;
      if (j === i) {
        this.keepChunk(out, c);
        continue;
      }
      const chunk = this.chunks[c]!;
      const chunkHeads = this.heads[c]!;
      const chunkKeys = this.keys[c]!;
      const rows: Row[] = [];
      const keptHeads: unknown[] = [];
      const keptKeys: unknown[] = [];
      let q = i;
      for (let at = 0; at < chunk.length; at++) {
        while (q < j && this.versus(c, at, sorted[q]!, heads[q], keys[q]) > 0) q++;
        if (q < j && this.versus(c, at, sorted[q]!, heads[q], keys[q]) === 0) {
          q++;
          continue;
        }
        rows.push(chunk[at]!);
        keptHeads.push(chunkHeads[at]);
        keptKeys.push(chunkKeys[at]);
      }
      if (rows.length > 0) pushChunk(out, rows, keptHeads, keptKeys);
      i = j;
    }
    this.useLists(out);
  }

  /**
   * Places `sorted` (in entry order, none present) in one pass over the chunks: each chunk that gains rows
   * is merged with its share once and split into half-full chunks if it outgrows {@link maxChunk}.
   * Only the chunks that gain rows are compared with (see the note on {@link settle}).
   */
  private placeAll(sorted: readonly Row[]): void {
    const n = sorted.length;
    const heads = sorted.map(this.headOf);
    const keys = sorted.map((r) => r[this.pk]);
    const out = this.emptyLists();
    const last = this.chunks.length - 1;
    const half = Math.max(1, this.maxChunk >> 1);
    let i = 0;
    for (let c = 0; c <= last; c++) {
      // A row goes to the first chunk whose last entry is after it; rows after every entry, to the last chunk.
      let j = i;
      if (c === last) j = n;
      else while (j < n && this.versusLast(c, sorted[j]!, heads[j], keys[j]) > 0) j++;
      if (j === i) {
        this.keepChunk(out, c);
        continue;
      }
      const chunk = this.chunks[c]!;
      const chunkHeads = this.heads[c]!;
      const chunkKeys = this.keys[c]!;
      let rows: Row[];
      let mergedHeads: unknown[];
      let mergedKeys: unknown[];
      if (j - i < SMALL_SHARE) {
        // A few rows into a chunk: a binary search and a splice each, as single inserts, cost less than a merge.
        for (let q = i; q < j; q++) {
          let a = 0;
          let b = chunk.length;
          while (a < b) {
            const mid = (a + b) >> 1;
            if (this.versus(c, mid, sorted[q]!, heads[q], keys[q]) < 0) a = mid + 1;
            else b = mid;
          }
          chunk.splice(a, 0, sorted[q]!);
          chunkHeads.splice(a, 0, heads[q]);
          chunkKeys.splice(a, 0, keys[q]);
        }
        rows = chunk;
        mergedHeads = chunkHeads;
        mergedKeys = chunkKeys;
      } else {
        rows = [];
        mergedHeads = [];
        mergedKeys = [];
        let q = i;
        for (let at = 0; at < chunk.length; at++) {
          while (q < j && this.versus(c, at, sorted[q]!, heads[q], keys[q]) > 0) {
            rows.push(sorted[q]!);
            mergedHeads.push(heads[q]);
            mergedKeys.push(keys[q]);
            q++;
          }
          rows.push(chunk[at]!);
          mergedHeads.push(chunkHeads[at]);
          mergedKeys.push(chunkKeys[at]);
        }
        for (; q < j; q++) {
          rows.push(sorted[q]!);
          mergedHeads.push(heads[q]);
          mergedKeys.push(keys[q]);
        }
      }
      if (rows.length <= this.maxChunk) pushChunk(out, rows, mergedHeads, mergedKeys);
      else {
        // Even pieces of about half a chunk, as a build makes them: the next inserts do not split them at once.
        const pieces = Math.ceil(rows.length / half);
        const size = Math.ceil(rows.length / pieces);
        for (let s = 0; s < rows.length; s += size) pushChunk(out, rows.slice(s, s + size), mergedHeads.slice(s, s + size), mergedKeys.slice(s, s + size));
      }
      i = j;
    }
    this.useLists(out);
  }

  private emptyLists(): ChunkLists {
    return { chunks: [], heads: [], keys: [], lastHeads: [], lastKeys: [] };
  }

  /** Moves chunk `c` unchanged to `out`. */
  private keepChunk(out: ChunkLists, c: number): void {
    out.chunks.push(this.chunks[c]!);
    out.heads.push(this.heads[c]!);
    out.keys.push(this.keys[c]!);
    out.lastHeads.push(this.lastHeads[c]);
    out.lastKeys.push(this.lastKeys[c]);
  }

  private useLists(lists: ChunkLists): void {
    this.chunks = lists.chunks;
    this.heads = lists.heads;
    this.keys = lists.keys;
    this.lastHeads = lists.lastHeads;
    this.lastKeys = lists.lastKeys;
  }

  get size(): number {
    this.settle();
    let n = 0;
    for (const c of this.chunks) n += c.length;
    return n;
  }

  /** Compares entry `i` of chunk `c` with a row whose first index value is `head` and key `key`. */
  private versus(c: number, i: number, row: Row, head: unknown, key: unknown): number {
    const h = this.heads[c]![i];
    if (h !== head) {
      const d = this.headOrder(h, head);
      if (d !== 0) return d;
    }
    if (this.restOrder) {
      const d = this.restOrder(this.chunks[c]![i]!, row);
      if (d !== 0) return d;
    }
    const k = this.keys[c]![i];
    return k === key ? 0 : this.keyOrder(k, key);
  }

  /** Compares the last entry of chunk `c` with a row, as {@link versus} does. */
  private versusLast(c: number, row: Row, head: unknown, key: unknown): number {
    const h = this.lastHeads[c];
    if (h !== head) {
      const d = this.headOrder(h, head);
      if (d !== 0) return d;
    }
    if (this.restOrder) {
      const chunk = this.chunks[c]!;
      const d = this.restOrder(chunk[chunk.length - 1]!, row);
      if (d !== 0) return d;
    }
    const k = this.lastKeys[c];
    return k === key ? 0 : this.keyOrder(k, key);
  }

  /** Records chunk `c`'s last entry in the packed arrays. */
  private noteLast(c: number): void {
    const heads = this.heads[c]!;
    this.lastHeads[c] = heads[heads.length - 1];
    this.lastKeys[c] = this.keys[c]![heads.length - 1];
  }

  /** The chunk that holds (or would hold) `row`, and the first position in it not before the row. */
  private locate(row: Row, head: unknown, key: unknown, last: boolean): Cursor {
    const chunks = this.chunks;
    // The first chunk whose last entry is not before the row (with `last`, the last chunk when none is).
    let lo = 0;
    let hi = last ? chunks.length - 1 : chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.versusLast(mid, row, head, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    const chunk = chunks[lo];
    if (!chunk) return { chunk: lo, at: 0 };
    let a = 0;
    let b = chunk.length;
    while (a < b) {
      const mid = (a + b) >> 1;
      if (this.versus(lo, mid, row, head, key) < 0) a = mid + 1;
      else b = mid;
    }
    return { chunk: lo, at: a };
  }

  /** Adds a row (not already present): placed at the next read. */
  insert(row: Row): void {
    if (!this.built) return;
    // The same object deleted and inserted again before a read: it is still placed.
    if (!this.removed.delete(row)) this.pending.add(row);
  }

  /** Places one row among the entries now. */
  private place(row: Row): void {
    const head = this.headOf(row);
    const key = row[this.pk];
    if (this.chunks.length === 0) {
      this.chunks.push([row]);
      this.heads.push([head]);
      this.keys.push([key]);
      this.lastHeads.push(head);
      this.lastKeys.push(key);
      return;
    }
    const { chunk: c, at } = this.locate(row, head, key, true);
    const chunk = this.chunks[c]!;
    const heads = this.heads[c]!;
    const keys = this.keys[c]!;
    if (at === chunk.length) {
      chunk.push(row);
      heads.push(head);
      keys.push(key);
    } else {
      // splice moves the tail with one memmove: about 7x faster than a shifting loop on 512 entries.
      chunk.splice(at, 0, row);
      heads.splice(at, 0, head);
      keys.splice(at, 0, key);
    }
    if (at === chunk.length - 1) this.noteLast(c);
    if (chunk.length > this.maxChunk) {
      const half = chunk.length >> 1;
      this.chunks.splice(c + 1, 0, chunk.splice(half));
      this.heads.splice(c + 1, 0, heads.splice(half));
      this.keys.splice(c + 1, 0, keys.splice(half));
      this.lastHeads.splice(c + 1, 0, undefined);
      this.lastKeys.splice(c + 1, 0, undefined);
      this.noteLast(c);
      this.noteLast(c + 1);
    }
  }

  /** Removes the entry of `row` (the stored row, or one equal in its index values and key): at the next read. */
  delete(row: Row): void {
    if (!this.built) return;
    // A stored row is never mutated, only replaced: a pending entry is the very object being deleted.
    if (!this.pending.delete(row)) this.removed.add(row);
  }

  /**
   * Removes the entries of `rows` (stored rows, each once), as {@link delete} one by one would. Past
   * {@link BULK} rows, with nothing pending to place, they go now in one pass over the chunks instead of
   * through the `removed` set: a cascade's 10,000 rows cost a sort and a pass, not 10,000 set entries
   * sorted again at the next read.
   */
  deleteMany(rows: readonly Row[]): void {
    if (!this.built) return;
    // A pending row has no entry yet (it is dropped from the pending set): only without any, every row
    // given is placed, or was never in the index (which the pass passes over).
    if (!this.dense(rows.length) || this.pending.size > 0) {
      for (const row of rows) this.delete(row);
      return;
    }
    this.unplaceAll(rows.slice().sort(this.compare));
  }

  /** Removes the entry equal to `row` now, if there is one. */
  private unplace(row: Row): void {
    const head = this.headOf(row);
    const key = row[this.pk];
    const { chunk: c, at } = this.locate(row, head, key, false);
    const chunk = this.chunks[c];
    if (!chunk || at === chunk.length || this.versus(c, at, row, head, key) !== 0) return;
    if (chunk.length === 1) {
      this.chunks.splice(c, 1);
      this.heads.splice(c, 1);
      this.keys.splice(c, 1);
      this.lastHeads.splice(c, 1);
      this.lastKeys.splice(c, 1);
    } else {
      chunk.splice(at, 1);
      this.heads[c]!.splice(at, 1);
      this.keys[c]!.splice(at, 1);
      if (at === chunk.length) this.noteLast(c);
    }
  }

  /** The first position whose entry is not `before` (the end when every entry is). */
  seek(before: Before): Cursor {
    this.settle();
    const chunks = this.chunks;
    let lo = 0;
    let hi = chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const c = chunks[mid]!;
      if (before(c[c.length - 1]!)) lo = mid + 1;
      else hi = mid;
    }
    const chunk = chunks[lo];
    if (!chunk) return { chunk: lo, at: 0 };
    let a = 0;
    let b = chunk.length;
    while (a < b) {
      const mid = (a + b) >> 1;
      if (before(chunk[mid]!)) a = mid + 1;
      else b = mid;
    }
    return a === chunk.length ? { chunk: lo + 1, at: 0 } : { chunk: lo, at: a };
  }

  /** How many entries lie in [from, to). */
  countBetween(from: Cursor, to: Cursor): number {
    if (to.chunk < from.chunk || (to.chunk === from.chunk && to.at <= from.at)) return 0;
    if (from.chunk === to.chunk) return to.at - from.at;
    let n = this.chunks[from.chunk]!.length - from.at;
    for (let c = from.chunk + 1; c < to.chunk; c++) n += this.chunks[c]!.length;
    return n + to.at;
  }

  /**
   * Calls `visit` on each entry in [from, to), in index order or (`reverse`) backwards, until it returns false.
   * Returns false when stopped early.
   */
  walk(from: Cursor, to: Cursor, reverse: boolean, visit: (row: Row) => boolean): boolean {
    const chunks = this.chunks;
    if (!reverse) {
      for (let c = from.chunk, i = from.at; c < to.chunk || (c === to.chunk && i < to.at); c++, i = 0) {
        const chunk = chunks[c]!;
        const end = c === to.chunk ? to.at : chunk.length;
        for (; i < end; i++) if (!visit(chunk[i]!)) return false;
      }
      return true;
    }
    // Backwards from the entry before `to` down to `from`.
    for (let c = to.at === 0 ? to.chunk - 1 : to.chunk; c >= from.chunk; c--) {
      const chunk = chunks[c]!;
      const stop = c === from.chunk ? from.at : 0;
      for (let i = c === to.chunk ? to.at - 1 : chunk.length - 1; i >= stop; i--) if (!visit(chunk[i]!)) return false;
    }
    return true;
  }
}

/*
 * The heads' orders: one function literal per kind of head (V8 keeps type feedback per literal, and a
 * literal shared by string and number indexes turns polymorphic). Heads are never undefined.
 */
const compareStringHeads: ValueOrder = (a, b) => (a === b ? 0 : a === null ? -1 : b === null ? 1 : compareStrings(a as string, b as string));
/** Numbers, booleans (false < true) and Dates as their time. */
const compareOtherHeads: ValueOrder = (a, b) => (a === b ? 0 : a === null ? -1 : b === null ? 1 : (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0);

/** The entries' comparator, specialised for one column (the common case) to keep inserts and builds tight. */
function entryOrder(columns: readonly ColumnSchema[], orders: readonly ValueOrder[], primary: ColumnSchema): (a: Row, b: Row) => number {
  const pk = primary.property;
  const keyOrder = comparatorFor(primary.type);
  if (columns.length === 1) {
    const p = columns[0]!.property;
    const order = orders[0]!;
    return (a, b) => {
      const x = a[p];
      const y = b[p];
      if (x !== y) {
        const c = order(x, y);
        if (c !== 0) return c;
      }
      const ka = a[pk];
      const kb = b[pk];
      return ka === kb ? 0 : keyOrder(ka, kb);
    };
  }
  const props = columns.map((c) => c.property);
  return (a, b) => {
    for (let i = 0; i < props.length; i++) {
      const p = props[i]!;
      const x = a[p];
      const y = b[p];
      if (x === y) continue;
      const c = orders[i]!(x, y);
      if (c !== 0) return c;
    }
    const ka = a[pk];
    const kb = b[pk];
    return ka === kb ? 0 : keyOrder(ka, kb);
  };
}
