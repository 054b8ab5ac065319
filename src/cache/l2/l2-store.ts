/**
 * The second tier's store driver, as bentocache's L2 drivers: a plain store of text entries under string
 * keys that answers or throws. It counts nothing, logs nothing and never falls back: the `RemoteTier` in
 * front of it does all of that once for every store.
 *
 * The tiers are a closed set today, not plugins. A new L2 (say, memcached) takes four edits: this interface
 * implemented (one `l2/<name>-l2-store.ts`); a variant of `CacheConfig["l2"]` (`src/config/cache-config.ts`)
 * and of its schema (`cache.l2` in `src/config/storage-config.ts`, whose error message lists the types); and
 * a branch on `l2.type` in `CacheManager.openL2`, which wraps the store in a `RemoteTier` (inline, as for
 * the file store, or through an `open` function as `openRedisTier`, when the tier has a client to load
 * lazily or a bus to wire). The README's "Cache" section documents the config.
 *
 * Where it goes beyond a plain get/set/delete: fills are guarded. A read that misses hands back a guard, and
 * a write carrying it is dropped if the key was invalidated since, by any process sharing the store; without
 * it, a process that read a row before another's write could put the old row back.
 */
import type { InvalidationMessage } from "../bus/invalidation-bus.js";

/** What a read found, with the guard a later {@link L2Store.write} of that key must present. */
export interface L2Read {
  readonly value: string | undefined;
  /**
   * Opaque proof of what the store had seen of the key's invalidations when the read began; a write
   * carrying it is dropped if the key was invalidated since. `undefined`: the read proves nothing (a hit,
   * or a read that failed), and nothing may be written on its strength.
   */
  readonly guard: unknown;
}

export interface L2Store {
  /** What a warning calls the store, such as `file (/var/cache/app)`; no secrets. */
  readonly description: string;
  /** Reads `key` (`value` undefined when absent or expired). */
  read(key: string): Promise<L2Read>;
  /** Stores `value` under `key` unless the key was invalidated since `guard` was read. */
  write(key: string, value: string, guard: unknown): Promise<void>;
  /**
   * Drops `keys` and every entry of each of `tables` (encoded names; a bulk write) and refuses older fills
   * of them; a store shared by processes then announces `message` on its bus, unless it is `undefined`.
   */
  invalidate(keys: readonly string[], tables: readonly string[], message: InvalidationMessage | undefined): Promise<void>;
  /**
   * Makes the store trustworthy again after invalidations were lost: refuses fills begun before the
   * invalidations of `keys` and `tables` that failed, drops every entry, and with `announce`, tells every
   * process on the bus that everything may have changed (they never heard of those writes).
   */
  repair(keys: readonly string[], tables: readonly string[], announce: boolean): Promise<void>;
  /** Drops every entry of this storage's namespace. */
  clear(): Promise<void>;
  /**
   * Lets go of the store once the `RemoteTier` has let its queued invalidations finish: waits for the store's
   * own pending work, then releases what it holds (connections). Called once, by `RemoteTier.close`.
   */
  close(): Promise<void>;
}
