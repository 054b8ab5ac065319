/** A transaction on the engine, as the SPI's `TransactionHandle`: the transactions of {@link EngineBackend}. */
import type { Key, SchemaEditor, SearchHit, SearchRequest, TransactionHandle, UpdateOutcome, UpsertManyOptions } from "../spi/index.js";
import type { MemoryDatabase } from "../engine/table-engine.js";
import { WriteSet } from "../engine/table-engine.js";
import { MemorySchemaEditor, ShadowDatabase } from "../engine/memory-schema-editor.js";
import { TransactionError } from "../errors.js";
import type { NormalizedQuery, NormalizedWhere } from "../query/query.js";
import type { EntitySchema, Row } from "../schema/entity-schema.js";

/**
 * What a persist hook may return: `durable` settles once the changes survive a crash.
 * The writer is released before it is awaited, so commits queued behind this one can append meanwhile
 * and share the next flush (group commit); the committing caller still hears back only once it settles.
 */
export interface Persisted {
  readonly durable: Promise<void>;
}

/** The rows of `keys` found in `ws`, in the order of `keys`. */
export function findByIds(ws: WriteSet, schema: EntitySchema, keys: readonly Key[]): Row[] {
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
export class EngineTransaction implements TransactionHandle {
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
  async search(schema: EntitySchema, request: SearchRequest): Promise<SearchHit[]> {
    return this.open().search(schema, request);
  }
  async insert(schema: EntitySchema, row: Row): Promise<Row> {
    return this.open().insert(schema, row);
  }
  async upsert(schema: EntitySchema, row: Row, expectedVersion?: number, given?: readonly string[]): Promise<Row | "conflict"> {
    return this.open().upsert(schema, row, expectedVersion, given);
  }
  async upsertMany(schema: EntitySchema, rows: readonly Row[], options?: UpsertManyOptions): Promise<Row[]> {
    return this.open().upsertMany(schema, rows, options?.given);
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
