/** What a storage's repositories share: the backend, the entity schemas and the transaction manager. */
import type { Backend } from "./spi/index.js";
import type { BackupScheduler } from "./backup/backup-scheduler.js";
import type { CacheManager } from "./cache/cache-manager.js";
import type { ResolvedConfig } from "./config/storage-config.js";
import { ConfigError } from "./errors.js";
import type { EntitySchema } from "./schema/entity-schema.js";
import { tablesReachedByDelete } from "./schema/delete-reach.js";
import type { ForeignKeyHolder } from "./schema/foreign-key-graph.js";
import { withHeldForeignKeys } from "./schema/foreign-key-graph.js";
import { joinTablesOf } from "./schema/read-relations.js";
import type { TransactionManager } from "./transaction/transaction-manager.js";
import type { DataSession } from "./spi/index.js";
import type { QueryObserver } from "./observe/query-observer.js";

/** Each open storage's core, set once by its constructor (weakly held: a dropped storage drops its entry). */
const cores = new WeakMap<object, StorageCore>();

/** @internal Ties `storage` to its core; called once, by the `Storage` constructor. */
export function bindCore(storage: object, core: StorageCore): void {
  cores.set(storage, core);
}

/**
 * @internal The core of a storage. Not exported from the package: code inside `src/` (and tests) use it to
 * reach the backend; a {@link ConfigError} for anything that is not an open `Storage`.
 */
export function coreOf(storage: object): StorageCore {
  const core = cores.get(storage);
  if (!core) throw new ConfigError([`expected a Storage from createStorage, got ${describeNonStorage(storage)}`]);
  return core;
}

/**
 * What was passed instead of a storage. A `Storage` this module did not bind comes from another copy of the
 * package (two versions installed side by side, or one bundled): say so, since "got object" would not help.
 */
function describeNonStorage(value: unknown): string {
  if (value === null) return "null";
  if (typeof value !== "object") return typeof value;
  let name: unknown;
  try {
    name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor?.name;
  } catch {
    // A proxy or an exotic object: it is not a storage either way.
  }
  return name === "Storage"
    ? "a Storage of another copy of stratastore (two copies of the package are loaded: `npm ls stratastore` lists them; keep one)"
    : "object";
}

/**
 * The core of each open storage, reachable only through {@link coreOf}: `Storage` keeps it out of its public
 * type, so users (and the conformance suite) see only the public API, while the repository, the migration
 * runner and the copy reach the backend and the transaction manager.
 */
export class StorageCore {
  /**
   * Bumped by the migration runner each time it applies or reverts a migration; cache keys include it,
   * so no entry shaped by an older schema is ever served.
   */
  schemaVersion = 0;

  /** The entity and query cache, when on; set by `createStorage` once the backend is open. */
  cache: CacheManager | undefined = undefined;

  /** The automatic backups, with `backup.enabled` on a backend Strata backs up; set by `createStorage`. */
  backups: BackupScheduler | undefined = undefined;

  /** Every table's foreign keys: the entities' and join tables' own, and those the backend holds besides (a migration's). */
  private foreignKeyTables: readonly ForeignKeyHolder[];
  /** {@link tablesReachedByDelete} of each table asked about, forgotten when the foreign keys are read again. */
  private readonly deleteReach = new Map<string, readonly string[]>();

  constructor(
    readonly config: ResolvedConfig,
    readonly backend: Backend,
    readonly schemas: ReadonlyMap<Function, EntitySchema>,
    readonly transactions: TransactionManager,
    /** `storage.on("query")`, `logQueries` and `telemetry`: whether operations are measured, and how. */
    readonly observer: QueryObserver,
  ) {
    this.foreignKeyTables = this.declaredTables();
  }

  /**
   * The session of the ambient transaction, else the backend's autocommit session: what every read and
   * write of the storage goes through. Observed (each operation measured and reported) only while the
   * observer is active; otherwise the backend's own, at the cost of one field read.
   */
  session(): DataSession {
    const scope = this.transactions.current();
    if (scope === undefined) return this.autocommitSession;
    return this.observer.active ? this.observer.observe(scope.session, true) : scope.session;
  }

  /**
   * The session the cache fills from: the backend's {@link Backend.freshSession} where it has one (a read
   * replica may lag behind another process's write whose invalidation came already), else its autocommit
   * session; observed as {@link StorageCore.session} is.
   */
  get cacheFillSession(): DataSession {
    const session = this.backend.freshSession ?? this.backend.session;
    return this.observer.active ? this.observer.observe(session, false) : session;
  }

  /** The backend's autocommit session (streams), observed as {@link StorageCore.session} is. */
  get autocommitSession(): DataSession {
    return this.observer.active ? this.observer.observe(this.backend.session, false) : this.backend.session;
  }

  private declaredTables(): EntitySchema[] {
    return [...this.schemas.values(), ...joinTablesOf(this.schemas.values())];
  }

  /**
   * Reads the foreign keys the backend holds (`Backend.readForeignKeys`) and merges them with the declared
   * ones: called once the backend is open and after each schema change. A backend without the method keeps
   * the declared ones only.
   */
  async readForeignKeys(): Promise<void> {
    const held = await this.backend.readForeignKeys?.();
    if (!held) return;
    this.foreignKeyTables = withHeldForeignKeys(this.declaredTables(), held, (table, foreignKeys) => ({ table, foreignKeys }));
    this.deleteReach.clear();
  }

  /**
   * The tables whose rows a delete from `table` may change besides the rows deleted (`tablesReachedByDelete`),
   * through every foreign key the backend holds: the cache forgets them once the delete commits.
   */
  tablesReachedByDelete(table: string): readonly string[] {
    let reached = this.deleteReach.get(table);
    if (!reached) this.deleteReach.set(table, (reached = tablesReachedByDelete(table, this.foreignKeyTables)));
    return reached;
  }

  /**
   * The schema of `tables` changed (a migration, a copy): no cache entry shaped by the old schema may be
   * served again, so the version bumps (every key changes) and each table's entries are dropped. Then the
   * foreign keys are read again (a migration may have added or dropped some). Failing to read them (the
   * connection lost) keeps the ones known before, with a warning: the change itself has committed.
   */
  async schemaChanged(tables: Iterable<string>): Promise<void> {
    this.schemaVersion++;
    for (const table of tables) this.transactions.noteWrite(table);
    try {
      await this.readForeignKeys();
    } catch (error) {
      this.config.logger.warn(`Could not read the foreign keys of the ${this.backend.name} backend after a schema change: ${(error as Error)?.message ?? String(error)}`);
    }
  }

  /** The schema of an entity this storage serves; a {@link ConfigError} for any other class. */
  schemaOf(entity: Function): EntitySchema {
    const schema = this.schemas.get(entity);
    if (!schema) {
      const name = typeof entity === "function" ? entity.name : String(entity);
      throw new ConfigError([`entities: ${name || "this class"} is not among this storage's entities; add it to the entities of createStorage`]);
    }
    return schema;
  }

  /** Tables whose queries asked for `cache` on a storage that cannot cache queries: each warned about once. */
  private readonly uncachedQueryTables = new Set<string>();

  /**
   * A query of `schema` asked for `cache`. Where this storage cannot cache queries (no cache, or no L1, which
   * holds the query cache), say so through the logger, once per table: the option would otherwise do nothing
   * without a word, and the defaults leave the cache off on SQLite and PostgreSQL.
   */
  noteQueryCacheAsked(schema: EntitySchema): void {
    if (this.uncachedQueryTables.has(schema.table)) return;
    const configured = this.config.cache;
    let why: string;
    if (this.cache === undefined) {
      why =
        configured === undefined
          ? `the cache is off by default on ${this.backend.name} (another process's writes would not reach it)`
          : configured === false
            ? "the storage was created with cache: false"
            : "the storage's cache has no tier";
    } else if (configured && configured.l1 === false) {
      why = "the query cache lives in L1, which cache.l1: false turns off";
    } else {
      return;
    }
    this.uncachedQueryTables.add(schema.table);
    this.config.logger.warn(
      `${schema.entityName} (table "${schema.table}"): a query asked for \`cache\`, but ${why}, so it reads the backend every time. ` +
        `Turn the cache on in createStorage (cache: {} for an in-process L1 with the default bounds); README, "Cache".`,
    );
  }
}
