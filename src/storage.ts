/** `createStorage` and the `Storage` it returns (README, "Quick start" and "Backends"). */
import { isKnownBackend, openBackend } from "./spi/backend-registry.js";
import type { BackendCapabilities } from "./spi/index.js";
import type { StorageCache } from "./cache/cache-manager.js";
import { CacheManager, DISABLED_CACHE } from "./cache/cache-manager.js";
import type { StorageConfig } from "./config/storage-config.js";
import { resolveConfig } from "./config/storage-config.js";
import { ConfigError, SchemaError } from "./errors.js";
import type { EntityClass } from "./repository/repository.js";
import { Repository } from "./repository/repository.js";
import type { EntitySchema } from "./schema/entity-schema.js";
import { readEntitySchema } from "./schema/read-entity-schema.js";
import { bindCore, StorageCore } from "./storage-core.js";
import { backupToDirectory } from "./copy/backup-to-directory.js";
import type { MigrationRunner } from "./migrations/migration-runner.js";
import { appliedMigrationsFingerprint, createMigrationRunner } from "./migrations/migration-runner.js";
import type { CommittedWrites, TransactionOptions } from "./transaction/transaction-manager.js";
import { TransactionManager } from "./transaction/transaction-manager.js";

/** A repository class whose constructor takes the storage, as `class TaskRepository extends Repository<Task, string>`. */
export type RepositoryClass<R extends Repository<object, never>> = new (storage: Storage) => R;

/** What `storage.transaction`'s callback receives. */
export interface Transaction {
  /** The same repository as `storage.repository(cls)`: both join this transaction. */
  repository<R extends Repository<object, never>>(repositoryClass: RepositoryClass<R>): R;
  repository<T extends object>(entityClass: EntityClass<T>): Repository<T>;
}

/** Set by the class's static block: {@link createStorage} builds a `Storage` through it (the constructor is private). */
let openStorage: (core: StorageCore) => Storage;

/**
 * An open storage: repositories, transactions, backup. Its core (backend, schemas, transaction manager) is
 * sealed: it is not part of this type, and only Strata's own modules reach it (`coreOf` in `storage-core.ts`).
 */
export class Storage {
  readonly #core: StorageCore;
  private readonly repositories = new Map<Function, Repository<object, never>>();
  private connected = true;
  private runner: MigrationRunner | undefined;

  static {
    openStorage = (core) => new Storage(core);
  }

  /** Use {@link createStorage}. */
  private constructor(core: StorageCore) {
    this.#core = core;
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
    return this.#core.backend.capabilities;
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

  /** Closes the backend. Safe to call twice. */
  async close(): Promise<void> {
    if (!this.connected) return;
    this.connected = false;
    await this.#core.cache?.close();
    await this.#core.backend.close();
  }
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
  const schemas = new Map<Function, EntitySchema>();
  const tables = new Map<string, EntitySchema>();
  for (const entity of config.entities) {
    const schema = readEntitySchema(entity);
    const twin = tables.get(schema.table);
    if (twin && twin.target !== entity) {
      throw new SchemaError(`${twin.entityName} and ${schema.entityName} both use table "${schema.table}"`, { table: schema.table });
    }
    tables.set(schema.table, schema);
    schemas.set(entity, schema);
  }
  const backend = await openBackend(config, backendSource, [...schemas.values()], {
    backupToDirectory: (source, targetPath) => backupToDirectory(source, targetPath, config),
  });
  const transactions = new TransactionManager(backend, config.logger);
  const core = new StorageCore(config, backend, schemas, transactions);
  const storage = openStorage(core);
  try {
    // The runner reads the applied migrations for the cache's keys: the cache never reads them itself.
    core.cache = await CacheManager.open(core, () => appliedMigrationsFingerprint(storage.migrations));
  } catch (error) {
    await backend.close().catch(() => {});
    throw error;
  }
  return storage;
}
