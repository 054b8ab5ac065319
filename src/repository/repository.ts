/**
 * `Repository<T, K>`: the per-entity API (README, "Repositories" and "Queries"). Subclass it per entity and add your own
 * query methods; every method joins the caller's ambient transaction, validates its input before anything
 * is written, and returns entities that share no object with storage.
 */
import { randomUUID } from "node:crypto";
import type { DataSession, Key } from "../spi/index.js";
import type { TableCache } from "../cache/table-cache.js";
import { ConcurrencyError, NotFoundError, QueryError, StorageError, ValidationError } from "../errors.js";
import { compileAfter } from "../engine/keyset.js";
import { normalizeQuery, normalizeWhere } from "../query/normalize-query.js";
import type { Field, NormalizedQuery, Query, SelectQuery, Where } from "../query/query.js";
import type { ColumnSchema, EntitySchema, Row } from "../schema/entity-schema.js";
import { ProjectionCache } from "../schema/projection-cache.js";
import { checkValue, copyValue, describeValue, invalid, makeProjectionCopier, makeRowCopier, storedValue } from "../schema/row-values.js";
import type { StorageCore } from "../storage-core.js";
import { coreOf } from "../storage-core.js";
import type { Storage } from "../storage.js";
import type { BatchResult, PreparedRow, SaveManyOptions } from "./batch-writer.js";
import { BatchWriter } from "./batch-writer.js";
import { PageCursors, sortKeyOf, withSortColumns } from "./page-cursor.js";

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
  /** With `select`: a plain object of exactly the selected fields (see {@link Query.select}). */
  findOne<S extends Field<T>>(query: SelectQuery<T, S>): Promise<Pick<T, S> | null>;
  findOne(query: Query<T>): Promise<T | null>;
  /** With `select`: plain objects of exactly the selected fields (see {@link Query.select}). */
  findAll<S extends Field<T>>(query: SelectQuery<T, S>): Promise<Pick<T, S>[]>;
  findAll(query?: Query<T>): Promise<T[]>;
  count(where?: Where<T> | Where<T>[], options?: CountOptions): Promise<number>;
  exists(id: K): Promise<boolean>;
  saveMany(entities: readonly T[], options?: SaveManyOptions): Promise<BatchResult>;
  deleteMany(where: Where<T> | Where<T>[]): Promise<number>;
  /**
   * Every match of `query` in its order, read a page at a time by keyset (`pageSize`, default 500). With
   * `select`, plain objects of exactly the selected fields (see {@link Query.select}).
   */
  iterate<S extends Field<T>>(query: SelectQuery<T, S>, options?: { pageSize?: number }): AsyncIterable<Pick<T, S>>;
  iterate(query?: Query<T>, options?: { pageSize?: number }): AsyncIterable<T>;
  /**
   * A page of at most `first` matches of `query` in its order, after the position `after` (the
   * `nextCursor` of this query's previous page), and the cursor of the next page, or null at the end.
   * A cursor of another query, or an altered one, is a `QueryError` naming `after`.
   *
   * @example
   * const page1 = await tasks.findPage({ orderBy: { createdAt: "desc" }, first: 50 });
   * const page2 = page1.nextCursor ? await tasks.findPage({ orderBy: { createdAt: "desc" }, first: 50, after: page1.nextCursor }) : undefined;
   */
  findPage(query: PageQuery<T>): Promise<Page<T>>;
}

/** The query of `findPage`: a query's where, orderBy and cache, with the page size and position instead of limit and offset. */
export type PageQuery<T> = Omit<Query<T>, "limit" | "offset"> & {
  /** The page size: a positive integer. */
  first: number;
  /** The `nextCursor` of this query's previous page; absent (or null) for the first page. */
  after?: string | null;
};

/** A page of `findPage`. */
export interface Page<T> {
  /** At most `first` entities, in the query's order. */
  items: T[];
  /** The cursor of the next page (pass it as `after`), or null when no row follows this page. */
  nextCursor: string | null;
}

/** How the rows of one projection are handed out, decided once per list of fields handed out. */
interface Projection {
  /**
   * A row fresh from the backend (the caller's already): itself when the backend read exactly the fields
   * handed out, else a copy of those (without the primary key, when it was not listed).
   */
  readonly fromBackend: (row: Row) => object;
  /** A cached row: a copy of the selected fields sharing nothing with the cache. */
  readonly fromCache: (row: Row) => object;
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
  /** Projections whose backend rows hold exactly the fields handed out (the primary key was listed). */
  private readonly exactProjections = new ProjectionCache<Projection>();
  /** Projections whose backend rows hold more than is handed out (the primary key, when it was not listed). */
  private readonly pickingProjections = new ProjectionCache<Projection>();
  private readonly asEntity = (row: Row): T => this.toEntity(row);

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
      check: (entity) => {
        this.assertEntity(entity);
        this.checkRow(entity);
      },
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

  /**
   * How the rows of `normalized` are handed out: entities, or for a projection plain objects of exactly the
   * fields the caller listed. The backend always returns the primary key (the SPI's rule); it is dropped
   * here when the caller did not list it, so that the object matches its type, `Pick<T, S>`.
   */
  private projection(query: Query<T, Field<T>> | undefined, normalized: NormalizedQuery): Projection | undefined {
    const select = normalized.select;
    if (select === undefined) return undefined;
    // What is handed out is what the caller listed: the backend reads the primary key besides (and a
    // reader such as keyset iteration may add the columns it needs), which the object must not show.
    const listed = query!.select as readonly string[];
    const fields = select.filter((c) => listed.includes(c.property));
    if (fields.length === select.length) {
      return this.exactProjections.get(fields, (columns) => ({ fromBackend: (row) => row, fromCache: makeProjectionCopier(columns) }));
    }
    return this.pickingProjections.get(fields, (columns) => ({ fromBackend: makeProjectionCopier(columns, { shallow: true }), fromCache: makeProjectionCopier(columns) }));
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
    return { row, expectedVersion: this.expectedVersion(entity), generatedKey };
  }

  /**
   * The checks of {@link Repository.prepareRow}, in its order and with its errors, building nothing:
   * `saveMany` checks every entity before writing any, and builds each row only when its chunk is written.
   */
  private checkRow(entity: Record<string, unknown>): void {
    for (const column of this.schema.columns) {
      const value = entity[column.property];
      if (column.primary && (value === undefined || value === null)) {
        if (column.generated === undefined) invalid(this.schema, column.property, "the primary key is missing (it is not generated)");
        continue;
      }
      if (column.role === "version" || column.role === "updateDate" || (column.role === "createDate" && (value === undefined || value === null))) continue;
      checkValue(this.schema, column, value !== undefined ? value : column.default === undefined ? null : column.default);
    }
    this.expectedVersion(entity);
  }

  /** The version the caller read, from the entity's version column (undefined when absent or null). */
  private expectedVersion(entity: Record<string, unknown>): number | undefined {
    const version = this.schema.version ? entity[this.schema.version.property] : undefined;
    if (version !== undefined && version !== null && !Number.isSafeInteger(version)) {
      invalid(this.schema, this.schema.version!.property, `expected an integer version, got ${describeValue(version)}`);
    }
    return (version ?? undefined) as number | undefined;
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
   * invalid id still rejects, never throws. The cache's lookup is inside the `try` too: a hit makes the
   * entity on this stack, where a throwing column setter of the entity class would otherwise escape.
   */
  findById(id: K): Promise<T | null> {
    try {
      const key = this.checkKey(id);
      const cache = this.cacheForRead();
      return cache ? (cache.findById(key) as Promise<T | null>) : this.readById(key);
    } catch (error) {
      return Promise.reject(error);
    }
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

  /**
   * The first match of `query` in its order, or null. With `select`, a plain object holding exactly the
   * selected fields (see {@link Query.select}).
   */
  findOne<S extends Field<T>>(query: SelectQuery<T, S>): Promise<Pick<T, S> | null>;
  findOne(query: Query<T>): Promise<T | null>;
  async findOne(query: Query<T, Field<T>>): Promise<object | null> {
    const normalized = { ...normalizeQuery(this.schema, query), limit: 1 };
    const projection = this.projection(query, normalized);
    const cached = this.queryCache(query?.cache);
    if (cached) {
      const load = () => this.core.backend.session.find(this.schema, normalized);
      const found = await cached.cache.query("rows", normalized, cached.ttlMs, load, projection?.fromCache);
      return found[0] ?? null;
    }
    const rows = await this.session().find(this.schema, normalized);
    return rows[0] ? (projection ? projection.fromBackend(rows[0]) : this.toEntity(rows[0])) : null;
  }

  /**
   * Every match of `query` in its order. With `select`, plain objects holding exactly the selected fields
   * (see {@link Query.select}).
   */
  findAll<S extends Field<T>>(query: SelectQuery<T, S>): Promise<Pick<T, S>[]>;
  findAll(query?: Query<T>): Promise<T[]>;
  async findAll(query?: Query<T, Field<T>>): Promise<object[]> {
    const normalized = normalizeQuery(this.schema, query);
    const projection = this.projection(query, normalized);
    const cached = this.queryCache(query?.cache);
    if (cached) {
      const load = () => this.core.backend.session.find(this.schema, normalized);
      return cached.cache.query("rows", normalized, cached.ttlMs, load, projection?.fromCache);
    }
    const rows = await this.session().find(this.schema, normalized);
    return rows.map(projection ? projection.fromBackend : this.asEntity);
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

  /**
   * Every match of `query`, fetched a page at a time (`pageSize`, default 500), in the query's order. Each
   * page after the first starts after the last row of the one before (a keyset position, never an
   * OFFSET): no page counts the rows before it, the walk is linear where an index serves the order
   * (README, "Iterating and paging"), and a row written or deleted meanwhile never makes another one repeat
   * or vanish. Outside a transaction, where no index serves the order, a backend that can (SQLite on a WAL
   * file, memory, file: the SPI's `DataSession.stream`) answers the query once from a snapshot taken when
   * the walk starts instead, and hands it out page by page; leaving the loop early (`break`, a throw)
   * releases the snapshot. `limit` and `offset` apply to the whole walk. Inside a transaction, it reads
   * through the transaction. With `select`, plain objects holding exactly the selected fields (see {@link Query.select}).
   */
  iterate<S extends Field<T>>(query: SelectQuery<T, S>, options?: { pageSize?: number }): AsyncIterable<Pick<T, S>>;
  iterate(query?: Query<T>, options?: { pageSize?: number }): AsyncIterable<T>;
  async *iterate(query: Query<T, Field<T>> = {}, options: { pageSize?: number } = {}): AsyncIterable<object> {
    const pageSize = options.pageSize ?? 500;
    if (!Number.isSafeInteger(pageSize) || pageSize < 1) {
      throw new ValidationError(`${this.schema.entityName}: iterate pageSize must be a positive integer, got ${describeValue(pageSize)}`, {
        table: this.schema.table,
      });
    }
    const normalized = withSortColumns(normalizeQuery(this.schema, query));
    const handOut = this.projection(query, normalized)?.fromBackend ?? this.asEntity;
    // Outside a transaction the backend may answer the whole walk from one snapshot (a keyset page would
    // sort every match again where no index serves the order); a transaction's walk must see its own writes.
    const stream = this.core.transactions.current() === undefined ? await this.core.backend.session.stream?.(this.schema, normalized, pageSize) : undefined;
    if (stream) {
      // `for await` calls the stream's return() when the caller leaves this loop early, releasing its snapshot.
      for await (const rows of stream) for (const row of rows) yield handOut(row);
      return;
    }
    let page: NormalizedQuery = normalized;
    let remaining = normalized.limit ?? Infinity;
    while (remaining > 0) {
      const limit = Math.min(pageSize, remaining);
      const rows = await this.session().find(this.schema, { ...page, limit });
      if (page.after && rows[0] && !compileAfter(normalized.orderBy, page.after)(rows[0])) this.ignoredAfter();
      // The next position is read before the rows go out: the caller may change what it is given.
      const last = rows.length === limit ? rows[rows.length - 1] : undefined;
      const after = last && sortKeyOf(normalized.orderBy, last);
      for (const row of rows) yield handOut(row);
      if (after === undefined) return;
      remaining -= rows.length;
      // The user's offset applied to the first page only; from here on the position does the skipping.
      page = { ...normalized, offset: 0, after };
    }
  }

  /** A backend answered a keyset page with a row before its position: walking on would repeat pages forever. */
  private ignoredAfter(): never {
    throw new StorageError(
      `${this.schema.entityName}: the ${this.core.backend.name} backend returned a row that is not after the page's keyset position: it ignores NormalizedQuery.after (see the SPI's query semantics, and run the exported conformance suites against it)`,
      { table: this.schema.table },
    );
  }

  /**
   * One page of `query`'s matches by keyset: at most `first` entities in the query's order (its `orderBy`,
   * then the primary key), starting after the position `after` (a `nextCursor` of an earlier page of the
   * same query), or at the start. `nextCursor` is null when no row follows the page.
   *
   * A cursor is opaque (README, "Iterating and paging"): it holds the last row's sort values and a mark of the query's
   * where and orderBy; a cursor of another query, or one altered or malformed, is a `QueryError` naming
   * `after`. `limit` and `offset` do not apply (a `QueryError`): `first` is the page size and the cursor
   * the position. `select` is a `QueryError` too: a page holds whole entities. `cache` caches each page as `findAll` would, until the next write to the table.
   *
   * @example
   * let page = await tasks.findPage({ where: { status: "open" }, orderBy: { priority: "desc" }, first: 20 });
   * while (page.nextCursor) page = await tasks.findPage({ where: { status: "open" }, orderBy: { priority: "desc" }, first: 20, after: page.nextCursor });
   */
  async findPage(query: PageQuery<T>): Promise<Page<T>> {
    const { first, after, ...rest } = this.pageQuery(query);
    const normalized = normalizeQuery(this.schema, rest);
    const cursors = new PageCursors(this.schema, normalized);
    // One row more than the page says whether another page follows.
    const paged: NormalizedQuery = { ...normalized, limit: first + 1, ...(after === undefined || after === null ? {} : { after: cursors.decode(after) }) };
    const cached = this.queryCache(rest.cache);
    const rows = cached
      ? ((await cached.cache.query("rows", paged, cached.ttlMs, () => this.core.backend.session.find(this.schema, paged))) as T[])
      : (await this.session().find(this.schema, paged)).map(this.asEntity);
    if (rows.length <= first) return { items: rows, nextCursor: null };
    rows.length = first;
    return { items: rows, nextCursor: cursors.encode(rows[first - 1] as Row) };
  }

  /** `query` checked as findPage takes it: `first` a positive integer, no `limit`, `offset` or `select`. */
  private pageQuery(query: PageQuery<T>): PageQuery<T> {
    const fail = (message: string, field?: string): never => {
      throw new QueryError(`${this.schema.entityName}: findPage ${message}`, { table: this.schema.table, ...(field ? { field } : {}) });
    };
    if (!isPlainData(query)) fail(`needs a query object with first (the page size), got ${describeValue(query)}`);
    const first: unknown = query.first;
    if (!Number.isSafeInteger(first) || (first as number) < 1) fail(`first must be a positive integer (the page size), got ${describeValue(first)}`, "first");
    for (const option of ["limit", "offset"] as const) {
      if ((query as Record<string, unknown>)[option] !== undefined) {
        fail(`takes no ${option}: first is the page size and after (a nextCursor) the position; use findAll or iterate for ${option}`, option);
      }
    }
    // PageQuery holds no select (its type says so): a projection would leave the rows without the sort
    // values the next cursor is made of, and a later page would start in the wrong place.
    if ((query as Record<string, unknown>)["select"] !== undefined) {
      fail("takes no select: it returns whole entities (use iterate for a projection walked by keyset)", "select");
    }
    return query;
  }
}
