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

const builtIn: Record<string, () => Promise<BackendFactory>> = {
  memory: async () => (await import("../backends/memory/memory-backend.js")).createMemoryBackend,
  file: async () => (await import("../backends/file/file-backend.js")).createFileBackend,
  sqlite: async () => (await import("../backends/sqlite/sqlite-backend.js")).createSqliteBackend,
  // pg is loaded only here, when a postgres storage is opened.
  postgres: async () => (await import("../backends/postgres/postgres-backend.js")).createPostgresBackend,
};

const registered = new Map<string, BackendFactory>();

/** True when `name` is built in or registered. */
export function isKnownBackend(name: string): boolean {
  return name in builtIn || name === "postgresql" || registered.has(name);
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
  if (name in builtIn || name === "postgresql") throw new ConfigError([`backend: "${name}" is a built-in backend and cannot be replaced`]);
  if (typeof factory !== "function") throw new ConfigError([`backend: the factory for "${name}" must be a function`]);
  registered.set(name, factory);
}

/** The factory of a known backend; a `ConfigError` for an unknown name. */
export async function loadBackend(name: string): Promise<BackendFactory> {
  if (name === "postgresql") name = "postgres";
  const own = registered.get(name);
  if (own) return own;
  const load = builtIn[name];
  if (!load) throw new ConfigError([`backend: unknown backend "${name}"`]);
  return load();
}


/**
 * Opens the backend of a configuration: the instance given (as it is), or what the given factory, else the
 * factory registered under `config.backend`, opens. A factory's failure other than a `StorageError` is a
 * `ConnectionError`; a factory that returns no Backend is a `ConfigError` naming `backend`. `means` are the
 * context's tools from above the SPI (the copy module's `backupToDirectory`), given by the caller.
 */
export async function openBackend(
  config: ResolvedConfig,
  given: BackendFactory | Backend | undefined,
  schemas: readonly EntitySchema[],
  means: Pick<BackendContext, "backupToDirectory"> = {},
): Promise<Backend> {
  if (given !== undefined && typeof given !== "function") return given;
  const factory = given ?? (await loadBackend(config.backend));
  let backend: Backend;
  try {
    backend = await factory({ ...means, config, schemas, logger: config.logger });
  } catch (error) {
    if (error instanceof StorageError) throw error;
    throw new ConnectionError(`Could not open the ${config.backend} backend: ${(error as Error)?.message ?? String(error)}`, { cause: error });
  }
  // A factory's result is checked as a backend given as an object is: the storage relies on these members.
  const problem = backendShapeProblem(backend);
  if (problem) throw new ConfigError([`backend: the factory of the ${config.backend} backend returned no Backend: ${problem}`]);
  return backend;
}
