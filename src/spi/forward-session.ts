/**
 * A {@link DataSession} that forwards each call to another one, through one function that may wait,
 * check or translate first: the transaction manager waits for an open savepoint, the file backend waits
 * for a flush in progress. One place instead of a ten-method wrapper in each. It makes ten closures per
 * call: where a wrapper is made per transaction and needs nothing but a check, a class with the ten
 * methods on its prototype costs less (the SQL transaction, sql-transaction.ts).
 */
import type { DataSession } from "./data-session.js";

/** Runs one forwarded call; it may wait or throw before calling, or map what the call returns. */
export type AroundCall = <R>(call: () => Promise<R>) => Promise<R>;

/** The reads of a {@link DataSession}. */
export const READ_METHODS = ["findById", "findByIds", "find", "count"] as const satisfies readonly (keyof DataSession)[];
/** The writes of a {@link DataSession}. */
export const WRITE_METHODS = [
  "insert",
  "upsert",
  "upsertMany",
  "update",
  "delete",
  "deleteMany",
] as const satisfies readonly (keyof DataSession)[];
const ALL_METHODS = [...READ_METHODS, ...WRITE_METHODS];

/**
 * A session whose methods in `methods` (default: all ten) call `target()`'s through `around`; the
 * others call `target()`'s directly. `target` is read at each call, so it may throw (an ended
 * transaction) or change; what it throws comes back as a rejected promise, as from an async method.
 * @example forwardSession(() => this.open(), (call) => call())
 */
export function forwardSession(
  target: () => DataSession,
  around: AroundCall,
  methods: readonly (keyof DataSession)[] = ALL_METHODS,
): DataSession {
  const session: Record<string, unknown> = {};
  for (const method of ALL_METHODS) {
    const forward = (...args: unknown[]): Promise<unknown> => {
      try {
        return (target()[method] as (...a: unknown[]) => Promise<unknown>)(...args);
      } catch (error) {
        return Promise.reject(error);
      }
    };
    session[method] = methods.includes(method) ? (...args: unknown[]) => around(() => forward(...args)) : forward;
  }
  return session as unknown as DataSession;
}
