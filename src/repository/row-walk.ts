/**
 * The iterator `Repository.iterate` returns: the rows of one page handed out from a buffer, the next page
 * fetched only when the buffer is empty. An async generator yielding row by row made several promises and
 * two awaits per row, and once a transaction has used AsyncLocalStorage every promise also pays Node's
 * async hooks: that was a third of a memory-backend walk. Here a row costs one promise, already resolved.
 */

/** Where a walk's pages come from. */
export interface PageSource<R> {
  /** The next page of rows to hand out (the walk's own, in order), or undefined at the end. */
  next(): Promise<readonly R[] | undefined>;
  /**
   * Releases what the walk holds (a stream's snapshot) when it is left before its end. Called at most once,
   * and also after the source has ended or thrown: it must then do nothing.
   */
  release(): Promise<void> | void;
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });

/**
 * An async iterator over the rows of a {@link PageSource} made by `start` at the first `next()` (so a walk
 * never pulled costs nothing, and its errors come from the first `next()`, as a generator's would). It keeps
 * the generator's behaviour where a caller can see it: `return()` (what `break` or a throw in a `for await`
 * calls) and `throw()` release the source and end the walk; after an error the walk is done; calls made
 * while a page loads are answered in order once it has.
 */
export class RowWalk<R> implements AsyncIterableIterator<R> {
  private page: readonly R[] = [];
  private at = 0;
  private source: PageSource<R> | undefined;
  private ended = false;
  /** The load of the next page under way. */
  private loading: Promise<IteratorResult<R>> | undefined;
  /** The walk's ending by `return()`, from the call on: a `next()` called after it is done. */
  private closing: Promise<void> | undefined;

  constructor(private readonly start: () => Promise<PageSource<R>>) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<R>> {
    // Done even when the release failed: return() itself reported that.
    const done = () => DONE;
    if (this.closing) return this.closing.then(done, done);
    return this.pull();
  }

  /** The next row for a `next()` call, also for one made before `return()` and answered after it. */
  private pull(): Promise<IteratorResult<R>> {
    if (this.at < this.page.length) return Promise.resolve({ value: this.page[this.at++]!, done: false });
    if (this.loading) {
      const after = () => this.pull();
      return this.loading.then(after, after);
    }
    if (this.ended) return Promise.resolve(DONE);
    return (this.loading = this.load());
  }

  private async load(): Promise<IteratorResult<R>> {
    try {
      this.source ??= await this.start();
      for (;;) {
        const page = await this.source.next();
        if (page === undefined) {
          this.end();
          return DONE;
        }
        if (page.length > 0) {
          this.page = page;
          this.at = 1;
          return { value: page[0]!, done: false };
        }
      }
    } catch (error) {
      this.end();
      await this.source?.release();
      throw error;
    } finally {
      this.loading = undefined;
    }
  }

  private end(): void {
    this.ended = true;
    this.page = [];
    this.at = 0;
  }

  async return(value?: unknown): Promise<IteratorResult<R>> {
    // Set before any await: a next() called from now on must not take a row of the page under way.
    this.closing ??= this.close();
    await this.closing;
    return { value: value as undefined, done: true };
  }

  private async close(): Promise<void> {
    // A page under way is let finish (its rows go to the next() calls made before return()), then the walk ends.
    if (this.loading) await this.loading.catch(() => undefined);
    if (!this.ended) {
      this.end();
      await this.source?.release();
    }
  }

  async throw(error?: unknown): Promise<IteratorResult<R>> {
    await this.return();
    throw error;
  }
}
