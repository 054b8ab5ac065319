/** `createStorage` and the `Storage` it returns (README, "Quick start" and "Backends"). */
import { isKnownBackend, openBackend } from "./spi/backend-registry.js";
import type { BackendCapabilities } from "./spi/index.js";
import type { StorageCache } from "./cache/cache-manager.js";
import { CacheManager, DISABLED_CACHE } from "./cache/cache-manager.js";
import type { StorageConfig } from "./config/storage-config.js";
import { resolveConfig } from "./config/storage-config.js";
import { ConfigError, QueryError, SchemaError, UnsupportedError } from "./errors.js";
import type { EntityClass } from "./repository/repository.js";
import { Repository } from "./repository/repository.js";
import type { EntitySchema } from "./schema/entity-schema.js";
import { readEntitySchema } from "./schema/read-entity-schema.js";
import { joinTablesOf } from "./schema/read-relations.js";
import { bindCore, StorageCore } from "./storage-core.js";
import { backupToDirectory } from "./copy/backup-to-directory.js";
import { backupPlanOfConfig, isBackedUp } from "./backup/backup-plan.js";
import type { BackupEvent } from "./backup/backup-scheduler.js";
import { BackupScheduler } from "./backup/backup-scheduler.js";
import { logSafely } from "./util/safe-log.js";
import { appliedFingerprint, appliedStoreOf } from "./migrations/applied-migration-store.js";
import type { MigrationRunner } from "./migrations/migration-runner.js";
import { createMigrationRunner } from "./migrations/migration-runner.js";
import type { CommittedWrites, TransactionOptions } from "./transaction/transaction-manager.js";
import { TransactionManager } from "./transaction/transaction-manager.js";
import type { QueryListener } from "./observe/query-event.js";
import { QueryObserver } from "./observe/query-observer.js";
import { loadTelemetry } from "./observe/query-telemetry.js";

/** A repository class whose constructor takes the storage, as `class TaskRepository extends Repository<Task, string>`. */
export type RepositoryClass<R extends Repository<object, never>> = new (storage: Storage) => R;

/** What `storage.transaction`'s callback receives. */
export interface Transaction {
  /** The same repository as `storage.repository(cls)`: both join this transaction. */
  repository<R extends Repository<object, never>>(repositoryClass: RepositoryClass<R>): R;
  repository<T extends object>(entityClass: EntityClass<T>): Repository<T>;
}

/**
 * The Backend instances given to `createStorage` (the `backend` option): a storage owns its instance and
 * closes it, so a second storage on the same instance would use it after that close (and close it twice).
 */
const ownedInstances = new WeakSet<object>();

/** Set by the class's static block: tells a storage's `backup` listeners (the method is private). */
let emitBackupOf: (storage: Storage, event: BackupEvent) => void;

/** Set by the class's static block: {@link createStorage} builds a `Storage` through it (the constructor is private). */
let openStorage: (core: StorageCore) => Storage;

/**
 * Handed to the constructor by {@link openStorage} only: `private` binds TypeScript callers, this binds
 * JavaScript ones too, so no core but one `createStorage` built is ever tied to a storage.
 */
const SEAL = Symbol("Storage");

/** A {@link ConfigError} for an event a storage does not emit, or a listener that is not a function. */
function checkListener(method: "on" | "off", event: unknown, listener: unknown): void {
  if (event !== "query" && event !== "backup") {
    // String() for the rest: JSON.stringify gives undefined for a symbol.
    throw new ConfigError([`${method}: unknown event ${typeof event === "string" ? JSON.stringify(event) : String(event)}; the events are "query" and "backup"`]);
  }
  if (typeof listener !== "function") throw new ConfigError([`${method}("${event}", listener): expected a function, got ${listener === null ? "null" : typeof listener}`]);
}

/**
 * An open storage: repositories, transactions, backup. Its core (backend, schemas, transaction manager) is
 * sealed: it is not part of this type, and only Strata's own modules reach it (`coreOf` in `storage-core.ts`).
 */
export class Storage {
  readonly #core: StorageCore;
  readonly #capabilities: Readonly<BackendCapabilities>;
  private readonly repositories = new Map<Function, Repository<object, never>>();
  private connected = true;
  /** The one close in progress or done: every `close()` call waits for it. */
  private closing: Promise<void> | undefined;
  private runner: MigrationRunner | undefined;
  private readonly backupListeners = new Set<(event: BackupEvent) => void>();

  static {
    openStorage = (core) => new Storage(core, SEAL);
    emitBackupOf = (storage, event) => storage.emitBackup(event);
  }

  /** Use {@link createStorage}; a {@link ConfigError} otherwise. */
  private constructor(core: StorageCore, seal: symbol) {
    if (seal !== SEAL) throw new ConfigError(["new Storage(): open a storage with createStorage()"]);
    this.#core = core;
    // A frozen copy: a caller writing to it cannot change what the backend declares to the rest of Strata.
    this.#capabilities = Object.freeze({ ...core.backend.capabilities });
    bindCore(this, core);
  }

  /** The backend's name: `"memory"`, `"file"`, `"sqlite"`, `"postgres"` or a registered one. */
  get backend(): string {
    return this.#core.backend.name;
  }

  /**
   * What the backend supports (read-only): savepoints, transactional DDL, several connections, SQL,
   * persistence. Tests and tools branch on these flags, never on the backend's class.
   * @example if (storage.capabilities.supportsSavepoints) { ... }
   */
  get capabilities(): Readonly<BackendCapabilities> {
    return this.#capabilities;
  }

  /**
   * The migration runner of the configured `migrations` (README, "Migrations").
   * @example await storage.migrations.up();
   */
  get migrations(): MigrationRunner {
    return (this.runner ??= createMigrationRunner(this.#core));
  }

  /** True until {@link Storage.close}. */
  get isConnected(): boolean {
    return this.connected;
  }

  /**
   * The repository of a repository class or an entity class, one instance per class.
   * @example const tasks = storage.repository(TaskRepository);
   */
  repository<R extends Repository<object, never>>(repositoryClass: RepositoryClass<R>): R;
  repository<T extends object>(entityClass: EntityClass<T>): Repository<T>;
  repository(cls: Function): Repository<object, never> {
    let repo = this.repositories.get(cls);
    if (!repo) {
      if (typeof cls !== "function") throw new ConfigError([`repository: expected a repository or entity class, got ${typeof cls}`]);
      if (!(cls.prototype instanceof Repository) && !this.#core.schemas.has(cls) && extendsForeignRepository(cls)) {
        throw new ConfigError([
          `repository: ${cls.name} extends the Repository of another copy of stratastore (two copies of the package are loaded: \`npm ls stratastore\` lists them; keep one)`,
        ]);
      }
      repo =
        cls.prototype instanceof Repository
          ? new (cls as new (storage: Storage) => Repository<object, never>)(this)
          : (new Repository(this, cls as EntityClass<object>) as Repository<object, never>);
      this.repositories.set(cls, repo);
    }
    return repo;
  }

  /**
   * Runs `fn` in a transaction: commits when it resolves, rolls back and rethrows when it throws.
   * Every repository of this storage called inside joins it; a nested call is a savepoint.
   */
  transaction<T>(fn: (tx: Transaction) => Promise<T>, options?: TransactionOptions): Promise<T> {
    const tx: Transaction = { repository: ((cls: Function) => this.repository(cls as EntityClass<object>)) as Transaction["repository"] };
    return this.#core.transactions.run(() => fn(tx), options);
  }

  /**
   * Runs one SQL statement of yours on a SQL backend (README, "Raw SQL"): each `${value}` is bound as a
   * parameter, never spliced; inside `storage.transaction` it runs in that transaction. Resolves to the
   * rows as plain objects keyed by column name, values as the driver reads them (no entity decoding). A
   * statement the database says may write drops every cached entry and query, at its commit.
   * `UnsupportedError` on memory and file; `QueryError` for a statement the database refuses, quoting it.
   * @example const rows = await storage.sql`select status, count(*) as n from tasks where priority >= ${2} group by status`;
   */
  async sql<R extends object = Record<string, unknown>>(strings: TemplateStringsArray, ...values: unknown[]): Promise<R[]> {
    const core = this.#core;
    // A template's strings carry `raw`: an array built by hand (text spliced by the caller) is refused too.
    if (!Array.isArray(strings) || !Array.isArray((strings as { raw?: unknown }).raw)) throw new QueryError("storage.sql is a tagged template, so that values are bound: storage.sql`select ... where id = ${id}`");
    if (!core.backend.capabilities.supportsSql) {
      throw new UnsupportedError(`storage.sql needs a SQL backend (sqlite or postgres); the ${core.backend.name} backend has none. Use the repositories' queries`);
    }
    const result = await core.session().sql!(strings, values);
    if (result.wrote) {
      // Every table in one note: one announcement (one bus message with a Redis L2), not one per table.
      const [first, ...others] = (this.allTables ??= this.tables());
      if (first !== undefined) core.transactions.noteWrite(first, undefined, others);
    }
    return result.rows as R[];
  }

  /** {@link Storage.tables}, computed at the first `storage.sql` write (the entities are fixed at open). */
  private allTables: string[] | undefined;

  /** Every table of this storage's entities and their join tables. */
  private tables(): string[] {
    const schemas = [...this.#core.schemas.values()];
    return [...schemas, ...joinTablesOf(schemas)].map((schema) => schema.table);
  }

  /**
   * Listens to the storage's events, and returns the function that removes the listener:
   * - `query`: every backend operation once it has ended (README, "Observing queries"): its backend, table,
   *   operation, SQL and bound values (SQL backends) or plan (memory, file), duration and rows. Inside a
   *   transaction too, as each operation ends. Nothing is measured while no listener, `logQueries` or
   *   `telemetry` is on.
   * - `backup`: an automatic backup (`backup.enabled`) once its generation is complete, with its name, reason,
   *   duration and size (README, "Backups").
   *
   * What a listener throws is caught and logged, and never fails the operation or the backup.
   * @example const off = storage.on("query", (e) => console.log(e.operation, e.table, e.durationMs));
   * @example storage.on("backup", (e) => console.log(`${e.generation}: ${e.sizeBytes} bytes in ${e.durationMs} ms`));
   */
  on(event: "query", listener: QueryListener): () => void;
  on(event: "backup", listener: (event: BackupEvent) => void): () => void;
  on(event: "query" | "backup", listener: QueryListener | ((event: BackupEvent) => void)): () => void {
    checkListener("on", event, listener);
    if (event === "query") return this.#core.observer.add(listener as QueryListener);
    const backup = listener as (event: BackupEvent) => void;
    this.backupListeners.add(backup);
    return () => void this.backupListeners.delete(backup);
  }

  /** Removes a listener added with {@link Storage.on}; one not added is ignored. */
  off(event: "query", listener: QueryListener): void;
  off(event: "backup", listener: (event: BackupEvent) => void): void;
  off(event: "query" | "backup", listener: QueryListener | ((event: BackupEvent) => void)): void {
    checkListener("off", event, listener);
    if (event === "query") this.#core.observer.remove(listener as QueryListener);
    else this.backupListeners.delete(listener as (event: BackupEvent) => void);
  }

  /** Hears of committed writes (tables and keys), after the outermost commit. */
  onCommit(listener: (writes: CommittedWrites) => void): void {
    this.#core.transactions.afterCommit(listener);
  }

  /**
   * The entity and query cache: `stats()` and `clear()` (README, "Cache").
   * @example const { l1 } = storage.cache.stats();
   */
  get cache(): StorageCache {
    return this.#core.cache ?? DISABLED_CACHE;
  }

  /** Writes a consistent copy of the data to `targetPath`, which `createStorage` can open. */
  backup(targetPath: string): Promise<void> {
    return this.#core.backend.backup(targetPath);
  }

  /** @internal Tells the `backup` listeners; one that throws (or rejects) is logged, and never fails the backup. */
  private emitBackup(event: BackupEvent): void {
    // A logger that throws too is ignored: the generation is made all the same, and must not read as failed.
    const failed = (error: unknown) => logSafely(this.#core.config.logger, "error", `A "backup" listener failed`, error);
    for (const listener of this.backupListeners) {
      try {
        // An async listener's rejection would otherwise be unhandled, which ends a Node process.
        const result: unknown = listener(event);
        if (result instanceof Promise) result.catch(failed);
      } catch (error) {
        failed(error);
      }
    }
  }

  /**
   * Closes the backend (memory with `backup.enabled`: after its last generation). Safe to call twice: a
   * second call resolves when the first is done (a process may exit then, and the last generation with it);
   * the first call's failure, if any, is the first caller's to see, as before.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing.catch(() => {});
    this.closing = this.closeOnce();
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    this.connected = false;
    await this.#core.backups?.close();
    this.#core.observer.close();
    await this.#core.cache?.close();
    await this.#core.backend.close();
  }
}

/**
 * The schemas of a storage's entities, checked together: no two entities (or join tables) share a table,
 * and every relation points at an entity of the storage. Every entity's problems are listed in one
 * `SchemaError`.
 */
function readEntitySchemas(entities: readonly Function[]): Map<Function, EntitySchema> {
  const schemas = new Map<Function, EntitySchema>();
  const problems: SchemaError[] = [];
  for (const entity of entities) {
    try {
      schemas.set(entity, readEntitySchema(entity));
    } catch (error) {
      if (!(error instanceof SchemaError)) throw error;
      problems.push(error);
    }
  }
  const tables = new Map<string, EntitySchema>();
  for (const schema of [...schemas.values(), ...joinTablesOf(schemas.values())]) {
    const twin = tables.get(schema.table);
    if (twin && twin !== schema) {
      problems.push(new SchemaError(`${twin.entityName} and ${schema.entityName} both use table "${schema.table}"`, { table: schema.table }));
    }
    tables.set(schema.table, schema);
  }
  for (const schema of schemas.values()) {
    for (const relation of schema.relations) {
      if (!schemas.has(relation.target)) {
        problems.push(
          new SchemaError(
            `${schema.entityName}.${relation.property}: its target ${relation.target.name || "(anonymous)"} is not among the storage's entities: add it to entities`,
            { table: schema.table, field: relation.property },
          ),
        );
      }
    }
  }
  if (problems.length === 1) throw problems[0]!;
  if (problems.length > 1) {
    throw new SchemaError(`${problems.length} problems in the entities:\n- ${problems.map((p) => p.message).join("\n- ")}`, {
      ...(problems[0]!.table !== undefined ? { table: problems[0]!.table } : {}),
      ...(problems[0]!.field !== undefined ? { field: problems[0]!.field } : {}),
    });
  }
  return schemas;
}

/** True when `cls` extends a class named `Repository` that is not this copy's: a second copy of the package. */
function extendsForeignRepository(cls: Function): boolean {
  for (let proto: unknown = Object.getPrototypeOf(cls); typeof proto === "function"; proto = Object.getPrototypeOf(proto)) {
    if (proto.name === "Repository" && proto !== Repository) return true;
  }
  return false;
}

/**
 * Opens a storage. With no argument: `STRATA_URL`, else `sqlite:./data/strata.db`. The backend is chosen
 * by the URL's scheme or the `backend` option: a name, a `BackendFactory` or an open `Backend`.
 * @example
 * const storage = await createStorage({ url: "sqlite:./data/app.db", entities: [Task], autoCreate: true });
 * @example
 * // A third-party backend, as a factory of its own typed options:
 * const storage = await createStorage({ backend: myStore({ region: "eu" }), entities: [Task], autoCreate: true });
 */
export async function createStorage(configOrUrl?: StorageConfig | string): Promise<Storage> {
  const { backendSource, ...config } = resolveConfig(configOrUrl, isKnownBackend);
  const schemas = readEntitySchemas(config.entities);
  // Before the backend opens: a missing @opentelemetry/api then leaves nothing open.
  const telemetry = await loadTelemetry(config.telemetry);
  // Checked and taken in the same synchronous stretch, so two createStorage calls cannot both take it.
  if (typeof backendSource === "object") {
    if (ownedInstances.has(backendSource)) {
      throw new ConfigError([
        `backend: this ${backendSource.name} Backend instance was given to another storage, which owns it and closes it; give each storage its own instance, or a BackendFactory that opens one per storage`,
      ]);
    }
    ownedInstances.add(backendSource);
  }
  // The backend may make a generation while it opens (a schema change with autoCreate): no listener can be
  // attached yet then, so reports before the storage exists go nowhere.
  const reports: { to?: (event: BackupEvent) => void } = {};
  const backend = await openBackend(config, backendSource, [...schemas.values(), ...joinTablesOf(schemas.values())], {
    backupToDirectory: (source, targetPath) => backupToDirectory(source, targetPath, config),
    reportBackup: (event) => reports.to?.(event),
  });
  const transactions = new TransactionManager(backend, config.logger);
  const observer = new QueryObserver(backend.name, config.logger, config.logQueries, telemetry?.(backend.name));
  const core = new StorageCore(config, backend, schemas, transactions, observer);
  const storage = openStorage(core);
  reports.to = (event) => emitBackupOf(storage, event);
  try {
    // The foreign keys a migration made (no entity declares them) count as much as the entities' own.
    await core.readForeignKeys();
    // The migrations module reads the applied migrations for the cache's keys: the cache never imports it.
    core.cache = await CacheManager.open(core, () => appliedFingerprint(appliedStoreOf(backend)));
    // A backend of the caller's own code (given as a factory or an instance) reads `backup` from its context itself.
    if (config.backup.enabled && !backendSource && isBackedUp(backend.name)) {
      const plan = backupPlanOfConfig({ ...config, backend: backend.name });
      if (!plan) throw new ConfigError([`backup.dir: this ${backend.name} storage has no file of its own to put its backups beside; give backup.dir`]);
      core.backups = new BackupScheduler(backend, config, plan, (event) => emitBackupOf(storage, event));
      core.backups.start();
    }
  } catch (error) {
    observer.close();
    await backend.close().catch(() => {});
    throw error;
  }
  return storage;
}
