/**
 * The Redis store: entries under a prefix with a TTL, shared by every process on that Redis. Counting, the
 * circuit breaker and falling back to the backend are the `RemoteTier`'s; hearing of other processes'
 * writes is the bus's (`RedisBus`); `openRedisTier` wires the three.
 *
 * Fills are guarded: each entry key has a version key (and each table one), bumped by every invalidation;
 * a fill carries the versions seen when its read began and a Lua script stores it only if they are
 * unchanged, so a process that read a row before another process's write cannot put the old row back.
 */
import type { Redis as RedisClient } from "ioredis";
import type { InvalidationBus, InvalidationMessage } from "../bus/invalidation-bus.js";
import { entityKeysGlob, keyVersionKey, tableOfKey, tableVersionKey } from "../keys.js";
import type { L2Read, L2Store } from "./l2-store.js";

/** The command client, with the fill script defined on it (see {@link FILL_SCRIPT}). */
export type FillingClient = RedisClient & {
  strataFill(entry: string, keyVersion: string, tableVersion: string, seenKey: string, seenTable: string, value: string, ttlMs: number): Promise<number>;
};

/** Stores the entry KEYS[1] only if the versions KEYS[2] (the key's) and KEYS[3] (its table's) are still those seen. */
export const FILL_SCRIPT = `
if (redis.call('GET', KEYS[2]) or '') == ARGV[1] and (redis.call('GET', KEYS[3]) or '') == ARGV[2] then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
  return 1
end
return 0`;

/** Version keys outlive entries by far: one expiring during a read could let an old fill through. */
const VERSION_TTL_MS = 24 * 3600 * 1000;

export interface RedisL2StoreOptions {
  /** What warnings call the store (the URL, its password hidden). */
  description: string;
  /** @default 3600000 (one hour): entries in a shared Redis should not live forever */
  ttlMs?: number;
  /** @default "strata:" */
  prefix?: string;
  /** The bus whose channel and messages this store publishes. */
  bus: InvalidationBus;
}

/**
 * The Redis store (`cache.l2: { type: "redis", url }`): see the module comment. Guards are the pair of
 * versions (the key's, its table's) read on a miss; made by `openRedisTier`, which owns its client.
 */
export class RedisL2Store implements L2Store {
  readonly description: string;
  private readonly prefix: string;
  private readonly ttlMs: number;
  private readonly bus: InvalidationBus;

  constructor(
    private readonly client: FillingClient,
    options: RedisL2StoreOptions,
  ) {
    this.description = options.description;
    this.prefix = options.prefix ?? "strata:";
    this.ttlMs = options.ttlMs ?? 3600 * 1000;
    this.bus = options.bus;
  }

  async read(key: string): Promise<L2Read> {
    const value = await this.client.get(this.prefix + key);
    if (value !== null) return { value, guard: undefined };
    // Only a miss is filled, so only a miss needs the versions; read before the backend is, they date the fill.
    const [keyVersion, tableVersion] = await this.client.mget(keyVersionKey(this.prefix, key), tableVersionKey(this.prefix, tableOfKey(key)));
    return { value: undefined, guard: [keyVersion ?? "", tableVersion ?? ""] };
  }

  async write(key: string, value: string, guard: unknown): Promise<void> {
    if (!Array.isArray(guard)) return;
    await this.client.strataFill(this.prefix + key, keyVersionKey(this.prefix, key), tableVersionKey(this.prefix, tableOfKey(key)), guard[0] as string, guard[1] as string, value, this.ttlMs);
  }

  async invalidate(keys: readonly string[], tables: readonly string[], message: InvalidationMessage | undefined): Promise<void> {
    const announcement = message === undefined ? undefined : this.bus.encode(message);
    if (tables.length === 0) {
      // Rows by key: the publish runs in the same transaction as the deletes, so that peers hear of the
      // commit one round trip sooner, and still never before its entries are gone.
      await this.bumpVersions(keys, tables, announcement);
      return;
    }
    await this.bumpVersions(keys, tables);
    for (const table of tables) await this.deleteMatching(entityKeysGlob(this.prefix, table));
    if (announcement !== undefined) await this.client.publish(this.bus.channel, announcement);
  }

  /**
   * Deletes the keys' entries and bumps their versions and the tables', so that older fills are refused;
   * then, in the same transaction, publishes `announcement` if given.
   */
  private async bumpVersions(keys: Iterable<string>, tables: Iterable<string>, announcement?: string): Promise<void> {
    const batch = this.client.multi();
    for (const key of keys) {
      const version = keyVersionKey(this.prefix, key);
      batch.del(this.prefix + key);
      batch.incr(version);
      batch.pexpire(version, VERSION_TTL_MS);
    }
    for (const table of tables) {
      const version = tableVersionKey(this.prefix, table);
      batch.incr(version);
      batch.pexpire(version, VERSION_TTL_MS);
    }
    if (announcement !== undefined) batch.publish(this.bus.channel, announcement);
    const results = await batch.exec();
    // A transaction that Redis refused or aborted reports it in its results rather than by rejecting.
    const failed = results?.find(([error]) => error !== null)?.[0];
    if (!results || failed) throw failed ?? new Error("the Redis transaction was aborted");
  }

  /**
   * Refuses fills begun before the invalidations that could not be sent, drops every entry of the namespace
   * (some may predate a commit nobody could announce), and with `announce` tells every other process to drop
   * its whole L1 (it never heard of those writes).
   */
  async repair(keys: readonly string[], tables: readonly string[], announce: boolean): Promise<void> {
    await this.bumpVersions(keys, tables);
    await this.deleteMatching(entityKeysGlob(this.prefix));
    if (announce) await this.client.publish(this.bus.channel, this.bus.encode(null));
  }

  async clear(): Promise<void> {
    await this.deleteMatching(entityKeysGlob(this.prefix));
  }

  async close(): Promise<void> {
    await this.client.quit().catch(() => this.client.disconnect());
  }

  private async deleteMatching(pattern: string): Promise<void> {
    let cursor = "0";
    do {
      const [next, found] = await this.client.scan(cursor, "MATCH", pattern, "COUNT", 500);
      if (found.length > 0) await this.client.del(...found);
      cursor = next;
    } while (cursor !== "0");
  }
}

/** The URL as a warning may show it: without its password. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, "//***@");
}
