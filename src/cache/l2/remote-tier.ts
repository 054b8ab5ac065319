/**
 * The second tier as the cache sees it (bentocache's `RemoteCache`): one {@link L2Store} behind what every
 * store needs and none should write again. A failing store never fails a read or a write: the circuit
 * breaker skips it for a while, one warning is logged per outage, and `errors` counts what failed. Reads wait
 * for the invalidations in flight, invalidations keep their order, and an invalidation that could not be made
 * marks the store dirty: nothing is read from it or written to it until {@link L2Store.repair} has succeeded.
 */
import type { Logger } from "../../logger.js";
import type { InvalidationBus, InvalidationMessage } from "../bus/invalidation-bus.js";
import type { Clock } from "../clock.js";
import { CircuitBreaker } from "./circuit-breaker.js";
import type { L2Read, L2Store } from "./l2-store.js";

export interface RemoteTierOptions {
  clock: Clock;
  logger: Logger;
  /** How long a failed store is left alone before it is tried again. @default 2000 */
  retryMs?: number;
  /**
   * How often a dirty store is repaired in the background (with none, only at the next read): a store
   * other processes read should not wait for this process's next read to drop what they must not see.
   */
  repairEveryMs?: number;
  /** The bus the store announces on, closed with it. */
  bus?: InvalidationBus;
}

/** What a read answers when the store is skipped or fails: a miss that allows no fill. */
const SKIPPED: L2Read = Object.freeze({ value: undefined, guard: undefined });

/** The remote tier of one storage (see the module comment), made when `cache.l2` is set: by the cache manager, or by `openRedisTier`. */
export class RemoteTier {
  /** Reads the store answered with an entry (`storage.cache.stats().l2.hits`). */
  hits = 0;
  /** Reads the store answered without one. A read skipped (circuit open, store dirty) or failed counts as neither. */
  misses = 0;
  /** Failures of the store (reads, writes, invalidations, repairs, connecting), counted by the circuit breaker (`stats().l2.errors`). */
  errors = 0;
  /** The store driver behind this tier, closed with it. */
  readonly store: L2Store;
  /** The bus the store announces this process's writes on (Redis), closed with the tier; none for a store only this process uses. */
  readonly bus: InvalidationBus | undefined;
  private readonly breaker: CircuitBreaker;
  /** Entries may be stale (an invalidation was lost, or the bus was): the store is repaired before use. */
  private dirty = false;
  /** Bumped whenever `dirty` is set, so that a repair that began earlier does not clear it. */
  private dirtyMark = 0;
  /** An invalidation (or a clear) of this process was lost: the repair also tells every peer to drop its L1. */
  private unsent = false;
  private repairing: Promise<boolean> | undefined;
  /** What the invalidations that failed named: the repair refuses fills begun before them. */
  private readonly missed = { keys: new Set<string>(), tables: new Set<string>() };
  /** The last invalidation (or clear) queued; reads wait for it, the next one runs after it. */
  private invalidating: Promise<void> | undefined;
  private readonly repairTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(store: L2Store, options: RemoteTierOptions) {
    this.store = store;
    this.bus = options.bus;
    this.breaker = new CircuitBreaker(store.description, options.logger, options.clock, this, options.retryMs);
    if (options.repairEveryMs !== undefined) {
      this.repairTimer = setInterval(() => void (this.dirty && !this.breaker.isOpen && this.repair()), options.repairEveryMs);
      this.repairTimer.unref();
    }
  }

  /** Reads `key`; a store that is skipped, dirty or failing answers a miss. */
  async read(key: string): Promise<L2Read> {
    if (this.closed) return SKIPPED;
    // A write that has returned must be seen: wait for its invalidation (a bulk one may take a while).
    if (this.invalidating) await this.invalidating;
    if (this.breaker.isOpen || (this.dirty && !(await this.repair()))) return SKIPPED;
    try {
      const read = await this.store.read(key);
      this.breaker.succeed();
      if (read.value === undefined) this.misses++;
      else this.hits++;
      return read;
    } catch (error) {
      this.breaker.fail(error);
      return SKIPPED;
    }
  }

  /** Stores `value` under `key` unless the key was invalidated since `guard` was read. */
  async write(key: string, value: string, guard: unknown): Promise<void> {
    // No guard: the read that would have given one failed, so nothing proves the value is current.
    if (guard === undefined || this.breaker.isOpen || this.dirty || this.closed) return;
    try {
      await this.store.write(key, value, guard);
      this.breaker.succeed();
    } catch (error) {
      this.breaker.fail(error);
    }
  }

  /**
   * Drops `keys` and every entry of each of `tables` (encoded names; a bulk write), then tells the other
   * processes on the bus (`message`), if there is one; `undefined`: a peer's write that every process has heard.
   */
  invalidate(keys: readonly string[], tables: readonly string[], message: InvalidationMessage | undefined): Promise<void> {
    if (this.closed) return Promise.resolve();
    return this.inOrder(async () => {
      // Tried even while the circuit is open: reads may skip a failing store, but an invalidation is what
      // keeps other processes correct. Not once the store has failed us and the circuit is still open: a
      // silent Redis makes each command wait out its timeout, and every read waits for the invalidations
      // before it. Recorded instead; the repair makes it good.
      try {
        if (this.dirty && this.breaker.isOpen) throw new Error(`the ${this.store.description} cache tier is still unreachable`);
        if (this.dirty && !(await this.repair())) throw new Error(`the ${this.store.description} cache tier is still unreachable`);
        await this.store.invalidate(keys, tables, message);
        this.breaker.succeed();
      } catch (error) {
        if (!this.breaker.isOpen) this.breaker.fail(error);
        for (const key of keys) this.missed.keys.add(key);
        for (const table of tables) this.missed.tables.add(table);
        this.markDirty(true);
      }
    });
  }

  /** Drops every entry of this storage's namespace. */
  clear(): Promise<void> {
    return this.inOrder(async () => {
      // Reads wait for a clear as for an invalidation: a store that failed us and is still skipped is not made
      // to wait out a timeout per command (a silent Redis would hold every read that long). Marked suspect
      // instead: nothing is read from it until its repair, which drops every entry, as this would have.
      if (this.breaker.isOpen) {
        this.markDirty(false);
        return;
      }
      try {
        await this.store.clear();
      } catch (error) {
        this.breaker.fail(error);
        this.markDirty(true);
      }
    });
  }

  /**
   * The store may hold entries a peer's commit made stale, without anyone having failed to send anything
   * (the bus was lost, or the store could not be reached when this process started): repair it before use.
   */
  suspect(): void {
    this.markDirty(false);
  }

  /** The store failed outside a read or a write (connecting): counted and reported as they are. */
  failed(error: unknown): void {
    this.breaker.fail(error);
  }

  /** The store is reachable again: make good on what was lost now, not at this process's next read or write. */
  reachable(): void {
    if (this.dirty) void this.repair();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Let queued invalidations reach the store (other processes rely on them), then leave politely.
    await this.invalidating;
    this.closed = true;
    if (this.repairTimer) clearInterval(this.repairTimer);
    this.bus?.close();
    await this.store.close();
  }

  /** Runs `work` after the invalidations queued before it; reads wait for it, as for everything queued. */
  private inOrder(work: () => Promise<void>): Promise<void> {
    const previous = this.invalidating;
    // Keep invalidations in order: a later one's announcement must not overtake an earlier one's deletes.
    const queued = previous ? previous.then(work) : work();
    this.invalidating = queued;
    void queued.then(() => {
      if (this.invalidating === queued) this.invalidating = undefined;
    });
    return queued;
  }

  private markDirty(unsent: boolean): void {
    this.dirty = true;
    this.dirtyMark++;
    if (unsent) this.unsent = true;
  }

  /** Recovers from a time the store could not be trusted (one repair at a time; callers share it). */
  private repair(): Promise<boolean> {
    this.repairing ??= this.repairNow().finally(() => (this.repairing = undefined));
    return this.repairing;
  }

  private async repairNow(): Promise<boolean> {
    const mark = this.dirtyMark;
    const unsent = this.unsent;
    const keys = [...this.missed.keys];
    const tables = [...this.missed.tables];
    try {
      await this.store.repair(keys, tables, unsent);
      for (const key of keys) this.missed.keys.delete(key);
      for (const table of tables) this.missed.tables.delete(table);
      // Something else failed meanwhile: it needs a repair of its own.
      if (mark === this.dirtyMark) {
        this.dirty = false;
        this.unsent = false;
      }
      this.breaker.succeed();
      return !this.dirty;
    } catch (error) {
      this.breaker.fail(error);
      return false;
    }
  }
}
