/**
 * The storage's cache, in bentocache's shape: L1 (`l1/`), the remote tier (`l2/`: a store driver, file or
 * Redis, behind one `RemoteTier`), the invalidation bus (`bus/`), the keys (`keys.ts`), one
 * {@link TableCache} per entity table, and coherence. Invalidation is driven by the transaction manager's
 * after-commit listener, so a write reaches the cache only once it is committed (for autocommit writes, at
 * once; for a transaction, after the outermost commit; never after a rollback), and, with Redis, reaches
 * every other process on that Redis through the bus.
 */
import type { Backend, DataSession, Key } from "../spi/index.js";
import type { CacheConfig, ResolvedConfig } from "../config/storage-config.js";
import type { EntitySchema } from "../schema/entity-schema.js";
import type { CommittedWrites } from "../transaction/transaction-manager.js";
import type { InvalidationMessage } from "./bus/invalidation-bus.js";
import { wallClock } from "./clock.js";
import { encodeTableName } from "./keys.js";
import { L1Cache } from "./l1/l1-cache.js";
import { FileL2Store } from "./l2/file-l2-store.js";
import { RemoteTier } from "./l2/remote-tier.js";
import type { TableCacheContext } from "./table-cache.js";
import { TableCache } from "./table-cache.js";

/** Counters of `storage.cache.stats()`. */
export interface CacheStats {
  l1: { hits: number; misses: number; size: number; evictions: number };
  l2: { hits: number; misses: number; errors: number };
}

/** `storage.cache`: what a user can see of and do with the cache. */
export interface StorageCache {
  /** Whether any tier is on. */
  readonly enabled: boolean;
  /**
   * Hits, misses, entries and evictions of L1; hits, misses and failures of L2 (all zero for a tier that is off).
   * @example const { l1 } = storage.cache.stats(); const hitRate = l1.hits / (l1.hits + l1.misses);
   */
  stats(): CacheStats;
  /** Empties both tiers (L2: this storage's namespace); the counters keep counting. */
  clear(): Promise<void>;
}

/** L1 when `cache` is omitted or gives no `l1`. */
export const DEFAULT_L1 = { max: 10_000, maxSizeBytes: 64 * 1024 * 1024 } as const;

/**
 * What the cache needs of the storage that opens it (the storage's core is one): its config, backend and
 * entities, its after-commit listeners, and the schema version its migrations bump.
 */
export interface CacheHost {
  readonly config: ResolvedConfig;
  readonly backend: Backend;
  readonly schemas: ReadonlyMap<Function, EntitySchema>;
  readonly transactions: { afterCommit(listener: (writes: CommittedWrites) => void): void };
  /** Bumped by each migration this process applies or reverts. */
  readonly schemaVersion: number;
  /** What the cache fills from (the backend's fresh session, else its autocommit one), observed while the storage observes its operations. */
  readonly cacheFillSession: DataSession;
}

/**
 * The fingerprint of the migrations applied to the storage's data, asked for once when the cache opens (the
 * migrations module computes it, `appliedFingerprint`: the cache knows nothing of how migrations are recorded).
 */
export type MigrationsFingerprint = () => Promise<string>;

export class CacheManager implements StorageCache, TableCacheContext {
  readonly enabled = true;
  readonly l1: L1Cache | undefined;
  /**
   * L1 while it may be served from and filled: `undefined` while a shared backend's invalidation bus (the
   * Redis subscription) is down, since another process's commit could then go unheard. Read on every lookup,
   * so the check costs what reading `l1` did.
   */
  trustedL1: L1Cache | undefined;
  /** The second tier, when configured. */
  l2: RemoteTier | undefined;
  private readonly tables = new Map<string, TableCache>();
  private readonly bySchema = new Map<EntitySchema, TableCache>();
  private closed = false;
  /**
   * The migrations applied (version and checksum) when this storage opened, hashed: part of every key,
   * so that a process started after a migration - or on a shared L2, a peer still before it - never
   * reads entries written under another schema. This process's own migrations bump `host.schemaVersion`.
   */
  appliedMark = "m0";

  private constructor(
    private readonly host: CacheHost,
    private readonly config: CacheConfig,
  ) {
    const l1 = resolveL1(config.l1);
    this.l1 = l1 ? new L1Cache(config.clock ? { ...l1, clock: config.clock } : l1) : undefined;
    this.trustedL1 = this.l1;
  }

  /**
   * Sets up the cache a storage's config asks for, or `undefined` when it is off: `cache: false`, or
   * `cache` omitted on a backend that other processes may write to (they could not tell this cache).
   */
  static async open(host: CacheHost, migrationsFingerprint: MigrationsFingerprint): Promise<CacheManager | undefined> {
    const config = resolveCacheConfig(host.config, host.backend);
    if (!config) return undefined;
    const manager = new CacheManager(host, config);
    manager.appliedMark = await migrationsFingerprint();
    await manager.openL2();
    host.transactions.afterCommit((writes) => manager.committed(writes));
    return manager;
  }

  /** @see TableCacheContext.schemaVersion */
  get schemaVersion(): number {
    return this.host.schemaVersion;
  }

  /** @see TableCacheContext.loader */
  get loader(): DataSession {
    return this.host.cacheFillSession;
  }

  private async openL2(): Promise<void> {
    const l2 = this.config.l2;
    if (!l2) return;
    const logger = this.host.config.logger;
    const clock = this.config.clock ?? wallClock;
    if (l2.type === "file") {
      const store = new FileL2Store({ dir: l2.dir, clock, ...(l2.ttlMs !== undefined ? { ttlMs: l2.ttlMs } : {}), ...(l2.maxSizeBytes !== undefined ? { maxSizeBytes: l2.maxSizeBytes } : {}) });
      this.l2 = new RemoteTier(store, { clock, logger });
      return;
    }
    // Loaded here, not at the top: importing Strata must not load ioredis.
    const { openRedisTier } = await import("./l2/redis-tier.js");
    // Decided once: on data only this process writes (memory, file, SQLite in memory), the bus carries
    // nothing L1 needs, and L1 stays as fast and as full as it is without Redis.
    const sharedData = this.host.backend.capabilities.supportsMultipleConnections;
    if (sharedData) this.trustedL1 = undefined; // until the bus is up
    this.l2 = await openRedisTier({
      url: l2.url,
      clock,
      logger,
      ...(l2.ttlMs !== undefined ? { ttlMs: l2.ttlMs } : {}),
      ...(l2.prefix !== undefined ? { prefix: l2.prefix } : {}),
      ...(l2.heartbeatMs !== undefined ? { heartbeatMs: l2.heartbeatMs } : {}),
      sharedData,
      onRemoteInvalidation: (message) => this.remoteInvalidation(message),
      onBusChange: (up) => sharedData && this.busChanged(up),
    });
  }

  /**
   * The invalidation bus went down or came back. Down: whatever L1 holds may already be stale and nothing
   * would tell us, so drop it and serve without it. Back: invalidations sent meanwhile are lost, so start
   * from an empty L1. Either way, reads in flight must not fill it with what they read before.
   */
  private busChanged(up: boolean): void {
    if (this.closed) return;
    this.l1?.clear();
    for (const table of this.tables.values()) table.abandonFlights();
    this.trustedL1 = up ? this.l1 : undefined;
  }

  /**
   * The cache of the table a query reads besides its own (a relation filter's or an include's related or
   * join table), whose generation keys the query. By name first: a join table's schema is not among the
   * storage's entities, an entity's is the same object.
   */
  tableRead(schema: EntitySchema): TableCache {
    return this.tables.get(schema.table) ?? this.table(schema);
  }

  /** The cache of `schema`'s table, made on first use. */
  table(schema: EntitySchema): TableCache {
    let table = this.bySchema.get(schema);
    if (!table) {
      table = new TableCache(this, schema);
      this.bySchema.set(schema, table);
      this.tables.set(schema.table, table);
    }
    return table;
  }

  /** The after-commit listener: forget what the committed writes changed, here and in L2 (and so in other processes). */
  private committed(writes: CommittedWrites): void {
    if (this.closed) return;
    const l2Keys: string[] = [];
    const l2Tables: string[] = [];
    const message: Array<readonly [string, readonly Key[] | "all", string?]> = [];
    for (const [tableName, keys] of writes) {
      const table = this.tableNamed(tableName);
      if (!table) {
        // Not an entity of this storage (a migration's table): other processes may cache it; drop it whole.
        message.push([tableName, keys === "all" ? "all" : [...keys]]);
        l2Tables.push(encodeTableName(tableName));
        continue;
      }
      const dropped = table.invalidate(keys);
      // The space is read after invalidate(), which moves the keys to a new schema version if one was applied.
      message.push(keys === "all" ? [tableName, "all"] : [tableName, [...keys], table.l2Space]);
      if (dropped === true) l2Tables.push(table.l2Table);
      else l2Keys.push(...dropped);
    }
    // Migrations write tables no repository has opened yet: other processes may have them cached.
    if (this.l2 && message.length > 0) void this.l2.invalidate(l2Keys, l2Tables, message);
  }

  /**
   * Another process on the shared Redis wrote: drop our L1 copies. L2 was handled by the writer, for the keys
   * of its own key space: where ours differs (a migration ran in one of us since the other opened), our
   * entries of those keys are ours to drop. A bulk write's deletes already reach every space. (A space no
   * running process holds any more is reached by nobody: its entries stay until their TTL, and a process
   * opened later on the same space could read them. Closing that needs the writer to know every space.)
   */
  private remoteInvalidation(message: InvalidationMessage | undefined): void {
    if (this.closed) return;
    if (message === undefined) {
      this.l1?.clear();
      for (const table of this.tables.values()) table.abandonFlights();
      return;
    }
    let ownKeys: string[] | undefined;
    for (const [tableName, keys, space] of message) {
      const table = this.tableNamed(tableName);
      if (!table) continue;
      const dropped = table.invalidate(keys === "all" ? "all" : keys);
      // No space: a writer from before spaces were announced; ours may differ, so drop ours to be safe.
      if (dropped !== true && space !== table.l2Space) (ownKeys ??= []).push(...dropped);
    }
    // Not announced again: every peer heard the writer, and drops its own.
    if (ownKeys && this.l2) void this.l2.invalidate(ownKeys, [], undefined);
  }

  private tableNamed(name: string): TableCache | undefined {
    const known = this.tables.get(name);
    if (known) return known;
    for (const schema of this.host.schemas.values()) if (schema.table === name) return this.table(schema);
    return undefined;
  }

  /** @see TableCacheContext.schemaChanged */
  schemaChanged(): void {
    this.l1?.clear();
  }

  stats(): CacheStats {
    return {
      l1: { hits: this.l1?.hits ?? 0, misses: this.l1?.misses ?? 0, size: this.l1?.size ?? 0, evictions: this.l1?.evictions ?? 0 },
      l2: { hits: this.l2?.hits ?? 0, misses: this.l2?.misses ?? 0, errors: this.l2?.errors ?? 0 },
    };
  }

  async clear(): Promise<void> {
    for (const table of this.tables.values()) table.abandonFlights();
    this.l1?.clear();
    await this.l2?.clear();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.l1?.clear();
    await this.l2?.close();
  }
}

/**
 * The L1 bounds in effect. With neither bound given, the defaults; with only `maxSizeBytes`, bytes alone
 * bound it (lru-cache preallocates slots for `max`, so a large count bound would itself cost memory);
 * with only `max`, the default byte bound still applies.
 */
function resolveL1(l1: CacheConfig["l1"]): { max?: number; maxSizeBytes: number; ttlMs?: number } | undefined {
  if (l1 === false) return undefined;
  if (l1?.max === undefined && l1?.maxSizeBytes === undefined) return { ...DEFAULT_L1, ...l1 };
  return { ...l1, maxSizeBytes: l1.maxSizeBytes ?? DEFAULT_L1.maxSizeBytes };
}

/** The `storage.cache` of a storage whose cache is off. */
export const DISABLED_CACHE: StorageCache = {
  enabled: false,
  stats: () => ({ l1: { hits: 0, misses: 0, size: 0, evictions: 0 }, l2: { hits: 0, misses: 0, errors: 0 } }),
  clear: async () => {},
};

/** The cache config in effect, applying the default described on `StorageConfig.cache`. */
export function resolveCacheConfig(config: ResolvedConfig, backend: Backend): CacheConfig | undefined {
  if (config.cache === false) return undefined;
  if (config.cache === undefined) return backend.capabilities.supportsMultipleConnections ? undefined : { l1: DEFAULT_L1 };
  if (config.cache.l1 === false && !config.cache.l2) return undefined;
  return config.cache;
}
