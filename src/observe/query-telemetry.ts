/**
 * OpenTelemetry spans for backend operations (`telemetry` in `StorageConfig`). `@opentelemetry/api` is an
 * optional peer dependency, loaded here with a dynamic import only when `telemetry` is on: importing
 * Strata, or opening a storage without it, never loads it.
 *
 * Opt-in, as the pg and Prisma instrumentations are (a library's spans are the application's choice, and
 * each costs a measured call): `telemetry: true` takes the tracer of the provider the application registered
 * globally (`trace.setGlobalTracerProvider`, or an SDK's `register()`), through the API's proxy, so a
 * provider registered after `createStorage` is used too; `telemetry: { tracerProvider }` names one.
 *
 * Each operation is a span of kind CLIENT named `<operation> <table>` (`sql` for `storage.sql`), with the
 * database semantic conventions' attributes: `db.system` (and its newer spelling `db.system.name`):
 * `"sqlite"`, `"postgresql"`, else the backend's name (`"memory"`, `"file"`, a registered backend's), the
 * conventions having no value for them; `db.operation.name` (the event's operation); `db.collection.name`
 * (the table); `db.query.text` on SQL backends (the statements run, `; `-separated; never the values);
 * `db.response.returned_rows` (the event's rows). A failure sets the span's status to ERROR, records the
 * exception and sets `error.type` (the error's `code`, else its class name).
 */
import { packageVersion } from "../cli/package-version.js";
import type { TelemetryConfig } from "../config/observe-config.js";
import { ConfigError } from "../errors.js";
import type { QueryEvent, QueryOperation } from "./query-event.js";

/** The members of an OpenTelemetry span Strata calls. */
interface SpanLike {
  setAttribute(key: string, value: string | number): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  recordException(exception: Error | string): unknown;
  end(): void;
}

interface TracerLike {
  startSpan(name: string, options: { kind: number; attributes: Record<string, string | number> }): SpanLike;
}

/** The spans of one storage's operations. */
export interface QueryTelemetry {
  /** A span started now, for `operation` on `table`. */
  start(operation: QueryOperation, table: string | undefined): SpanLike;
  /** Ends `span` with what the operation did. */
  end(span: SpanLike, event: QueryEvent): void;
}

/** The semantic conventions' `db.system` of the built-in SQL backends; every other backend goes by its name. */
const DB_SYSTEM: Readonly<Record<string, string>> = { sqlite: "sqlite", postgres: "postgresql" };

/**
 * What makes the telemetry of a storage once its backend is open (its name known), or undefined when
 * `option` leaves it off. A {@link ConfigError} naming `telemetry` when it is on and `@opentelemetry/api`
 * cannot be loaded: called before the backend opens, so that nothing is left open then.
 */
export async function loadTelemetry(option: TelemetryConfig | undefined): Promise<((backend: string) => QueryTelemetry) | undefined> {
  if (!option) return undefined;
  let api: typeof import("@opentelemetry/api");
  try {
    // A specifier in a variable would hide it from bundlers; this one is meant to be resolved when present.
    api = await import("@opentelemetry/api");
  } catch (error) {
    throw new ConfigError([
      `telemetry: needs the optional peer dependency @opentelemetry/api (npm install @opentelemetry/api), which could not be loaded: ${(error as Error)?.message ?? String(error)}`,
    ]);
  }
  const provider = typeof option === "object" && option.tracerProvider ? option.tracerProvider : api.trace.getTracerProvider();
  const tracer = provider.getTracer("stratastore", packageVersion()) as TracerLike | null | undefined;
  // Checked now: a provider handing out something else would otherwise fail every operation.
  if (typeof tracer?.startSpan !== "function") {
    throw new ConfigError(["telemetry.tracerProvider: its getTracer() returned no tracer (an object with startSpan); give an OpenTelemetry TracerProvider"]);
  }
  const kind = api.SpanKind.CLIENT;
  const errorCode = api.SpanStatusCode.ERROR;
  return (backend) => spans(tracer, DB_SYSTEM[backend] ?? backend, kind, errorCode);
}

function spans(tracer: TracerLike, system: string, kind: number, errorCode: number): QueryTelemetry {
  return {
    start(operation, table) {
      const attributes: Record<string, string | number> = { "db.system": system, "db.system.name": system, "db.operation.name": operation };
      if (table !== undefined) attributes["db.collection.name"] = table;
      return tracer.startSpan(table === undefined ? operation : `${operation} ${table}`, { kind, attributes });
    },
    end(span, event) {
      if (event.sql !== undefined) span.setAttribute("db.query.text", event.statements ? event.statements.map((s) => s.sql).join("; ") : event.sql);
      span.setAttribute("db.response.returned_rows", event.rows);
      if (event.error !== undefined) {
        const error = event.error;
        const code = (error as { code?: unknown } | null)?.code;
        span.setAttribute("error.type", typeof code === "string" ? code : ((error as Error | null)?.constructor?.name ?? "Error"));
        span.recordException(error instanceof Error ? error : String(error));
        span.setStatus({ code: errorCode, message: error instanceof Error ? error.message : String(error) });
      }
      span.end();
    },
  };
}
