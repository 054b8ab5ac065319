/** The heap check of opening a file directory: a `CapacityError` before a table that would not fit is parsed. */
import v8 from "node:v8";
import { CapacityError } from "../../errors.js";

/**
 * Heap that loading takes at its peak (the file's text, the parsed JSON and the decoded rows at once), as
 * bytes per byte of a snapshot or journal plus bytes per row: fitted to the smallest --max-old-space-size
 * that opens a table of a typical entity (217 bytes per row on disk, about 600 of heap; bench/heap-per-row.ts)
 * and one of rows of a key, a boolean and a small integer (34 bytes on disk, about 135 of heap: a per-byte
 * factor alone underestimates such rows fourfold, test/file/file-heap.test.ts): 2.5 per byte and 48 per row,
 * rounded up for a margin.
 */
const HEAP_BYTES_PER_FILE_BYTE = 3;
const HEAP_BYTES_PER_ROW = 64;
/** V8's young generation (3 semi-spaces of 16 MiB on 64-bit): counted in heap_size_limit, but loaded rows live in the old space. */
const YOUNG_GENERATION_BYTES = 48 * 2 ** 20;

/** What opening may still load: the heap left under V8's limit, checked before each file is parsed. */
export class HeapBudget {
  private readonly limit: number;
  private readonly available: number;
  private needed = 0;

  constructor() {
    const heap = v8.getHeapStatistics();
    this.limit = heap.heap_size_limit - Math.min(YOUNG_GENERATION_BYTES, heap.heap_size_limit / 2);
    this.available = this.limit - heap.used_heap_size;
  }

  /** Counts the text of `file` (`bytes` long) in, before it is read. */
  reserveBytes(file: string, bytes: number, table?: string): void {
    this.needed += bytes * HEAP_BYTES_PER_FILE_BYTE;
    this.check(file, table);
  }

  /** Counts the objects of `rows` rows of `file` in, before they are parsed. */
  reserveRows(file: string, rows: number, table?: string): void {
    this.needed += rows * HEAP_BYTES_PER_ROW;
    this.check(file, table);
  }

  /** @throws CapacityError naming `file` and the limit when loading it (after the files before it) would not fit. */
  private check(file: string, table: string | undefined): void {
    if (this.needed <= this.available) return;
    const mb = (n: number) => `${Math.ceil(n / 2 ** 20)} MB`;
    throw new CapacityError(
      `${file} does not fit in the heap: the file backend keeps every table in memory, and loading this directory up to this file needs ` +
        `about ${mb(this.needed)} of heap (${HEAP_BYTES_PER_FILE_BYTE} bytes per byte of file and ${HEAP_BYTES_PER_ROW} per row), while ${mb(this.available)} ` +
        `of the heap limit of ${mb(this.limit)} are free. Start node with a larger --max-old-space-size, or move this data to SQLite or PostgreSQL (strata copy).`,
      { file, ...(table !== undefined ? { table } : {}) },
    );
  }
}
