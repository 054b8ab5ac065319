/**
 * The configuration after validation and defaults, as a backend factory receives it in its
 * `BackendContext`. Its own file, so that the SPI can name it without importing the validator (which
 * names the SPI's `Backend` and `BackendFactory` for the `backend` option).
 */
import type { Logger } from "../logger.js";
import type { Migration } from "../migrations/migration.js";
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
  readonly entities: readonly Function[];
  readonly migrations?: string | readonly Migration[];
  readonly autoCreate: boolean;
  readonly poolSize: number;
  readonly timeoutMs: number;
  readonly backup: { readonly enabled: boolean; readonly keep: number; readonly dir?: string };
  readonly cache: false | CacheConfig | undefined;
  readonly sqlite: { readonly journalMode: "wal" | "delete"; readonly synchronous: "normal" | "full"; readonly busyTimeoutMs: number };
  readonly file: { readonly fsync: "always" | "never"; readonly compactAfterBytes: number };
  readonly logger: Logger;
}
