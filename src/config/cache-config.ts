/** The cache tiers of `createStorage`'s `cache` option (README, "Cache"). */
/** Cache tiers. Each tier has its own `ttlMs`; entries live until evicted or invalidated when it is omitted. */
export interface CacheConfig {
  /**
   * The in-process tier (lru-cache). `false` turns it off. Given only `maxSizeBytes`, bytes alone bound it;
   * given only `max`, the default byte bound applies too. @default { max: 10000, maxSizeBytes: 67108864 }
   */
  l1?: false | { max?: number; maxSizeBytes?: number; ttlMs?: number };
  /**
   * The second tier: a directory of entry files (one process; `maxSizeBytes` defaults to 256 MB, the oldest
   * entries are pruned beyond it) or Redis (shared by processes, which hear of each other's writes).
   */
  l2?:
    | { type: "file"; dir: string; ttlMs?: number; maxSizeBytes?: number }
    | {
        type: "redis";
        url: string;
        ttlMs?: number;
        prefix?: string;
        /**
         * How often the subscription that carries other processes' invalidations is checked (a PING); one
         * unanswered for this long counts as lost, and L1 is then bypassed on `sqlite`/`postgres` until it is back.
         * A peer's commit is seen within twice this even when the network drops packets silently. @default 1000
         */
        heartbeatMs?: number;
      };
  /**
   * The clock TTLs (and the L2 circuit breaker's retry delay) are measured by, `{ now(): number }` in ms; for
   * tests. When omitted, each tier keeps its own: L1 lru-cache's (`performance.now()`, monotonic), L2
   * `Date.now()` (a file entry's expiry is a point in time that must mean the same after a restart).
   */
  clock?: { now(): number };
}
