/**
 * The configuration after validation and defaults, as a backend factory receives it in its
 * `BackendContext`. Its own file, so that the SPI can name it without importing the validator (which
 * names the SPI's `Backend` and `BackendFactory` for the `backend` option).
 */
import type { Logger } from "../logger.js";
import type { Migration } from "../migrations/migration.js";
import type { LogQueriesConfig, TelemetryConfig } from "./observe-config.js";
import type { CacheConfig } from "./cache-config.js";

/** The configuration after validation and defaults, as backends see it. */
export interface ResolvedConfig {
  /**
   * The backend's name: the `backend` option or the URL's scheme. For a backend given as an instance,
   * its `name`; for one given as a factory, the URL's scheme when a URL is given, else `"custom"`.
   */
  readonly backend: string;
  /** The URL as given (or built from backend + path). */
  readonly url: string;
  /**
   * The part of the URL after the scheme (a path for file/sqlite), or `path`: made absolute for a backend
   * chosen by name, passed as given to one given as a factory.
   */
  readonly path?: string;
  /** The entity classes (their schemas are the context's `schemas`). */
  readonly entities: readonly Function[];
  /** A folder of migration files, or the migrations themselves; the migration runner reads it, not the backend. */
  readonly migrations?: string | readonly Migration[];
  /** Create the entities' missing tables when opening. @default true for memory, false otherwise */
  readonly autoCreate: boolean;
  /** Connections in the pool, for a backend that pools. @default 10 */
  readonly poolSize: number;
  /** How long to wait to connect, for a lock, or for a busy store, in ms. @default 5000 */
  readonly timeoutMs: number;
  /**
   * Automatic backup generations: on or off, how many, where (made absolute), how often. Strata runs them for
   * sqlite, file and memory (src/backup/); a backend of your own may honour them itself.
   */
  readonly backup: { readonly enabled: boolean; readonly keep: number; readonly intervalMs: number; readonly dir?: string };
  /** The cache as configured (`false`: off; undefined: the default for the backend's capabilities). Strata runs it, not the backend. */
  readonly cache: false | CacheConfig | undefined;
  /** The SQLite backend's own options, with defaults; other backends ignore them. */
  readonly sqlite: { readonly journalMode: "wal" | "delete"; readonly synchronous: "normal" | "full"; readonly busyTimeoutMs: number };
  /** The file backend's own options, with defaults; other backends ignore them. */
  readonly file: { readonly fsync: "always" | "never"; readonly compactAfterBytes: number };
  /**
   * The PostgreSQL backend's own options (`StorageConfig.postgres`), with defaults; other backends ignore them.
   * `replicas` is empty and `maxReplicaLagMs` 1000 when not given; `pooler` and `directUrl` are absent then.
   */
  readonly postgres: {
    readonly replicas: readonly string[];
    readonly maxReplicaLagMs: number;
    readonly pooler?: "pgbouncer";
    readonly directUrl?: string;
  };
  /** Where to log; the context's `logger`. @default a logger that drops everything */
  readonly logger: Logger;
  /** `logQueries` as given, when on; the storage reports operations, not the backend. */
  readonly logQueries?: LogQueriesConfig;
  /** `telemetry` as given, when on; the storage makes the spans, not the backend. */
  readonly telemetry?: TelemetryConfig;
}
