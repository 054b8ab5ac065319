/**
 * The base of the backends built on the in-memory table engine (src/engine/): the memory backend and the
 * file backend. It owns what both share: the engine's database and capabilities, one serialized writer,
 * autocommit of single writes, the committed-read session, transactions over write sets (and a shadow
 * database once a migration asks for the schema editor), and the in-process migration lock. A subclass adds only what is
 * its own: where tables come from, and the persist hooks ({@link EngineBackend.persist},
 * {@link EngineBackend.persistSchema}) that make a commit durable before it is applied to memory.
 */
import { AsyncMutex } from "../util/async-mutex.js";
import { DEFAULT_CAPABILITIES } from "../spi/index.js";
import type {
  Backend,
  BackendCapabilities,
  BackendContext,
  DataSession,
  MigrationLock,
  TableForeignKey,
  TransactionHandle,
} from "../spi/index.js";
import type { Change } from "../engine/table-engine.js";
import { MemoryDatabase, WriteSet } from "../engine/table-engine.js";
import type { ShadowDatabase } from "../engine/memory-schema-editor.js";
import type { Row } from "../schema/entity-schema.js";
import { describeSchema } from "../schema/table-schema.js";
import type { Persisted } from "./engine-transaction.js";
import { EngineTransaction, findByIds } from "./engine-transaction.js";
import { LockError, TransactionError } from "../errors.js";

/**
 * What every backend on the engine can do: savepoints (on its write sets), transactional DDL (schema
 * changes run on a shadow database swapped in at commit) and relation filters (index lookups in the related
 * tables of the same write set). A subclass spreads it and adds its own.
 */
export const ENGINE_CAPABILITIES: BackendCapabilities = {
  ...DEFAULT_CAPABILITIES,
  supportsSavepoints: true,
  supportsTransactionalDdl: true,
  supportsRelationFilters: true,
  supportsPartialUpsert: true,
};

export abstract class EngineBackend implements Backend {
  abstract readonly name: string;
  /** {@link ENGINE_CAPABILITIES}; the file backend adds `persistent`. */
  readonly capabilities: BackendCapabilities = { ...ENGINE_CAPABILITIES };
  /** The committed tables. A subclass fills it (the memory backend from its entities, the file backend from disk). */
  readonly db = new MemoryDatabase();
  /** Committed reads and autocommitted single writes: see {@link EngineBackend.createSession}. */
  readonly session: DataSession;
  /** One writer at a time: transactions and single writes queue here (FIFO). */
  protected readonly writer = new AsyncMutex();
  protected readonly timeoutMs: number;
  private readonly migrationMutex = new AsyncMutex();
  /**
   * One migration runner at a time, within this process: the data lives in this process only (the file
   * backend's directory lock already keeps other processes out).
   */
  readonly migrationLock: MigrationLock = {
    acquire: async (timeoutMs) => {
      const release = await this.migrationMutex.acquire(
        timeoutMs,
        () => new LockError(`Waited ${timeoutMs} ms for the migration lock of the ${this.name} backend: another runner is migrating`),
      );
      return async () => release();
    },
  };

  constructor(protected readonly context: BackendContext) {
    this.timeoutMs = context.config.timeoutMs;
    this.session = this.createSession(new WriteSet(this.db));
  }

  /** The committed tables' foreign keys, as their schemas hold them (those a migration made included). */
  async readForeignKeys(): Promise<ReadonlyMap<string, readonly TableForeignKey[]>> {
    const held = new Map<string, readonly TableForeignKey[]>();
    for (const [name, table] of this.db.tables) {
      const { foreignKeys } = describeSchema(table.schema);
      if (foreignKeys) held.set(name, foreignKeys);
    }
    return held;
  }

  /** Each backend's own: the file backend copies its directory, the memory backend goes through the copy module. */
  abstract backup(targetPath: string): Promise<void>;

  /**
   * The session for reads and single writes outside a transaction. Reads see committed rows only:
   * `committed` is a write set with no writes (a search reads the committed full-text index alone). `stream` sorts a walk's matches once (where no index serves
   * the order) and hands out copies a page at a time. A subclass may wrap it (the file backend waits for durability).
   * Called from this constructor, before a subclass's fields are set: an override reads them lazily.
   */
  protected createSession(committed: WriteSet): DataSession {
    return {
      findById: async (schema, key) => committed.findById(schema, key),
      findByIds: async (schema, keys) => findByIds(committed, schema, keys),
      find: async (schema, query) => committed.find(schema, query),
      count: async (schema, where) => committed.count(schema, where),
      search: async (schema, request) => committed.search(schema, request),
      stream: async (schema, query, pageSize) => {
        const matches = committed.sortedMatches(schema, query);
        return matches && pagesOf(matches.rows, matches.copy, pageSize);
      },
      insert: (schema, row) => this.autocommit((ws) => ws.insert(schema, row)),
      upsert: (schema, row, expectedVersion, given) => this.autocommit((ws) => ws.upsert(schema, row, expectedVersion, given)),
      upsertMany: (schema, rows, options) => this.autocommit((ws) => ws.upsertMany(schema, rows, options?.given)),
      update: (schema, key, changes, expectedVersion) => this.autocommit((ws) => ws.update(schema, key, changes, expectedVersion)),
      delete: (schema, key) => this.autocommit((ws) => ws.delete(schema, key)),
      deleteMany: (schema, where) => this.autocommit((ws) => ws.deleteMany(schema, where)),
    };
  }

  /**
   * Records committed changes, called while the writer is held and before they are applied to memory.
   * A throw aborts the commit with nothing applied. By default nothing is kept (the memory backend).
   */
  protected async persist(_changes: Change[]): Promise<Persisted | void> {}

  /**
   * Records a transaction that changed the schema, called while the writer is held and before `database`
   * (every table as the transaction left it) replaces the committed tables. A throw aborts the commit
   * with nothing applied. By default nothing is kept (the memory backend).
   */
  protected async persistSchema(_database: MemoryDatabase): Promise<Persisted | void> {}

  /** Waits (up to `timeoutMs`) for the single writer; resolves to its release. */
  protected acquireWriter(): Promise<() => void> {
    return this.writer.acquire(
      this.timeoutMs,
      () => new TransactionError(`Waited ${this.timeoutMs} ms for the ${this.name} backend's writer (another transaction holds it)`),
    );
  }

  private async commitWriteSet(ws: WriteSet): Promise<Persisted | void> {
    if (ws.isEmpty) return;
    const changes = ws.changes();
    const persisted = await this.persist(changes);
    this.db.apply(changes);
    return persisted;
  }

  private async commitSchemaChange(shadow: ShadowDatabase): Promise<Persisted | void> {
    const persisted = await this.persistSchema(shadow);
    shadow.commitTo(this.db);
    return persisted;
  }

  /** Runs one write alone under the writer and commits it: what the session's writes outside a transaction do. */
  protected async autocommit<T>(fn: (ws: WriteSet) => T): Promise<T> {
    const release = await this.acquireWriter();
    let persisted: Persisted | void;
    let result: T;
    try {
      const ws = new WriteSet(this.db);
      result = fn(ws);
      persisted = await this.commitWriteSet(ws);
    } finally {
      release();
    }
    if (persisted) await persisted.durable;
    return result;
  }

  /** Waits for the writer and holds it until the transaction ends: one writer at a time, so no update is lost. */
  async begin(): Promise<TransactionHandle> {
    const release = await this.acquireWriter();
    return new EngineTransaction(this.db, (ws) => this.commitWriteSet(ws), (shadow) => this.commitSchemaChange(shadow), release);
  }

  /** Nothing to release here; the file backend compacts and unlocks its directory. */
  async close(): Promise<void> {}
}

/** `rows` (a walk's sorted snapshot) as copies, `pageSize` at a time: only the page being handed out is copied. */
async function* pagesOf(rows: Row[], copy: (row: Row) => Row, pageSize: number): AsyncGenerator<Row[]> {
  for (let start = 0; start < rows.length; start += pageSize) yield rows.slice(start, start + pageSize).map(copy);
}
