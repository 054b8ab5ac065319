/**
 * Ambient transactions: `storage.transaction(fn)` runs `fn` in an AsyncLocalStorage context that every
 * repository of the storage consults, so calls inside `fn` join the transaction without being passed it,
 * across awaits, timers and `Promise.all`. A nested call is a savepoint. Listeners registered with
 * {@link TransactionManager.afterCommit} hear of writes only once they are committed.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { Backend, DataSession, Key, TransactionHandle } from "../spi/index.js";
import { StorageError, TransactionError } from "../errors.js";
import type { Logger } from "../logger.js";
import { AsyncMutex } from "../util/async-mutex.js";
import { forwardSession } from "../spi/forward-session.js";

/** Tables written, with the keys written in each (`"all"` when a bulk write touched unknown keys). */
export type CommittedWrites = ReadonlyMap<string, ReadonlySet<Key> | "all">;

/** Options of `storage.transaction`. */
export interface TransactionOptions {
  /** Roll back with a `TransactionError` if `fn` is still running after this long. */
  timeoutMs?: number;
}

/** The state of one (possibly nested) transaction scope. */
export interface TransactionScope {
  readonly handle: TransactionHandle;
  /**
   * What repositories use in this scope: the handle, except that while a nested transaction (savepoint)
   * opened under this scope is running, each call waits for it to end. Otherwise a write made beside a
   * savepoint (in `Promise.all`) would land inside it and vanish with its rollback.
   */
  readonly session: DataSession;
  readonly parent?: TransactionScope;
  /** Shared by a transaction and its savepoints. */
  readonly writes: Map<string, Set<Key> | "all">;
  /** Serializes savepoints opened directly under this scope. */
  readonly savepoints: AsyncMutex;
  ended: string | undefined;
}

let savepointCounter = 0;

/** The {@link TransactionScope.session} of a scope: `handle`, waiting for `savepoints` when one is open. */
function scopeSession(handle: TransactionHandle, savepoints: AsyncMutex): DataSession {
  return forwardSession(
    () => handle,
    (call) => (savepoints.isLocked ? savepoints.run(call) : call()),
  );
}

function recordWrite(writes: Map<string, Set<Key> | "all">, table: string, key: Key | undefined): void {
  const known = writes.get(table);
  if (known === "all") return;
  if (key === undefined) writes.set(table, "all");
  else if (known) known.add(key);
  else writes.set(table, new Set([key]));
}

export class TransactionManager {
  private readonly context = new AsyncLocalStorage<TransactionScope>();
  private readonly listeners: Array<(writes: CommittedWrites) => void> = [];

  constructor(
    private readonly backend: Backend,
    private readonly logger: Logger,
  ) {}

  /**
   * The transaction the caller runs in, if any. Throws {@link TransactionError} when the caller's
   * transaction has already ended (it timed out, or `fn` left work running after it returned).
   */
  current(): TransactionScope | undefined {
    const scope = this.context.getStore();
    if (scope === undefined) return undefined;
    for (let s: TransactionScope | undefined = scope; s; s = s.parent) {
      if (s.ended) throw new TransactionError(`The transaction has already ${s.ended}; this call ran after it ended`);
    }
    return scope;
  }

  /** Hears of every committed write, after the outermost commit. */
  afterCommit(listener: (writes: CommittedWrites) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Records a write: kept with the transaction if there is one, else announced at once. `reached`: tables
   * the write changed besides (a delete's foreign-key cascades), whole, announced with it.
   */
  noteWrite(table: string, key?: Key, reached: readonly string[] = []): void {
    const scope = this.context.getStore();
    const writes = scope ? scope.writes : new Map<string, Set<Key> | "all">();
    recordWrite(writes, table, key);
    for (const other of reached) recordWrite(writes, other, undefined);
    if (!scope) this.announce(writes);
  }

  private announce(writes: CommittedWrites): void {
    for (const listener of this.listeners) {
      try {
        listener(writes);
      } catch (error) {
        this.logger.error("An after-commit listener failed", error);
      }
    }
  }

  async run<T>(fn: () => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const parent = this.current();
    if (parent) return this.runNested(parent, fn, options);
    const handle = await this.backend.begin();
    const savepoints = new AsyncMutex();
    const scope: TransactionScope = { handle, session: scopeSession(handle, savepoints), writes: new Map(), savepoints, ended: undefined };
    let result: T;
    try {
      result = await this.withTimeout(this.context.run(scope, fn), options, scope);
    } catch (error) {
      const timedOut = scope.ended !== undefined;
      scope.ended ??= "rolled back";
      const rollback = handle.rollback().catch((rollbackError: unknown) => this.logger.error("Rollback failed", rollbackError));
      // A timed-out callback may still be using the connection (PostgreSQL queues the ROLLBACK behind a
      // statement waiting for a row lock): answer the caller at its deadline; the rollback follows as soon
      // as the connection is free, and nothing of the transaction commits meanwhile.
      if (!timedOut) await rollback;
      throw error;
    }
    scope.ended = "committed";
    try {
      await handle.commit();
    } catch (error) {
      await handle.rollback().catch(() => {});
      if (error instanceof StorageError) throw error;
      throw new TransactionError(`The transaction could not commit: ${(error as Error)?.message ?? String(error)}`, { cause: error });
    }
    this.announce(scope.writes);
    return result;
  }

  private async runNested<T>(parent: TransactionScope, fn: () => Promise<T>, options: TransactionOptions): Promise<T> {
    if (!this.backend.capabilities.supportsSavepoints) {
      throw new TransactionError(`The ${this.backend.name} backend has no savepoints, so transactions cannot nest`);
    }
    const release = await parent.savepoints.acquire();
    const name = `strata_sp_${++savepointCounter}`;
    const savepoints = new AsyncMutex();
    const scope: TransactionScope = { handle: parent.handle, session: scopeSession(parent.handle, savepoints), parent, writes: parent.writes, savepoints, ended: undefined };
    try {
      await parent.handle.savepoint(name);
      try {
        const result = await this.withTimeout(this.context.run(scope, fn), options, scope);
        scope.ended = "committed";
        await parent.handle.releaseSavepoint(name);
        return result;
      } catch (error) {
        scope.ended ??= "rolled back";
        if (!parent.ended) {
          await parent.handle.rollbackToSavepoint(name);
          await parent.handle.releaseSavepoint(name);
        }
        throw error;
      }
    } finally {
      release();
    }
  }

  private withTimeout<T>(work: Promise<T>, options: TransactionOptions, scope: TransactionScope): Promise<T> {
    const { timeoutMs } = options;
    if (timeoutMs === undefined) return work;
    // The callback may go on after the timeout; its later failure must not become an unhandled rejection.
    work.catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        scope.ended = "timed out and rolled back";
        reject(new TransactionError(`The transaction ran longer than its timeout of ${timeoutMs} ms and was rolled back`));
      }, timeoutMs);
      timer.unref();
    });
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
  }
}
