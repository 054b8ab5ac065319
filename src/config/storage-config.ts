import * as path from "node:path";
import { z } from "zod";
import { ConfigError } from "../errors.js";
import type { Logger } from "../logger.js";
import { quietLogger } from "../logger.js";
import { describeValue } from "../schema/row-values.js";
import type { Migration } from "../migrations/migration.js";
import type { Backend, BackendFactory } from "../spi/backend.js";
import type { LogQueriesConfig, TelemetryConfig, TelemetryTracerProvider } from "./observe-config.js";
import type { CacheConfig } from "./cache-config.js";
import type { ResolvedConfig } from "./resolved-config.js";

export type { CacheConfig } from "./cache-config.js";
export type { ResolvedConfig } from "./resolved-config.js";

/** The time between scheduled backups when `backup.intervalMs` is not given: hourly. */
export const DEFAULT_BACKUP_INTERVAL_MS = 60 * 60 * 1000;

/** The embedded default: a SQLite file under `./data`. */
export const DEFAULT_URL = "sqlite:./data/strata.db";

/** Options accepted by `createStorage` (README, "Backends" and "Cache"). */
export interface StorageConfig {
  /** `memory:`, `file:./data`, `sqlite:./data/app.db`, `sqlite::memory:`, `postgres://user:pass@host:5432/db`. */
  url?: string;
  /**
   * The backend, given one of three ways:
   * - a name: a built-in backend or one added with `registerBackend`. Overrides the URL's scheme.
   * - a {@link BackendFactory}: a function of the `BackendContext` that opens a backend, as a
   *   third-party package returns it from a function of its own typed options. `createStorage` calls it
   *   once, and waits for it up to `timeoutMs`; `url` and `path`, when given, are passed to it as given.
   * - an open {@link Backend}: used as it is. It was opened without this storage's configuration, so
   *   `autoCreate` does not reach it: its tables exist already or come from migrations. The storage owns
   *   it from then on and closes it in `close()`; giving the same instance to a second storage is a `ConfigError`.
   *
   * A function other than a class is taken as a factory; an object must have `name`, `capabilities`, `session` (with the ten
   * `DataSession` methods), `begin`, `backup` and `close`, or `createStorage` throws a `ConfigError` naming `backend`.
   * @example
   * // A third-party backend with its own typed options:
   * const storage = await createStorage({ backend: myStore({ region: "eu" }), entities: [Task] });
   * @example
   * // A backend by name, with the location in `path`:
   * const storage = await createStorage({ backend: "sqlite", path: "./data/app.db", entities: [Task] });
   */
  backend?: "memory" | "file" | "sqlite" | "postgres" | (string & {}) | BackendFactory | Backend;
  /** Directory (file backend) or database file (sqlite). */
  path?: string;
  /** Entity classes this storage serves. */
  entities?: Function[];
  /** A folder of migration files, or the migrations themselves. */
  migrations?: string | Migration[];
  /** Create missing tables from the entities on connect. @default true for memory, false otherwise */
  autoCreate?: boolean;
  /** Connections in the pool (postgres). @default 10 */
  poolSize?: number;
  /** How long to wait to connect, for a lock, or for a busy database, in ms (at most 2^31-1, a Node timer's range). @default 5000 */
  timeoutMs?: number;
  /**
   * Automatic backups (README, "Backups"): generations kept in `dir`, the newest `keep` of them, each written
   * atomically and verified. SQLite, file and memory make one every `intervalMs` and before every migration
   * run that applies or reverts something (the file backend also before each compaction; memory also on
   * `close()`). On PostgreSQL `enabled: true` is a `ConfigError`: use `pg_dump`/`pg_basebackup` and
   * continuous archiving there. A backend of your own gets the option in its `BackendContext.config`.
   * @example backup: { enabled: true, keep: 5, intervalMs: 15 * 60_000 }
   */
  backup?: {
    /** Turns automatic backups on. */
    enabled: boolean;
    /** How many generations to keep; older ones are removed, oldest first. @default 3 */
    keep?: number;
    /**
     * Where the generations go. @default `<database>.backups` beside a SQLite database, `backups` inside a
     * file-backend directory; required for memory, which has no path of its own
     */
    dir?: string;
    /** Time between scheduled backups, in ms (at most 2^31-1). @default 3600000 (hourly) */
    intervalMs?: number;
  };
  /**
   * The entity and query cache (README, "Cache"). `false` turns it off. When omitted, an L1 of 10,000
   * entries (64 MB) is on for backends only this process can write (memory, file) and off for the shared
   * ones (sqlite, postgres), where another process's writes would not reach it; give `cache` to turn it on
   * there (with a Redis L2, every process on that Redis hears of every write). See `CacheConfig`.
   */
  cache?: false | CacheConfig;
  sqlite?: { journalMode?: "wal" | "delete"; synchronous?: "normal" | "full"; busyTimeoutMs?: number };
  file?: { fsync?: "always" | "never"; compactAfterBytes?: number };
  /**
   * PostgreSQL past one server (README, "PostgreSQL behind PgBouncer" and "Read replicas"). Only the
   * `postgres` backend reads it; given with memory, file or sqlite it is a `ConfigError`.
   * @example postgres: { replicas: ["postgres://app@replica1/app"], pooler: "pgbouncer", directUrl: "postgres://app@primary:5432/app" }
   */
  postgres?: PostgresConfig;
  logger?: Logger;
  /**
   * Writes each backend operation (README, "Observing queries") to `logger`: `true` every one, at debug
   * level; `{ slowMs }` only those that took at least `slowMs` ms, at warn level. Lines hold the SQL and its
   * parameter values, which are your data: mind secrets before shipping such logs.
   * @default false
   * @example createStorage({ url, entities, logger: console, logQueries: { slowMs: 100 } })
   */
  logQueries?: LogQueriesConfig;
  /**
   * An OpenTelemetry span per backend operation, with the database semantic conventions' attributes
   * (README, "Observing queries"). Needs the optional peer dependency `@opentelemetry/api`, loaded only
   * then. `true` uses the globally registered tracer provider; `{ tracerProvider }` a given one.
   * @default false
   */
  telemetry?: TelemetryConfig;
}

/**
 * The `postgres` option: read replicas, and a connection pooler in front of the primary (`url`).
 */
export interface PostgresConfig {
  /**
   * Read replicas (`postgres://` URLs) of the primary at `url`: reads outside a transaction go to a healthy one.
   * @default []
   */
  replicas?: string[];
  /**
   * How long a read after this process's commit waits for a replica to have replayed that commit before it
   * is sent to the primary instead, in ms (0: never wait, use a replica only when it has caught up already).
   * @default 1000
   */
  maxReplicaLagMs?: number;
  /**
   * `"pgbouncer"`: `url` goes through PgBouncer in transaction-pooling mode, so the backend keeps no state
   * in the session: no named prepared statements, no startup `options`, `SET LOCAL` inside transactions
   * only, and the migration lock (a session advisory lock) and migrations on `directUrl`.
   */
  pooler?: "pgbouncer";
  /**
   * The primary itself, not through a pooler (`postgres://`): migrations and the migration lock use it.
   * Without a pooler it is optional and used the same way when given; with `pooler: "pgbouncer"` running
   * migrations without it is a `ConfigError`.
   * @default url
   */
  directUrl?: string;
}

/** How long a read waits for a replica to replay this process's last commit when `maxReplicaLagMs` is not given. */
export const DEFAULT_MAX_REPLICA_LAG_MS = 1000;

const positiveInt = (what = "a positive integer") => z.number({ error: `expected ${what}` }).int({ error: `expected ${what}` }).positive({ error: `expected ${what}` });
const nonNegativeInt = () => z.number({ error: "expected a non-negative integer" }).int({ error: "expected a non-negative integer" }).min(0, { error: "expected a non-negative integer" });
/** The longest delay a Node timer keeps: a longer one is silently cut to 1 ms (a heartbeat would then fire nonstop). */
const MAX_TIMER_MS = 2 ** 31 - 1;
const timerMs = () => positiveInt(`a positive integer of ms, at most ${MAX_TIMER_MS}`).max(MAX_TIMER_MS, { error: `expected a positive integer of ms, at most ${MAX_TIMER_MS}` });
const text = () => z.string({ error: "expected a string" }).min(1, { error: "expected a non-empty string" });
const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `expected one of ${values.map((v) => JSON.stringify(v)).join(", ")}` });

/** A `postgres://` or `postgresql://` URL with a host (a replica's or the direct one). */
const postgresUrl = () =>
  z.string({ error: "expected a postgres:// URL" }).refine((v) => /^postgres(ql)?:\/\/./i.test(v) && URL.canParse(v), {
    error: 'expected a postgres:// URL such as "postgres://user@host:5432/db"',
  });

const postgresSchema = z.strictObject(
  {
    replicas: z.array(postgresUrl(), { error: "expected an array of postgres:// URLs" }).optional(),
    maxReplicaLagMs: nonNegativeInt().max(MAX_TIMER_MS, { error: `expected a non-negative integer of ms, at most ${MAX_TIMER_MS}` }).optional(),
    pooler: oneOf(["pgbouncer"]).optional(),
    directUrl: postgresUrl().optional(),
  },
  { error: "expected an object with replicas, maxReplicaLagMs, pooler and/or directUrl" },
);

const loggerSchema = z.custom<Logger>(
  (v) => typeof v === "object" && v !== null && ["debug", "info", "warn", "error"].every((k) => typeof (v as Record<string, unknown>)[k] === "function"),
  { error: "expected an object with debug, info, warn and error functions" },
);

/** The members `createStorage` needs of a backend given as an object (every required member of `Backend`). */
const BACKEND_MEMBERS = [
  ["name", "string"],
  ["capabilities", "object"],
  ["session", "object"],
  ["begin", "function"],
  ["backup", "function"],
  ["close", "function"],
] as const;

/** The methods of a `DataSession`, checked on `session` so that a half session fails here, not at its first call. */
const SESSION_METHODS = ["findById", "findByIds", "find", "count", "insert", "upsert", "upsertMany", "update", "delete", "deleteMany"] as const;

/** The members a backend given as an object lacks (or has of the wrong type), by name (`session.find` for its session's). */
function missingBackendMembers(value: object): string[] {
  const record = value as Record<string, unknown>;
  const missing: string[] = BACKEND_MEMBERS.filter(([key, type]) => typeof record[key] !== type || record[key] === null).map(([key]) => key);
  const session = record["session"];
  if (typeof session === "object" && session !== null) {
    for (const method of SESSION_METHODS) if (typeof (session as Record<string, unknown>)[method] !== "function") missing.push(`session.${method}`);
  }
  return missing;
}

/** Why `value` cannot serve as a {@link Backend}, or undefined when it has every member `createStorage` needs. */
export function backendShapeProblem(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return `expected a Backend object, got ${describeValue(value)}`;
  const missing = missingBackendMembers(value);
  return missing.length === 0
    ? undefined
    : `expected a Backend (an object with name, capabilities, session, begin, backup and close); missing or mistyped: ${missing.join(", ")}`;
}

/** True for a class: calling it as a factory would throw "cannot be invoked without 'new'". */
function isClass(value: unknown): boolean {
  return typeof value === "function" && /^class[\s{]/.test(Function.prototype.toString.call(value));
}

/** A backend name, a factory (any function but a class) or an object shaped like a {@link Backend}. */
const backendSchema = z.custom<string | BackendFactory | Backend>(
  (v) =>
    (typeof v === "string" && v.length > 0) ||
    (typeof v === "function" && !isClass(v)) ||
    (typeof v === "object" && v !== null && backendShapeProblem(v) === undefined),
  {
    error: (issue) => {
      const v = issue.input;
      if (typeof v === "string") return "expected a non-empty string";
      if (isClass(v)) return `expected a BackendFactory or an open Backend, not the class ${(v as Function).name || "(anonymous)"} itself: give an instance, or a function of the context that opens one`;
      if (typeof v === "object" && v !== null) return backendShapeProblem(v);
      return "expected a backend name, a BackendFactory function or a Backend object";
    },
  },
);

const configSchema = z.strictObject(
  {
    url: text().optional(),
    backend: backendSchema.optional(),
    path: text().optional(),
    entities: z
      .array(z.custom<Function>((v) => typeof v === "function", { error: "expected an entity class" }), { error: "expected an array of entity classes" })
      .optional(),
    migrations: z
      .union([text(), z.array(z.custom<Migration>((v) => typeof v === "object" && v !== null, { error: "expected a migration from defineMigration()" }))], {
        error: "expected a folder path or an array of migrations",
      })
      .optional(),
    autoCreate: z.boolean({ error: "expected true or false" }).optional(),
    poolSize: positiveInt().optional(),
    // Every wait it bounds is a Node timer, which fires at once past MAX_TIMER_MS.
    timeoutMs: nonNegativeInt().max(MAX_TIMER_MS, { error: `expected a non-negative integer of ms, at most ${MAX_TIMER_MS}` }).optional(),
    backup: z
      .strictObject(
        { enabled: z.boolean({ error: "expected true or false" }), keep: positiveInt().optional(), dir: text().optional(), intervalMs: timerMs().optional() },
        { error: "expected an object" },
      )
      .optional(),
    // Validated on its own (cacheSchema) so that a bad field inside is reported by its path, not as "not false".
    cache: z.unknown().optional(),
    sqlite: z
      .strictObject({ journalMode: oneOf(["wal", "delete"]).optional(), synchronous: oneOf(["normal", "full"]).optional(), busyTimeoutMs: nonNegativeInt().optional() }, { error: "expected an object" })
      .optional(),
    file: z
      .strictObject({ fsync: oneOf(["always", "never"]).optional(), compactAfterBytes: positiveInt().optional() }, { error: "expected an object" })
      .optional(),
    postgres: postgresSchema.optional(),
    logger: loggerSchema.optional(),
    // Each validated on its own (flagOrObjectIssues), so that a bad field inside is reported by its path.
    logQueries: z.unknown().optional(),
    telemetry: z.unknown().optional(),
  },
  { error: "expected a configuration object or a URL string" },
);

const cacheSchema = z.strictObject(
  {
    l1: z
      .union([z.literal(false), z.strictObject({ max: positiveInt().optional(), maxSizeBytes: positiveInt().optional(), ttlMs: positiveInt().optional() })], {
        error: "expected false or an object",
      })
      .optional(),
    l2: z
      .discriminatedUnion(
        "type",
        [
          z.strictObject({ type: z.literal("file"), dir: text(), ttlMs: positiveInt().optional(), maxSizeBytes: positiveInt().optional() }),
          z.strictObject({ type: z.literal("redis"), url: text(), ttlMs: positiveInt().optional(), prefix: text().optional(), heartbeatMs: timerMs().optional() }),
        ],
        { error: 'expected { type: "file", dir } or { type: "redis", url }' },
      )
      .optional(),
    clock: z.custom<{ now(): number }>((v) => typeof (v as { now?: unknown } | null)?.now === "function", { error: "expected an object with a now() method" }).optional(),
  },
  { error: "expected false or an object with l1 and/or l2" },
);

const logQueriesSchema = z.strictObject({
  slowMs: z.number({ error: "expected a number of ms, 0 or more" }).min(0, { error: "expected a number of ms, 0 or more" }).refine(Number.isFinite, { error: "expected a finite number of ms" }).optional(),
});

const telemetrySchema = z.strictObject({
  tracerProvider: z
    .custom<TelemetryTracerProvider>((v) => typeof (v as { getTracer?: unknown } | null)?.getTracer === "function", {
      error: "expected an OpenTelemetry TracerProvider (an object with getTracer)",
    })
    .optional(),
});

/**
 * The problems of an option that is a boolean or an object (`logQueries`, `telemetry`): none for a boolean or
 * undefined, the object's own by their paths, else one saying what is expected.
 */
function flagOrObjectIssues(key: string, value: unknown, schema: z.ZodType, expected: string): z.core.$ZodIssue[] {
  if (value === undefined || typeof value === "boolean") return [];
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return [{ code: "custom", path: [key], message: expected, input: value } as z.core.$ZodIssue];
  }
  const parsed = schema.safeParse(value, { reportInput: true });
  return parsed.success ? [] : parsed.error.issues.map((i) => ({ ...i, path: [key, ...i.path] }) as z.core.$ZodIssue);
}

/** The name a backend given as a factory or an instance goes by before it is open. */
function labelOf(given: BackendFactory | Backend, scheme: string | undefined): string {
  return typeof given === "function" ? (scheme ?? "custom") : given.name;
}

/** Splits a URL into backend name and the rest. */
export function parseUrl(url: string): { backend: string; path?: string } | undefined {
  if (/^postgres(ql)?:\/\//i.test(url)) return { backend: "postgres" };
  const match = /^([a-z][a-z0-9+.-]*):(.*)$/i.exec(url);
  if (!match) return undefined;
  const backend = match[1]!.toLowerCase();
  const rest = match[2]!;
  return rest === "" ? { backend } : { backend, path: rest };
}

function formatIssue(issue: z.core.$ZodIssue): string {
  const where = issue.path.length ? issue.path.map(String).join(".") : "(config)";
  if (issue.code === "unrecognized_keys") return issue.keys.map((k) => `${where === "(config)" ? "" : `${where}.`}${k}: unknown option`).join("\n");
  const got = "input" in issue ? `, got ${describeValue(issue.input)}` : "";
  return `${where}: ${issue.message}${got}`;
}

/** {@link resolveConfig}'s result: the configuration, and the backend when it was given as code. */
export interface ResolvedStorageConfig extends ResolvedConfig {
  /** The backend given as a factory or an open instance (the `backend` option), used instead of the registry. */
  readonly backendSource?: BackendFactory | Backend;
}

/**
 * Validates `input` and applies defaults. Throws one {@link ConfigError} listing every problem.
 * `isKnownBackend` tells whether a backend name is built in or registered.
 */
export function resolveConfig(input: unknown, isKnownBackend: (name: string) => boolean): ResolvedStorageConfig {
  const raw = input === undefined ? { url: process.env["STRATA_URL"] || DEFAULT_URL } : typeof input === "string" ? { url: input } : input;
  const parsed = configSchema.safeParse(raw, { reportInput: true });
  const rawCache = (raw as { cache?: unknown } | null)?.cache;
  const cache = rawCache === undefined || rawCache === false ? undefined : cacheSchema.safeParse(rawCache, { reportInput: true });
  const rawLog = (raw as { logQueries?: unknown } | null)?.logQueries;
  const rawTelemetry = (raw as { telemetry?: unknown } | null)?.telemetry;
  const issues = [
    ...(parsed.success ? [] : parsed.error.issues),
    ...(cache && !cache.success ? cache.error.issues.map((i) => ({ ...i, path: ["cache", ...i.path] })) : []),
    ...flagOrObjectIssues("logQueries", rawLog, logQueriesSchema, "expected true, false or { slowMs }"),
    ...flagOrObjectIssues("telemetry", rawTelemetry, telemetrySchema, "expected true, false or { tracerProvider }"),
  ];
  if (!parsed.success || issues.length > 0) throw new ConfigError(issues.flatMap((i) => formatIssue(i as z.core.$ZodIssue).split("\n")));
  const config = {
    ...parsed.data,
    cache: rawCache === false ? (false as const) : cache?.data,
    logQueries: rawLog as LogQueriesConfig | undefined,
    telemetry: rawTelemetry as TelemetryConfig | undefined,
  };
  const problems: string[] = [];
  const url = config.url ?? (config.backend ? undefined : process.env["STRATA_URL"] || DEFAULT_URL);
  const fromUrl = url ? parseUrl(url) : undefined;
  if (url && !fromUrl) problems.push(`url: expected a URL such as "sqlite:./data/app.db", got the string ${JSON.stringify(url)}`);
  // A factory or an instance brings its own code: the registry is not asked, and the name is only a label.
  const given = typeof config.backend === "string" ? undefined : config.backend;
  const backend = typeof config.backend === "string" ? config.backend : given ? labelOf(given, fromUrl?.backend) : fromUrl?.backend;
  if (!given && backend && !isKnownBackend(backend)) {
    problems.push(`${config.backend ? "backend" : "url"}: unknown backend "${backend}" (built in: memory, file, sqlite, postgres; others need registerBackend)`);
  }
  const location = config.path ?? fromUrl?.path;
  if (!given && (backend === "file" || backend === "sqlite") && !location) {
    problems.push(`path: the ${backend} backend needs a path, e.g. "${backend === "file" ? "file:./data" : "sqlite:./data/app.db"}"`);
  }
  if (config.backup?.enabled && (backend === "postgres" || backend === "postgresql")) {
    // Accepting it and doing nothing would leave a user believing they have backups.
    problems.push(
      "backup.enabled: Strata does not back up PostgreSQL; use pg_dump (logical) or pg_basebackup with continuous archiving (WAL, point-in-time recovery), and remove backup from this config",
    );
  }
  if (config.backup?.enabled && backend === "memory" && !config.backup.dir) {
    problems.push('backup.dir: the memory backend has no path of its own; give the directory for its backups, e.g. backup: { enabled: true, dir: "./memory-backups" }');
  }
  if (config.postgres && (backend === "memory" || backend === "file" || backend === "sqlite")) {
    problems.push(`postgres: only the postgres backend reads it, and this storage's backend is ${backend}; remove postgres from this config or use a postgres:// URL`);
  }
  if (problems.length > 0 || !backend) throw new ConfigError(problems);
  return {
    backend,
    ...(given ? { backendSource: given } : {}),
    url: url ?? `${backend}:${location ?? ""}`,
    // A backend of the caller's own code gets its location as given (a URL's rest may be `//host/db`, no file path).
    ...(location ? { path: given || location === ":memory:" ? location : path.resolve(location) } : {}),
    entities: config.entities ?? [],
    ...(config.migrations !== undefined ? { migrations: config.migrations } : {}),
    autoCreate: config.autoCreate ?? backend === "memory",
    poolSize: config.poolSize ?? 10,
    timeoutMs: config.timeoutMs ?? 5000,
    backup: {
      enabled: config.backup?.enabled ?? false,
      keep: config.backup?.keep ?? 3,
      intervalMs: config.backup?.intervalMs ?? DEFAULT_BACKUP_INTERVAL_MS,
      ...(config.backup?.dir ? { dir: path.resolve(config.backup.dir) } : {}),
    },
    cache: config.cache,
    sqlite: {
      journalMode: config.sqlite?.journalMode ?? "wal",
      synchronous: config.sqlite?.synchronous ?? "normal",
      busyTimeoutMs: config.sqlite?.busyTimeoutMs ?? config.timeoutMs ?? 5000,
    },
    file: { fsync: config.file?.fsync ?? "always", compactAfterBytes: config.file?.compactAfterBytes ?? 8 * 1024 * 1024 },
    postgres: {
      replicas: config.postgres?.replicas ?? [],
      maxReplicaLagMs: config.postgres?.maxReplicaLagMs ?? DEFAULT_MAX_REPLICA_LAG_MS,
      ...(config.postgres?.pooler ? { pooler: config.postgres.pooler } : {}),
      ...(config.postgres?.directUrl ? { directUrl: config.postgres.directUrl } : {}),
    },
    logger: config.logger ?? quietLogger,
    ...(config.logQueries ? { logQueries: config.logQueries } : {}),
    ...(config.telemetry ? { telemetry: config.telemetry } : {}),
  };
}
