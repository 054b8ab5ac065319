/**
 * The circuit breaker of the remote tier (see `RemoteTier`), so that a failing store never fails a read or a
 * write: it is skipped for a while, one warning is logged per outage, and `errors` counts what failed.
 */
import type { Logger } from "../../logger.js";
import type { Clock } from "../clock.js";

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
