/**
 * A FIFO mutex for async code: one holder at a time, waiters served in arrival order.
 * Guards the single writer of the memory, file and SQLite backends.
 */
export class AsyncMutex {
  private locked = false;
  private readonly waiters: Array<{ grant: () => void; timer?: NodeJS.Timeout }> = [];

  /** True while someone holds the mutex. */
  get isLocked(): boolean {
    return this.locked;
  }

  /**
   * Waits for the mutex and returns the function that releases it (call it exactly once).
   * With `timeoutMs`, rejects with `onTimeout()` if the mutex is not granted in time.
   */
  acquire(timeoutMs?: number, onTimeout?: () => Error): Promise<() => void> {
    if (!this.locked) {
      this.locked = true;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve, reject) => {
      const waiter: { grant: () => void; timer?: NodeJS.Timeout } = { grant: () => resolve(this.releaser()) };
      if (timeoutMs !== undefined) {
        waiter.timer = setTimeout(() => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(onTimeout ? onTimeout() : new Error(`Timed out after ${timeoutMs} ms waiting for a lock`));
        }, timeoutMs);
        waiter.timer.unref();
      }
      this.waiters.push(waiter);
    });
  }

  /** Runs `fn` while holding the mutex. */
  async run<T>(fn: () => Promise<T> | T, timeoutMs?: number, onTimeout?: () => Error): Promise<T> {
    const release = await this.acquire(timeoutMs, onTimeout);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) {
        if (next.timer) clearTimeout(next.timer);
        next.grant();
      } else this.locked = false;
    };
  }
}
