/**
 * The second tier's store driver, as bentocache's L2 drivers: a plain store of text entries under string
 * keys that answers or throws. It counts nothing, logs nothing and never falls back: the `RemoteTier` in
 * front of it does all of that once for every store. A new L2 (say, memcached) implements this and a small
 * `open` that wires it to a `RemoteTier`, as `openRedisTier` does.
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
  close(): Promise<void>;
}
