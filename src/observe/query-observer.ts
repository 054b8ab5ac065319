/**
 * One storage's observation of its backend operations: the `storage.on("query")` listeners, `logQueries` and
 * `telemetry` (README, "Observing queries"). Whether anything observes is decided when that changes (a
 * listener added or removed), into {@link QueryObserver.active}: the repository reads that one field per
 * call and, while it is false, calls the backend's own session as before, so nothing is measured or
 * allocated. While it is true, the repository calls an {@link ObservedSession} over the same session, the
 * one place where an operation is timed, traced (operation-trace.ts) and reported.
 */
import type { InspectOptions } from "node:util";
import { inspect } from "node:util";
import type { DataSession } from "../spi/index.js";
import type { LogQueriesConfig } from "../config/observe-config.js";
import type { Logger } from "../logger.js";
import { logSafely } from "../util/safe-log.js";
import type { OperationTrace } from "./operation-trace.js";
import { startTracing, stopTracing, traceOperation } from "./operation-trace.js";
import type { QueryEvent, QueryListener, QueryOperation } from "./query-event.js";
import type { QueryTelemetry } from "./query-telemetry.js";
import type { OperationMeasurer } from "./observed-session.js";
import { ObservedSession } from "./observed-session.js";

export class QueryObserver implements OperationMeasurer {
  /** True while a listener, `logQueries` or `telemetry` wants operations measured. */
  active = false;
  /** Replaced, never changed, on add and remove: an emit in progress keeps the list it started with. */
  private listeners: readonly QueryListener[] = [];
  /** Listeners that threw once: logged then, not again. */
  private readonly threw = new WeakSet<QueryListener>();
  /** The observed view of each session asked about: the autocommit one, and each transaction scope's while it lives. */
  private readonly observed = new WeakMap<DataSession, DataSession>();
  /** `logQueries` resolved: off, every operation at debug level, or those of at least `slowMs` ms at warn level. */
  private readonly log: { readonly slowMs: number } | "all" | undefined;
  private closed = false;
  /** A span failed to start or end once: logged then, not at each later operation. */
  private telemetryFailed = false;

  constructor(
    private readonly backend: string,
    private readonly logger: Logger,
    logQueries: LogQueriesConfig | undefined,
    private readonly telemetry: QueryTelemetry | undefined,
  ) {
    this.log = logQueries === true || (typeof logQueries === "object" && logQueries.slowMs === undefined) ? "all" : logQueries ? { slowMs: logQueries.slowMs! } : undefined;
    this.decide();
  }

  /** Adds `listener` (once, however often given; `storage.on` has checked it); returns the function that removes it. */
  add(listener: QueryListener): () => void {
    if (!this.listeners.includes(listener)) this.listeners = [...this.listeners, listener];
    this.decide();
    return () => this.remove(listener);
  }

  remove(listener: QueryListener): void {
    if (!this.listeners.includes(listener)) return;
    this.listeners = this.listeners.filter((l) => l !== listener);
    this.decide();
  }

  /** The storage closed: operations are no longer traced for it (the process-wide trace counter goes down). */
  close(): void {
    this.closed = true;
    this.decide();
  }

  private decide(): void {
    const active = !this.closed && (this.listeners.length > 0 || this.log !== undefined || this.telemetry !== undefined);
    if (active === this.active) return;
    this.active = active;
    if (active) startTracing();
    else stopTracing();
  }

  /**
   * `session` with each operation measured and reported; made once per session and kept while it lives. A
   * session is the autocommit one or a transaction scope's, never both: `inTransaction` is the same at each call.
   */
  observe(session: DataSession, inTransaction: boolean): DataSession {
    let view = this.observed.get(session);
    if (!view) this.observed.set(session, (view = new ObservedSession(session, this, inTransaction)));
    return view;
  }

  /**
   * Runs `call` (one operation of `table`) and reports it: timed, its statements and plans traced, one span
   * when telemetry is on. `rowsOf` turns the result into the event's row count, or undefined for a result
   * not to report (the end of a stream). `carried`: what was traced before the call that belongs to it.
   */
  async measure<R>(
    operation: QueryOperation,
    table: string | undefined,
    inTransaction: boolean,
    rowsOf: (result: R) => number | undefined,
    call: () => Promise<R>,
    carried?: OperationTrace,
  ): Promise<R> {
    const trace: OperationTrace = carried ?? { statements: [], plans: [] };
    const span = this.telemetry && this.startSpan(operation, table);
    const started = performance.now();
    let result: R;
    try {
      result = await traceOperation(trace, call);
    } catch (error) {
      this.report(this.event(operation, table, inTransaction, trace, performance.now() - started, 0, error), span);
      throw error;
    }
    const rows = rowsOf(result);
    if (rows !== undefined || span) this.report(this.event(operation, table, inTransaction, trace, performance.now() - started, rows ?? 0, undefined), span, rows === undefined);
    return result;
  }

  private event(
    operation: QueryOperation,
    table: string | undefined,
    inTransaction: boolean,
    trace: OperationTrace,
    durationMs: number,
    rows: number,
    error: unknown,
  ): QueryEvent {
    const first = trace.statements[0];
    return {
      backend: this.backend,
      table,
      operation,
      ...(first ? { sql: first.sql, params: first.params } : {}),
      ...(trace.statements.length > 1 ? { statements: trace.statements } : {}),
      ...(trace.plans.length > 0 ? { plan: trace.plans.join(", ") } : {}),
      durationMs,
      rows,
      inTransaction,
      ...(error !== undefined ? { error } : {}),
    };
  }

  /** The operation's span, or undefined when the tracer throws: telemetry never fails an operation. */
  private startSpan(operation: QueryOperation, table: string | undefined): ReturnType<QueryTelemetry["start"]> | undefined {
    try {
      return this.telemetry!.start(operation, table);
    } catch (error) {
      this.spanFailed("Starting", operation, error);
      return undefined;
    }
  }

  private spanFailed(what: "Starting" | "Ending", operation: QueryOperation, error: unknown): void {
    if (this.telemetryFailed) return;
    this.telemetryFailed = true;
    logSafely(this.logger, "error", `${what} the OpenTelemetry span of a ${operation} failed (the operation went on; later span failures are not logged): ${(error as Error)?.message ?? String(error)}`);
  }

  /**
   * Hands `event` to the span, the log and each listener; `spanOnly` for a span's end that listeners do not hear of.
   * The logger is written through logSafely (it may throw too): reporting must not change the operation's
   * outcome (a save that committed and then rejected would be retried, and written twice).
   */
  private report(event: QueryEvent, span: ReturnType<QueryTelemetry["start"]> | undefined, spanOnly = false): void {
    if (span) {
      try {
        this.telemetry!.end(span, event);
      } catch (error) {
        this.spanFailed("Ending", event.operation, error);
      }
    }
    if (spanOnly) return;
    const log = this.log;
    if (log === "all") logSafely(this.logger, "debug", formatQueryEvent(event));
    else if (log !== undefined && event.durationMs >= log.slowMs) logSafely(this.logger, "warn", `slow query (${log.slowMs} ms or more): ${formatQueryEvent(event)}`);
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        if (this.threw.has(listener)) continue;
        this.threw.add(listener);
        logSafely(this.logger, "error", `A "query" listener threw (the operation went on; this listener's later throws are not logged): ${(error as Error)?.message ?? String(error)}`, error);
      }
    }
  }
}

/** Values shown per parameter list in a log line: a `saveMany` batch binds thousands. */
const LOGGED_PARAMS = 50;
/** Characters shown of a statement's text in a log line: a `saveMany` batch's VALUES list runs to tens of thousands. */
const LOGGED_SQL_CHARS = 1000;
/** How values are shown; `compact: true` keeps them on the line (otherwise inspect sets more than six out in columns, over lines). */
const LOGGED_VALUES: InspectOptions = { compact: true, breakLength: Infinity, maxArrayLength: LOGGED_PARAMS, maxStringLength: 200, depth: 2 };

/**
 * One line per operation: `sqlite find "tasks": 3 rows in 0.41 ms | SELECT ... | params ["a", 2]`, the plan
 * instead of the SQL on memory and file, `FAILED (<message>)` for a failure.
 */
export function formatQueryEvent(e: QueryEvent): string {
  const where = e.table === undefined ? "" : ` "${e.table}"`;
  const outcome = e.error !== undefined ? `FAILED (${(e.error as Error)?.message ?? String(e.error)})` : `${e.rows} row${e.rows === 1 ? "" : "s"}`;
  let line = `${e.backend} ${e.operation}${where}${e.inTransaction ? " (in transaction)" : ""}: ${outcome} in ${e.durationMs.toFixed(2)} ms`;
  if (e.plan !== undefined) line += ` | plan: ${e.plan}`;
  for (const statement of e.statements ?? (e.sql !== undefined ? [{ sql: e.sql, params: e.params ?? [] }] : [])) {
    const { sql } = statement;
    line += ` | ${sql.length > LOGGED_SQL_CHARS ? `${sql.slice(0, LOGGED_SQL_CHARS)}… (${sql.length - LOGGED_SQL_CHARS} more characters)` : sql}`;
    if (statement.params.length > 0) line += ` | params ${inspect(statement.params, LOGGED_VALUES)}`;
  }
  return line;
}
