/**
 * `Repository<T, K>`: the per-entity API (README, "Repositories" and "Queries"). Subclass it per entity and add your own
 * query methods; every method joins the caller's ambient transaction, validates its input before anything
 * is written, and returns entities that share no object with storage.
 */
import { randomUUID } from "node:crypto";
import type { DataSession, Key } from "../spi/index.js";
import type { TableCache } from "../cache/table-cache.js";
import { ConcurrencyError, NotFoundError, ValidationError } from "../errors.js";
import { normalizeQuery, normalizeWhere } from "../query/normalize-query.js";
import type { Query, Where } from "../query/query.js";
import type { ColumnSchema, EntitySchema, Row } from "../schema/entity-schema.js";
import { checkValue, copyValue, describeValue, invalid, makeRowCopier, storedValue } from "../schema/row-values.js";
import type { StorageCore } from "../storage-core.js";
import { coreOf } from "../storage-core.js";
import type { Storage } from "../storage.js";
import type { BatchResult, PreparedRow, SaveManyOptions } from "./batch-writer.js";
import { BatchWriter } from "./batch-writer.js";

export type { BatchResult, SaveManyOptions } from "./batch-writer.js";

/** Options of `count`. */
export interface CountOptions {
  /** Cache the count until the next write to the table, as `Query.cache`. */
  cache?: boolean | { ttlMs: number };
}

/** The public repository interface. */
export interface IRepository<T extends object, K extends Key = Key> {
  save(entity: T): Promise<T>;
  insert(entity: T): Promise<T>;
  update(id: K, patch: Partial<T>): Promise<T>;
  delete(id: K): Promise<boolean>;
  findById(id: K): Promise<T | null>;
  findByIds(ids: readonly K[]): Promise<T[]>;
  findOne(query: Query<T>): Promise<T | null>;
  findAll(query?: Query<T>): Promise<T[]>;
  count(where?: Where<T> | Where<T>[], options?: CountOptions): Promise<number>;
  exists(id: K): Promise<boolean>;
  saveMany(entities: readonly T[], options?: SaveManyOptions): Promise<BatchResult>;
  deleteMany(where: Where<T> | Where<T>[]): Promise<number>;
  iterate(query?: Query<T>, options?: { pageSize?: number }): AsyncIterable<T>;
}

/** An entity class. */
export type EntityClass<T extends object = object> = abstract new (...args: never[]) => T;

function isPlainData(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export class Repository<T extends object, K extends Key = Key> implements IRepository<T, K> {
  /** The entity's schema, read from its decorators. */
  protected readonly schema: EntitySchema;
  private readonly core: StorageCore;
  private readonly prototype: object;
  private readonly pk: ColumnSchema;
  /** A fresh entity for a repeated id of `findByIds`: Dates cloned, json deep-copied, decided once for the schema. */
  private readonly copyEntity: (row: Row) => Row;
  private tableCache: TableCache | undefined;
  private readonly batches: BatchWriter;

  constructor(storage: Storage, entity: EntityClass<T>) {
    this.core = coreOf(storage);
    this.schema = this.core.schemaOf(entity as unknown as Function);
    this.prototype = (entity as unknown as Function).prototype as object;
    this.pk = this.schema.primary;
    this.copyEntity = makeRowCopier(this.schema, this.prototype);
    this.batches = new BatchWriter({
      schema: this.schema,
      transactions: this.core.transactions,
      supportsSavepoints: this.core.backend.capabilities.supportsSavepoints,
      session: () => this.session(),
      prepare: (entity, now) => {
        this.assertEntity(entity);
        return this.prepareRow(entity, now);
      },
      conflict: (key, expected) => this.conflict(key, expected),
    });
  }

  /** The session of the ambient transaction, else the backend's autocommit session. */
  private session(): DataSession {
    return this.core.transactions.current()?.session ?? this.core.backend.session;
  }

  // --- cache seams: reads outside a transaction go through the table's cache (src/cache/), when it is on.
  /** Inside a transaction, reads bypass the cache: they must see the transaction's own writes. */
  private cacheForRead(): TableCache | undefined {
    const cache = this.core.cache;
    if (cache === undefined || this.core.transactions.current() !== undefined) return undefined;
    return (this.tableCache ??= cache.table(this.schema));
  }

  private queryCache(option: Query<T>["cache"]): { cache: TableCache; ttlMs: number | undefined } | undefined {
    if (!option) return undefined;
    const cache = this.cacheForRead();
    return cache && { cache, ttlMs: option === true ? undefined : option.ttlMs };
  }
  // --- end of cache seams

  private toEntity(row: Row): T {
    return Object.assign(Object.create(this.prototype) as T, row);
  }

  private checkKey(id: unknown): Key {
    if (id === null || id === undefined) invalid(this.schema, this.pk.property, "the id is missing");
    checkValue(this.schema, this.pk, id);
    return id as Key;
  }

  private assertEntity(entity: unknown): asserts entity is Record<string, unknown> {
    if (!isPlainData(entity)) {
      throw new ValidationError(`${this.schema.entityName}: expected an entity object, got ${describeValue(entity)}`, { table: this.schema.table });
    }
    for (const key of Object.keys(entity)) {
      if (!this.schema.columnsByProperty.has(key) && entity[key] !== undefined) {
        invalid(this.schema, key, `"${key}" is not a column of ${this.schema.entityName}`);
      }
    }
  }

  /**
   * Builds the complete row to write for a new or replaced entity: defaults, generated uuid,
   * timestamps and the first version. Returns it with the version the caller read (if any).
   */
  private prepareRow(entity: Record<string, unknown>, now: Date): PreparedRow {
    const row: Row = {};
    let generatedKey = false;
    for (const column of this.schema.columns) {
      let value = entity[column.property];
      if (column.primary && (value === undefined || value === null)) {
        if (column.generated === "uuid") value = randomUUID();
        else if (column.generated === "increment") value = null;
        else invalid(this.schema, column.property, "the primary key is missing (it is not generated)");
        generatedKey = true;
        row[column.property] = value;
        continue;
      }
      if (column.role === "version") {
        row[column.property] = 1;
        continue;
      }
      if (column.role === "updateDate" || (column.role === "createDate" && (value === undefined || value === null))) {
        row[column.property] = now;
        continue;
      }
      if (value === undefined) value = column.default === undefined ? null : copyValue(column, column.default);
      checkValue(this.schema, column, value);
      row[column.property] = storedValue(column, value);
    }
    const version = this.schema.version ? entity[this.schema.version.property] : undefined;
    if (version !== undefined && version !== null && !Number.isSafeInteger(version)) {
      invalid(this.schema, this.schema.version!.property, `expected an integer version, got ${describeValue(version)}`);
    }
    return { row, expectedVersion: (version ?? undefined) as number | undefined, generatedKey };
  }

  private conflict(key: Key, expected: number | undefined): never {
    throw new ConcurrencyError(
      `${this.schema.entityName} ${JSON.stringify(key)} was changed by someone else since version ${expected} was read; read it again and retry`,
      { table: this.schema.table, field: this.schema.version?.property, ...(expected !== undefined ? { version: expected } : {}) },
    );
  }

  /** Inserts the entity, or replaces the stored one with the same primary key. Fields left undefined get their default (or null). */
  async save(entity: T): Promise<T> {
    this.assertEntity(entity);
    const { row, expectedVersion, generatedKey } = this.prepareRow(entity, new Date());
    const session = this.session();
    let stored: Row;
    if (generatedKey) stored = await session.insert(this.schema, row);
    else {
      const result = await session.upsert(this.schema, row, expectedVersion);
      if (result === "conflict") this.conflict(row[this.pk.property] as Key, expectedVersion);
      stored = result;
    }
    this.core.transactions.noteWrite(this.schema.table, stored[this.pk.property] as Key);
    return this.toEntity(stored);
  }

  /** Inserts a new entity; `IntegrityError` when its key or a unique value exists. */
  async insert(entity: T): Promise<T> {
    this.assertEntity(entity);
    const { row } = this.prepareRow(entity, new Date());
    const stored = await this.session().insert(this.schema, row);
    this.core.transactions.noteWrite(this.schema.table, stored[this.pk.property] as Key);
    return this.toEntity(stored);
  }

  /**
   * Changes the given fields of the stored entity. With a version in `patch`, the update happens only if
   * the stored version still equals it (`ConcurrencyError` otherwise).
   */
  async update(id: K, patch: Partial<T>): Promise<T> {
    const key = this.checkKey(id);
    this.assertEntity(patch);
    const changes: Row = {};
    let expectedVersion: number | undefined;
    for (const [property, value] of Object.entries(patch)) {
      if (value === undefined) continue;
      const column = this.schema.columnsByProperty.get(property)!;
      if (column.primary) {
        if (value !== key) invalid(this.schema, property, "the primary key cannot be changed by update");
        continue;
      }
      if (column.role === "version") {
        if (!Number.isSafeInteger(value)) invalid(this.schema, property, `expected an integer version, got ${describeValue(value)}`);
        expectedVersion = value as number;
        continue;
      }
      checkValue(this.schema, column, value);
      changes[property] = storedValue(column, value);
    }
    if (this.schema.updateDate) changes[this.schema.updateDate.property] = new Date();
    const outcome = await this.session().update(this.schema, key, changes, expectedVersion);
    if (outcome === "missing") {
      throw new NotFoundError(`${this.schema.entityName} ${JSON.stringify(key)} does not exist (table "${this.schema.table}")`, {
        table: this.schema.table,
      });
    }
    if (outcome === "conflict") this.conflict(key, expectedVersion);
    this.core.transactions.noteWrite(this.schema.table, key);
    return this.toEntity(outcome.row);
  }

  /** Deletes by primary key; `true` if a row was deleted. */
  async delete(id: K): Promise<boolean> {
    const key = this.checkKey(id);
    const deleted = await this.session().delete(this.schema, key);
    if (deleted) this.core.transactions.noteWrite(this.schema.table, key);
    return deleted;
  }

  /**
   * The entity with primary key `id`, or null. Not `async`, so that a cache hit hands back the cache's own
   * promise instead of wrapping it in two more (an L1 hit is as cheap as the promises made for it); an
   * invalid id still rejects, never throws.
   */
  findById(id: K): Promise<T | null> {
    let key: Key;
    let cache: TableCache | undefined;
    try {
      key = this.checkKey(id);
      cache = this.cacheForRead();
    } catch (error) {
      return Promise.reject(error);
    }
    if (cache) return cache.findById(key) as Promise<T | null>;
    return this.readById(key);
  }

  private async readById(key: Key): Promise<T | null> {
    const row = await this.session().findById(this.schema, key);
    return row === null ? null : this.toEntity(row);
  }

  /** The entities found, in the order of `ids` (missing ones left out). */
  async findByIds(ids: readonly K[]): Promise<T[]> {
    if (!Array.isArray(ids)) invalid(this.schema, this.pk.property, `expected an array of ids, got ${describeValue(ids)}`);
    const keys = [...new Set(ids.map((id) => this.checkKey(id)))];
    if (keys.length === 0) return [];
    const cache = this.cacheForRead();
    const rows = cache ? [...(await cache.findByIds(keys)).values()] : await this.session().findByIds(this.schema, keys);
    const byKey = new Map(rows.map((r) => [r[this.pk.property] as Key, r]));
    const out: T[] = [];
    const handedOut = new Set<Key>();
    for (const id of ids) {
      const row = byKey.get(id);
      if (!row) continue;
      if (cache) {
        out.push(cache.copyOut(row) as T);
        continue;
      }
      // A repeated id gets its own copy (Dates and json included): no two returned entities share an object.
      out.push(handedOut.has(id) ? (this.copyEntity(row) as T) : this.toEntity(row));
      handedOut.add(id);
    }
    return out;
  }

  async findOne(query: Query<T>): Promise<T | null> {
    const normalized = { ...normalizeQuery(this.schema, query), limit: 1 };
    const cached = this.queryCache(query?.cache);
    if (cached) {
      const found = await cached.cache.query("rows", normalized, cached.ttlMs, () => this.core.backend.session.find(this.schema, normalized));
      return (found[0] as T | undefined) ?? null;
    }
    const rows = await this.session().find(this.schema, normalized);
    return rows[0] ? this.toEntity(rows[0]) : null;
  }

  async findAll(query?: Query<T>): Promise<T[]> {
    const normalized = normalizeQuery(this.schema, query);
    const cached = this.queryCache(query?.cache);
    if (cached) return cached.cache.query("rows", normalized, cached.ttlMs, () => this.core.backend.session.find(this.schema, normalized)) as Promise<T[]>;
    const rows = await this.session().find(this.schema, normalized);
    return rows.map((r) => this.toEntity(r));
  }

  /** How many entities match `where`; `{ cache: true }` caches the count until the next write to the table. */
  async count(where?: Where<T> | Where<T>[], options: CountOptions = {}): Promise<number> {
    const normalized = normalizeWhere(this.schema, where);
    if (options.cache !== undefined) normalizeQuery(this.schema, { cache: options.cache }); // validated as Query.cache is
    const cached = this.queryCache(options.cache);
    if (cached) return cached.cache.query("count", normalized, cached.ttlMs, () => this.core.backend.session.count(this.schema, normalized));
    return this.session().count(this.schema, normalized);
  }

  async exists(id: K): Promise<boolean> {
    return (await this.findById(id)) !== null;
  }

  /** Deletes every entity matching `where` (pass `{}` to delete all); returns how many. */
  async deleteMany(where: Where<T> | Where<T>[]): Promise<number> {
    if (where === undefined) {
      throw new ValidationError(`${this.schema.entityName}: deleteMany needs a where; pass {} to delete every row`, { table: this.schema.table });
    }
    const normalized = normalizeWhere(this.schema, where);
    const deleted = await this.session().deleteMany(this.schema, normalized);
    if (deleted > 0) this.core.transactions.noteWrite(this.schema.table);
    return deleted;
  }

  /**
   * Saves many entities in chunks. Atomic (the default): every entity is validated first, then all are
   * written in one transaction (a savepoint inside an ambient one); the first failure throws, naming the
   * item, and nothing is written. With `atomic: false`, each chunk commits on its own and failures are
   * reported per entity in `errors`.
   */
  saveMany(entities: readonly T[], options: SaveManyOptions = {}): Promise<BatchResult> {
    return this.batches.saveMany(entities, options);
  }

  /** Every match of `query`, fetched a page at a time (`pageSize`, default 500), in the query's order. */
  async *iterate(query: Query<T> = {}, options: { pageSize?: number } = {}): AsyncIterable<T> {
    const pageSize = options.pageSize ?? 500;
    if (!Number.isSafeInteger(pageSize) || pageSize < 1) {
      throw new ValidationError(`${this.schema.entityName}: iterate pageSize must be a positive integer, got ${describeValue(pageSize)}`, {
        table: this.schema.table,
      });
    }
    const normalized = normalizeQuery(this.schema, query);
    let offset = normalized.offset;
    let remaining = normalized.limit ?? Infinity;
    while (remaining > 0) {
      const limit = Math.min(pageSize, remaining);
      const rows = await this.session().find(this.schema, { ...normalized, offset, limit });
      for (const row of rows) yield this.toEntity(row);
      if (rows.length < limit) return;
      offset += rows.length;
      remaining -= rows.length;
    }
  }
}
