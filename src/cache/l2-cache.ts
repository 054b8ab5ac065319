/**
 * The second tier's contract, shared by the file and Redis tiers, and the circuit breaker both use so that
 * a failing tier never fails a read or a write: it is skipped for a while, one warning is logged per
 * outage, and `errors` counts what failed.
 */
import type { Logger } from "../logger.js";
import type { Clock } from "./l1-cache.js";

/** What a read found, with the guard a later {@link L2Cache.write} of that key must present. */
export interface L2Read {
  readonly value: string | undefined;
  /**
   * Opaque proof of what the tier had seen of the key's invalidations when the read began; a write
   * carrying it is dropped if the key was invalidated since (by any process sharing the tier).
   */
  readonly guard: unknown;
}

/** Writes announced to other processes: table to keys, or `"all"` for a bulk write. */
export type InvalidationMessage = ReadonlyArray<readonly [table: string, keys: readonly (string | number)[] | "all"]>;

export interface L2Cache {
  hits: number;
  misses: number;
  errors: number;
  /** Reads `key`; a tier that is down answers a miss. */
  read(key: string): Promise<L2Read>;
  /** Stores `value` under `key` unless the key was invalidated since `guard` was read. */
  write(key: string, value: string, guard: unknown): Promise<void>;
  /**
   * Drops `keys` and every entry of each of `tables` (URI-encoded names; a bulk write), then tells the other
   * processes on the tier (`message`), if it can.
   */
  invalidate(keys: readonly string[], tables: readonly string[], message: InvalidationMessage): Promise<void>;
  /** Drops every entry of this storage's namespace. */
  clear(): Promise<void>;
  close(): Promise<void>;
}

/** How long a failed tier is left alone before it is tried again. */
export const DEFAULT_RETRY_MS = 2000;

/**
 * Opens after a failure and stays open for `retryMs`; while open, callers skip the tier. One warning per
 * outage: logged when the circuit first opens, and again only after the tier has worked in between.
 */
export class CircuitBreaker {
  private openUntil = 0;
  private warned = false;

  constructor(
    private readonly tier: string,
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly counter: { errors: number },
    private readonly retryMs = DEFAULT_RETRY_MS,
  ) {}

  /** True while the tier should be skipped. */
  get isOpen(): boolean {
    return this.openUntil !== 0 && this.clock.now() < this.openUntil;
  }

  /** Records a failure: counts it, opens the circuit and warns if this outage has not been reported yet. */
  fail(error: unknown): void {
    this.counter.errors++;
    this.openUntil = this.clock.now() + this.retryMs;
    if (!this.warned) {
      this.warned = true;
      const reason = (error as Error)?.message ?? String(error);
      this.logger.warn(`The ${this.tier} cache tier failed (${reason}); reads and writes go on against the backend without it, retrying every ${this.retryMs} ms`);
    }
  }

  /** Records a success: closes the circuit, so that a later outage is reported again. */
  succeed(): void {
    if (this.openUntil === 0 && !this.warned) return;
    if (this.warned) this.logger.info(`The ${this.tier} cache tier works again`);
    this.openUntil = 0;
    this.warned = false;
  }
}
