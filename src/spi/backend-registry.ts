/**
 * Backends by name: the built-in ones load lazily, so importing Strata loads no database client. The
 * registry is a convenience for URLs (`mystore:...`) and names in config files: a backend can also be
 * given to `createStorage` directly, as a factory or an instance, without registering anything.
 */
import type { ResolvedConfig } from "../config/resolved-config.js";
import { backendShapeProblem } from "../config/storage-config.js";
import { ConfigError, ConnectionError, StorageError } from "../errors.js";
import type { EntitySchema } from "../schema/entity-schema.js";
import type { Backend, BackendContext, BackendFactory } from "./index.js";
import type { BackupLayout } from "../backup/backup-layout.js";
// Small modules that load no database client (a SQLite restore loads better-sqlite3 when it runs).
import { fileBackupLayout } from "../backends/file/file-backup-layout.js";
import { memoryBackupLayout } from "../backends/memory/memory-backup-layout.js";
import { sqliteBackupLayout } from "../backends/sqlite/sqlite-backup-layout.js";

const builtIn: Record<string, () => Promise<BackendFactory>> = {
  memory: async () => (await import("../backends/memory/memory-backend.js")).createMemoryBackend,
  file: async () => (await import("../backends/file/file-backend.js")).createFileBackend,
  sqlite: async () => (await import("../backends/sqlite/sqlite-backend.js")).createSqliteBackend,
  // pg is loaded only here, when a postgres storage is opened.
  postgres: async () => (await import("../backends/postgres/postgres-backend.js")).createPostgresBackend,
};

const registered = new Map<string, BackendFactory>();

/**
 * The backup layouts of the built-in backends Strata backs up itself (`backup.enabled`). PostgreSQL has none
 * (its own tools do the job); a registered backend reads `backup` from its context itself.
 */
const backupLayouts: Record<string, BackupLayout> = { sqlite: sqliteBackupLayout, file: fileBackupLayout, memory: memoryBackupLayout };

/** The backup layout of a built-in backend, undefined for one Strata does not back up itself. */
export function backupLayoutOf(name: string): BackupLayout | undefined {
  return Object.hasOwn(backupLayouts, name) ? backupLayouts[name] : undefined;
}

/** True for a built-in name: own keys only, so that `constructor` or `__proto__` is no backend. */
function isBuiltIn(name: string): boolean {
  return Object.hasOwn(builtIn, name) || name === "postgresql";
}

/** True when `name` is built in or registered. */
export function isKnownBackend(name: string): boolean {
  return isBuiltIn(name) || registered.has(name);
}

/**
 * Adds a backend under a new name; `createStorage({ backend: name })` or a URL `name:...` then uses it.
 * The registry is global to the process; passing the factory itself (`createStorage({ backend: myStore(options) })`)
 * needs no name. Run the conformance suites (`stratastore/conformance`) against it.
 * @example registerBackend("mystore", myStore({ region: "eu" }));
 */
export function registerBackend(name: string, factory: BackendFactory): void {
  if (typeof name !== "string" || !/^[a-z][a-z0-9-]*$/.test(name)) {
    throw new ConfigError([`backend: a backend name must be lower-case letters, digits and dashes, got ${JSON.stringify(name)}`]);
  }
  if (isBuiltIn(name)) throw new ConfigError([`backend: "${name}" is a built-in backend and cannot be replaced`]);
  if (typeof factory !== "function") throw new ConfigError([`backend: the factory for "${name}" must be a function`]);
  registered.set(name, factory);
}

/** The factory of a known backend; a `ConfigError` for an unknown name. */
export async function loadBackend(name: string): Promise<BackendFactory> {
  if (name === "postgresql") name = "postgres";
  const own = registered.get(name);
  if (own) return own;
  const load = Object.hasOwn(builtIn, name) ? builtIn[name] : undefined;
  if (!load) throw new ConfigError([`backend: unknown backend "${name}"`]);
  return load();
}

/**
 * Opens the backend of a configuration: the instance given (as it is), or what the given factory, else the
 * factory registered under `config.backend`, opens. A factory's failure other than a `StorageError` is a
 * `ConnectionError`; so is a factory given as code (`given`) that has not resolved within `config.timeoutMs`
 * (the backend it resolves to later is closed); a registered one is awaited without a bound, as before. A factory that returns no Backend
 * is a `ConfigError` naming `backend` (what it returned is closed when it can be). `means` are the context's
 * tools from above the SPI (the copy module's `backupToDirectory`), given by the caller.
 */
export async function openBackend(
  config: ResolvedConfig,
  given: BackendFactory | Backend | undefined,
  schemas: readonly EntitySchema[],
  means: Pick<BackendContext, "backupToDirectory" | "reportBackup"> = {},
): Promise<Backend> {
  if (given !== undefined && typeof given !== "function") return given;
  const factory = given ?? (await loadBackend(config.backend));
  let backend: Backend;
  try {
    const opening = Promise.resolve().then(() => factory({ ...means, config, schemas, logger: config.logger }));
    // The built-in factories bound their own waits by timeoutMs; a given one may never settle.
    backend = given !== undefined && config.timeoutMs > 0 ? await withinTimeout(opening, config) : await opening;
  } catch (error) {
    if (error instanceof StorageError) throw error;
    throw new ConnectionError(`Could not open the ${config.backend} backend: ${(error as Error)?.message ?? String(error)}`, { cause: error });
  }
  // A factory's result is checked as a backend given as an object is: the storage relies on these members.
  const problem = backendShapeProblem(backend);
  if (problem) {
    await closeQuietly(backend);
    throw new ConfigError([`backend: the factory of the ${config.backend} backend returned no Backend: ${problem}`]);
  }
  return backend;
}

/** `opening`, or a `ConnectionError` once `config.timeoutMs` has passed; a backend opened after that is closed. */
function withinTimeout(opening: Promise<Backend>, config: ResolvedConfig): Promise<Backend> {
  return new Promise<Backend>((resolve, reject) => {
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      reject(new ConnectionError(`Could not open the ${config.backend} backend: its factory did not resolve within ${config.timeoutMs} ms (timeoutMs)`));
    }, config.timeoutMs);
    opening.then(
      (backend) => {
        clearTimeout(timer);
        if (late) void closeQuietly(backend);
        else resolve(backend);
      },
      (error: unknown) => {
        clearTimeout(timer);
        if (!late) reject(error as Error);
      },
    );
  });
}

/** Closes what a factory returned, when it has a `close`, ignoring its failure: the caller reports another error. */
async function closeQuietly(value: unknown): Promise<void> {
  const close = (value as { close?: unknown } | null | undefined)?.close;
  if (typeof close === "function") await Promise.resolve().then(() => close.call(value)).catch(() => {});
}
