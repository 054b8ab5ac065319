/** Backends by name: the built-in ones load lazily, so importing Strata loads no database client. */
import { ConfigError } from "../errors.js";
import type { BackendFactory } from "./index.js";

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
 * Run the conformance suite (`stratastore/conformance`) against it.
 * @example registerBackend("mystore", async (context) => new MyStoreBackend(context));
 */
export function registerBackend(name: string, factory: BackendFactory): void {
  if (typeof name !== "string" || !/^[a-z][a-z0-9-]*$/.test(name)) {
    throw new ConfigError([`backend: a backend name must be lower-case letters, digits and dashes, got ${JSON.stringify(name)}`]);
  }
  if (name in builtIn || name === "postgresql") throw new ConfigError([`backend: "${name}" is a built-in backend and cannot be replaced`]);
  if (typeof factory !== "function") throw new ConfigError([`backend: the factory for "${name}" must be a function`]);
  registered.set(name, factory);
}

/** The factory of a known backend. */
export async function loadBackend(name: string): Promise<BackendFactory> {
  if (name === "postgresql") name = "postgres";
  const own = registered.get(name);
  if (own) return own;
  const load = builtIn[name];
  if (!load) throw new ConfigError([`backend: unknown backend "${name}"`]);
  return load();
}

