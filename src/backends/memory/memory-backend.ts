/**
 * The memory backend: the table engine, a single serialized writer, and nothing on disk.
 * The file backend extends it with persistence ({@link MemoryBackend.persist}) and a directory lock.
 */
import { DEFAULT_CAPABILITIES } from "../../spi/index.js";
import type {
  Backend,
  BackendCapabilities,
  BackendContext,
  DataSession,
  Key,
  MigrationLock,
  SchemaEditor,
  TransactionHandle,
  UpdateOutcome,
} from "../../spi/index.js";
import type { Change } from "../../engine/table-engine.js";
import { MemoryDatabase, WriteSet } from "../../engine/table-engine.js";
import * as path from "node:path";
import type { ResolvedConfig } from "../../config/storage-config.js";
import { ConfigError, LockError, TransactionError } from "../../errors.js";
import { MemorySchemaEditor, ShadowDatabase } from "./memory-schema-editor.js";
import type { NormalizedQuery, NormalizedWhere } from "../../query/query.js";
import type { EntitySchema, Row } from "../../schema/entity-schema.js";
import { AsyncMutex } from "../../util/async-mutex.js";

/**
 * What {@link MemoryBackend.persist} may return: `durable` settles once the changes survive a crash.
 * The writer is released before it is awaited, so commits queued behind this one can append meanwhile
 * and share the next flush (group commit); the committing caller still hears back only once it settles.
 */
export interface Persisted {
  readonly durable: Promise<void>;
}

export class MemoryBackend implements Backend {
  readonly name: string = "memory";
  /** Schema changes run on a shadow copy swapped in at commit: DDL is transactional here. */
  readonly capabilities: BackendCapabilities = { ...DEFAULT_CAPABILITIES, supportsSavepoints: true, supportsTransactionalDdl: true };
  readonly db = new MemoryDatabase();
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
    if (context.config.autoCreate) for (const schema of context.schemas) this.db.ensureTable(schema);
    this.session = this.createSession(new WriteSet(this.db));
  }

  /**
   * The session for reads and single writes outside a transaction. Reads see committed rows only:
   * `committed` is a write set with no writes. A subclass may wrap it (the file backend waits for durability).
   */
  protected createSession(committed: WriteSet): DataSession {
    return {
      findById: async (schema, key) => committed.findById(schema, key),
      findByIds: async (schema, keys) => findByIds(committed, schema, keys),
      find: async (schema, query) => committed.find(schema, query),
      count: async (schema, where) => committed.count(schema, where),
      insert: (schema, row) => this.autocommit((ws) => ws.insert(schema, row)),
      upsert: (schema, row, expectedVersion) => this.autocommit((ws) => ws.upsert(schema, row, expectedVersion)),
      upsertMany: (schema, rows) => this.autocommit((ws) => ws.upsertMany(schema, rows)),
      update: (schema, key, changes, expectedVersion) => this.autocommit((ws) => ws.update(schema, key, changes, expectedVersion)),
      delete: (schema, key) => this.autocommit((ws) => ws.delete(schema, key)),
      deleteMany: (schema, where) => this.autocommit((ws) => ws.deleteMany(schema, where)),
    };
  }

  /**
   * Records committed changes, called while the writer is held and before they are applied to memory.
   * A throw aborts the commit with nothing applied. The memory backend keeps nothing.
   */
  protected async persist(_changes: Change[]): Promise<Persisted | void> {}

  /**
   * Commits a transaction that changed the schema: `shadow` holds every table as the transaction left
   * it. A persistent subclass writes it durably (e.g. as a new snapshot) before calling this.
   */
  protected async commitSchemaChange(shadow: ShadowDatabase): Promise<Persisted | void> {
    shadow.commitTo(this.db);
  }

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

  async begin(): Promise<TransactionHandle> {
    const release = await this.acquireWriter();
    return new MemoryTransaction(this.db, (ws) => this.commitWriteSet(ws), (shadow) => this.commitSchemaChange(shadow), release);
  }

  /**
   * Writes the data as a file-backend directory (a new or empty one), which `createStorage("file:" + path)`
   * opens: the only way a memory storage's data outlives it.
   */
  async backup(targetPath: string): Promise<void> {
    if (typeof targetPath !== "string" || targetPath === "") throw new ConfigError(["backup: expected a target directory path"]);
    // Loaded here: the file backend and the copier build on this module, not the other way round.
    const [{ FileBackend }, { copyBackend }] = await Promise.all([import("../file/file-backend.js"), import("../../migrations/copy-storage.js")]);
    const target = path.resolve(targetPath);
    const config: ResolvedConfig = { ...this.context.config, backend: "file", url: `file:${target}`, path: target, autoCreate: false, cache: false };
    const copy = await FileBackend.open({ config, schemas: [], logger: this.context.logger });
    try {
      await copyBackend(this, copy, {}, `the backup directory ${target}`);
    } finally {
      await copy.close();
    }
  }

  async close(): Promise<void> {}
}

function findByIds(ws: WriteSet, schema: EntitySchema, keys: readonly Key[]): Row[] {
  const out: Row[] = [];
  for (const key of keys) {
    const row = ws.findById(schema, key);
    if (row) out.push(row);
  }
  return out;
}

/**
 * A transaction on the engine: its write set, applied at commit, while it holds the writer. Once it asks
 * for the schema editor, it works on a shadow database instead, swapped in whole at commit.
 */
class MemoryTransaction implements TransactionHandle {
  private done = false;
  private ws: WriteSet;
  private shadow: ShadowDatabase | undefined;
  private editor: SchemaEditor | undefined;

  constructor(
    private readonly db: MemoryDatabase,
    private readonly commitChanges: (ws: WriteSet) => Promise<Persisted | void>,
    private readonly commitSchema: (shadow: ShadowDatabase) => Promise<Persisted | void>,
    private readonly release: () => void,
  ) {
    this.ws = new WriteSet(db);
  }

  schema(): SchemaEditor {
    this.open();
    if (!this.editor) {
      this.shadow = new ShadowDatabase(this.db);
      this.foldWrites();
      this.editor = new MemorySchemaEditor(this.shadow, () => this.foldWrites());
    }
    return this.editor;
  }

  /** Moves the row writes made so far into the shadow, so that the next DDL sees them. */
  private foldWrites(): void {
    const shadow = this.shadow!;
    if (!this.ws.isEmpty) shadow.apply(this.ws.changes());
    // A migration sees every column, including those its entity does not declare.
    this.ws = new WriteSet(shadow, true);
  }

  private open(): WriteSet {
    if (this.done) throw new TransactionError("The transaction has already ended");
    return this.ws;
  }

  async findById(schema: EntitySchema, key: Key): Promise<Row | null> {
    return this.open().findById(schema, key);
  }
  async findByIds(schema: EntitySchema, keys: readonly Key[]): Promise<Row[]> {
    return findByIds(this.open(), schema, keys);
  }
  async find(schema: EntitySchema, query: NormalizedQuery): Promise<Row[]> {
    return this.open().find(schema, query);
  }
  async count(schema: EntitySchema, where: NormalizedWhere): Promise<number> {
    return this.open().count(schema, where);
  }
  async insert(schema: EntitySchema, row: Row): Promise<Row> {
    return this.open().insert(schema, row);
  }
  async upsert(schema: EntitySchema, row: Row, expectedVersion?: number): Promise<Row | "conflict"> {
    return this.open().upsert(schema, row, expectedVersion);
  }
  async upsertMany(schema: EntitySchema, rows: readonly Row[]): Promise<Row[]> {
    return this.open().upsertMany(schema, rows);
  }
  async update(schema: EntitySchema, key: Key, changes: Row, expectedVersion?: number): Promise<UpdateOutcome> {
    return this.open().update(schema, key, changes, expectedVersion);
  }
  async delete(schema: EntitySchema, key: Key): Promise<boolean> {
    return this.open().delete(schema, key);
  }
  async deleteMany(schema: EntitySchema, where: NormalizedWhere): Promise<number> {
    return this.open().deleteMany(schema, where);
  }
  async savepoint(name: string): Promise<void> {
    this.open().savepoint(name);
  }
  async rollbackToSavepoint(name: string): Promise<void> {
    this.open().rollbackToSavepoint(name);
  }
  async releaseSavepoint(name: string): Promise<void> {
    this.open().releaseSavepoint(name);
  }
  async commit(): Promise<void> {
    const ws = this.open();
    this.done = true;
    let persisted: Persisted | void;
    try {
      if (this.shadow) {
        this.foldWrites();
        persisted = await this.commitSchema(this.shadow);
      } else persisted = await this.commitChanges(ws);
    } finally {
      this.release();
    }
    if (persisted) await persisted.durable;
  }
  async rollback(): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.release();
  }
}

/** The factory registered as `memory`. */
export async function createMemoryBackend(context: BackendContext): Promise<Backend> {
  return new MemoryBackend(context);
}
