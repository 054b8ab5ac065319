/**
 * What a backend operation did inside, told to whoever measures it: the SQL statements a SQL backend ran
 * (text and bound values) and the plans the in-memory engine chose. The measuring side (the observed
 * session, observed-session.ts) runs an operation through {@link traceOperation}; the SQL runners and the
 * engine's planner call {@link noteStatement} and {@link notePlan} where they act.
 *
 * Why an AsyncLocalStorage and not a value passed down: the statements run below the `DataSession` SPI, past
 * write gates, mutexes and pools, and concurrent operations interleave on them; the async context keeps each
 * statement with the operation that ran it without a parameter threaded through every layer. Its cost (Node's
 * promise hooks) is paid only while some storage observes: until then {@link noteStatement} and
 * {@link notePlan} are a test of one counter, and no context is ever entered.
 */
import { AsyncLocalStorage } from "node:async_hooks";

/** One statement a SQL backend ran: its text and the values bound to it (never spliced into the text). */
export interface TracedStatement {
  readonly sql: string;
  readonly params: readonly unknown[];
}

/** What one operation noted while it ran. */
export interface OperationTrace {
  /** The statements, in the order they ran. */
  readonly statements: TracedStatement[];
  /** The engine's plans for the operation's searches, each once, in the order chosen. */
  readonly plans: string[];
}

const context = new AsyncLocalStorage<OperationTrace>();

/** How many observers are on (see {@link startTracing}): while 0, notes return at once. */
let tracing = 0;

/** An observer turned on: from now on, statements and plans noted inside a traced operation are kept. */
export function startTracing(): void {
  tracing++;
}

/** An observer turned off (one call per {@link startTracing}). */
export function stopTracing(): void {
  if (tracing > 0) tracing--;
}

/** Runs `call` so that what it notes (until its promise settles) lands in `trace`. */
export function traceOperation<R>(trace: OperationTrace, call: () => Promise<R>): Promise<R> {
  return context.run(trace, call);
}

/** A SQL runner ran `sql` with `params` bound: kept by the operation being traced, if any. */
export function noteStatement(sql: string, params: readonly unknown[]): void {
  if (tracing === 0) return;
  context.getStore()?.statements.push({ sql, params });
}

/**
 * The engine chose a plan for a search: `"index"` (with the index's name as `name`), `"primary key"` or
 * `"scan"`. Kept as one string (`"index idx_tasks_status"`) only when an operation is traced: the hot path
 * allocates nothing.
 */
export function notePlan(kind: "index" | "primary key" | "scan", name?: string): void {
  if (tracing === 0) return;
  const trace = context.getStore();
  if (!trace) return;
  const plan = name === undefined ? kind : `${kind} ${name}`;
  if (!trace.plans.includes(plan)) trace.plans.push(plan);
}
