/**
 * The in-process tier: one lru-cache per storage, bounded by entry count, by an estimate of the bytes
 * its entries hold, and optionally by age. Values are owned by the cache and never handed to a caller:
 * the table cache copies them out (see `TableCache`).
 */
import { LRUCache } from "lru-cache";
import type { Row } from "../../schema/entity-schema.js";
import type { Clock } from "../clock.js";

/** Marks "the backend has no such row", so that repeated misses of an absent key stay cheap. */
export const ABSENT: unique symbol = Symbol("strata.absent");

/** What L1 holds: a row, a query's rows, a count, or {@link ABSENT}. */
export type L1Value = Row | readonly Row[] | number | typeof ABSENT;

export interface L1Options {
  /** No count bound when omitted (bytes alone bound the cache). */
  max?: number;
  maxSizeBytes: number;
  ttlMs?: number;
  clock?: Clock;
}

/** Bytes of bookkeeping per entry besides key and value: lru-cache's slots, the key map and the object header. */
const ENTRY_OVERHEAD = 160;

/** Estimates the bytes a value keeps alive; used by `maxSizeBytes`. Runs once per fill, never on a hit. */
export function estimateBytes(value: unknown): number {
  switch (typeof value) {
    case "string":
      return 16 + value.length * 2;
    case "number":
    case "boolean":
      return 8;
    case "object": {
      if (value === null) return 8;
      if (value instanceof Date) return 48;
      if (Array.isArray(value)) {
        let size = 32 + value.length * 8;
        for (const item of value) size += estimateBytes(item);
        return size;
      }
      let size = 32;
      for (const key in value) size += 16 + estimateBytes((value as Record<string, unknown>)[key]);
      return size;
    }
    default:
      return 8;
  }
}

export class L1Cache {
  hits = 0;
  misses = 0;
  evictions = 0;
  private readonly lru: LRUCache<string, L1Value>;

  constructor(options: L1Options) {
    this.lru = new LRUCache<string, L1Value>({
      ...(options.max !== undefined ? { max: options.max } : {}),
      maxSize: options.maxSizeBytes,
      sizeCalculation: (value, key) => ENTRY_OVERHEAD + key.length * 2 + (value === ABSENT ? 0 : estimateBytes(value)),
      ...(options.ttlMs !== undefined ? { ttl: options.ttlMs } : {}),
      ...(options.clock
        ? // lru-cache debounces its clock reads with a timer; a fake clock must be read every time.
          { perf: options.clock, ttlResolution: 0 }
        : {}),
      disposeAfter: (_value, _key, reason) => {
        if (reason === "evict" || reason === "expire") this.evictions++;
      },
    });
  }

  get size(): number {
    return this.lru.size;
  }

  /** The value under `key`, counting a hit or a miss. */
  get(key: string): L1Value | undefined {
    const value = this.lru.get(key);
    if (value === undefined) this.misses++;
    else this.hits++;
    return value;
  }

  set(key: string, value: L1Value, ttlMs?: number): void {
    if (ttlMs === undefined) this.lru.set(key, value);
    else this.lru.set(key, value, { ttl: ttlMs });
  }

  delete(key: string): void {
    this.lru.delete(key);
  }

  clear(): void {
    this.lru.clear();
  }
}
