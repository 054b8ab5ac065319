/**
 * A {@link DataSession} that forwards each call to another one, through one function that may wait,
 * check or translate first: the transaction manager waits for an open savepoint, the file backend waits
 * for a flush in progress. One place instead of a ten-method wrapper in each. The methods live on one
 * prototype, so making a forwarding session (once per transaction scope) allocates one small object, not
 * ten closures. The optional `stream` is forwarded too: to a target without it, it answers `undefined`
 * (walk by keyset), as a backend without it would.
 */
import type { DataSession } from "./data-session.js";

/** Runs one forwarded call; it may wait or throw before calling, or map what the call returns. */
export type AroundCall = <R>(call: () => Promise<R>) => Promise<R>;

/** The reads of a {@link DataSession}, the optional `stream` and `search` among them. */
export const READ_METHODS = ["findById", "findByIds", "find", "count", "stream", "search"] as const satisfies readonly (keyof DataSession)[];
/** The writes of a {@link DataSession}. */
export const WRITE_METHODS = [
  "insert",
  "upsert",
  "upsertMany",
  "update",
  "delete",
  "deleteMany",
  "sql",
] as const satisfies readonly (keyof DataSession)[];
const ALL_METHODS: readonly (keyof DataSession)[] = [...READ_METHODS, ...WRITE_METHODS];

/**
 * `target()[method](...args)`, with what `target` throws handed back as a rejected promise; `undefined`
 * for a method the target lacks (only `stream`, `search` and `sql` are optional: the repository asks the
 * backend's own session whether it searches, never a forwarding one).
 */
function forward(target: () => DataSession, method: keyof DataSession, args: unknown[]): Promise<unknown> {
  try {
    const session = target();
    const call = session[method] as ((...a: unknown[]) => Promise<unknown>) | undefined;
    return call ? call.apply(session, args) : Promise.resolve(undefined);
  } catch (error) {
    return Promise.reject(error);
  }
}

class ForwardingSession {
  constructor(
    readonly target: () => DataSession,
    readonly around: AroundCall,
    readonly wrapped: ReadonlySet<keyof DataSession>,
  ) {}
}
for (const method of ALL_METHODS) {
  Object.defineProperty(ForwardingSession.prototype, method, {
    value(this: ForwardingSession, ...args: unknown[]): Promise<unknown> {
      if (!this.wrapped.has(method)) return forward(this.target, method, args);
      return this.around(() => forward(this.target, method, args));
    },
  });
}

const ALL = new Set(ALL_METHODS);

/**
 * A session whose methods in `methods` (default: all of them) call `target()`'s through `around`; the
 * others call `target()`'s directly. `target` is read at each call, so it may throw (an ended
 * transaction) or change; what it throws comes back as a rejected promise, as from an async method.
 * @example forwardSession(() => handle, (call) => (mutex.isLocked ? mutex.run(call) : call()))
 */
export function forwardSession(
  target: () => DataSession,
  around: AroundCall,
  methods: readonly (keyof DataSession)[] = ALL_METHODS,
): DataSession {
  const wrapped = methods === ALL_METHODS ? ALL : new Set(methods);
  return new ForwardingSession(target, around, wrapped) as unknown as DataSession;
}
