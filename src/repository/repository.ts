/**
 * `Repository<T, K>`: the per-entity API (README, "Repositories" and "Queries"). Subclass it per entity and add your own
 * query methods; every method joins the caller's ambient transaction, validates its input before anything
 * is written, and returns entities that share no object with storage.
 */
import { randomUUID } from "node:crypto";
import type { DataSession, Key } from "../spi/index.js";
import type { TableCache } from "../cache/table-cache.js";
import { ConcurrencyError, IntegrityError, NotFoundError, QueryError, StorageError, UnsupportedError, ValidationError } from "../errors.js";
import { compileAfter } from "../engine/keyset.js";
import { normalizeQuery, normalizeWhere } from "../query/normalize-query.js";
import type { Field, Include, NormalizedQuery, NormalizedWhere, Query, RelationProperty, SelectQuery, Where } from "../query/query.js";
import { resolveRelationFilters } from "../query/resolve-relations.js";
import { hasRelationFilter, tablesRead } from "../query/tables-read.js";
import type { ColumnSchema, EntitySchema, RelationSchema, Row } from "../schema/entity-schema.js";
import { ProjectionCache } from "../schema/projection-cache.js";
import { checkValue, copyValue, describeValue, emptyRowMaker, invalid, makeEntityMaker, makeProjectionCopier, makeRowCopier, storedValue } from "../schema/row-values.js";
import { parseSearchQuery } from "../search/search-parser.js";
import type { SearchQuery } from "../search/search-query.js";
import { buildSnippet, SNIPPET_DEFAULTS, type SnippetOptions } from "../search/search-snippet.js";
import type { SearchHit } from "../spi/data-session.js";
import type { StorageCore } from "../storage-core.js";
import { coreOf } from "../storage-core.js";
import type { Storage } from "../storage.js";
import type { BatchResult, PreparedRow, SaveManyOptions } from "./batch-writer.js";
import { BatchWriter } from "./batch-writer.js";
import { PageCursors, sortKeyOf, withSortColumns } from "./page-cursor.js";
import type { PageSource } from "./row-walk.js";
import { RowWalk } from "./row-walk.js";
import type { IncludePlan } from "./relation-loader.js";
import { includeKey, loadIncluded, makeTreeCopier, pairingColumns, planInclude, tablesIncluded } from "./relation-loader.js";

export type { BatchResult, SaveManyOptions } from "./batch-writer.js";

/** Options of `count`. */
export interface CountOptions {
  /** Cache the count until the next write to the table, as `Query.cache`. */
  cache?: boolean | { ttlMs: number };
}

/**
 * Options of `repo.search` (README, "Full-text search"). `S` is the fields a projection may list, as in
 * {@link Query}: none by default, so that a variable typed `SearchOptions<T>` holds no `select`.
 * @example await cities.search("köln OR bonn*", { where: { country: "DE" }, limit: 10, snippet: true })
 * @example await posts.search("rhine", { select: ["id", "title"], include: { author: true }, snippet: true })
 */
export interface SearchOptions<T, S extends Field<T> = never> {
  /** Further conditions, in the query language of `findAll` (relation filters too). */
  where?: Where<T> | Where<T>[];
  /** The most results returned. @default 20 */
  limit?: number;
  /** Results skipped first (after ranking). @default 0 */
  offset?: number;
  /**
   * Add a `snippet` to each result: `true` for the defaults, or how to build it. The snippet is built from
   * the entity's indexed text, whether or not `select` lists those fields. @default false
   */
  snippet?: boolean | SnippetOptions;
  /** Cache the results until the next write to the table (or to a table `include` reads), as `Query.cache`. */
  cache?: boolean | { ttlMs: number };
  /**
   * Only these fields of each result's `entity`: a plain object holding exactly them, as `findAll`'s
   * {@link Query.select} gives it (`Pick<T, ...>`). A name that is not a column is a `QueryError`.
   */
  select?: readonly S[];
  /** Relations to load with the results, as `findAll`'s {@link Query.include}: one query per relation for the whole page. */
  include?: Include<T>;
}

/** Search options with a projection on the fields `S`: `search` returns `SearchResult<Pick<T, S>>` for them. */
export type SelectSearchOptions<T, S extends Field<T>> = SearchOptions<T, S> & { select: readonly S[] };

/** One result of `repo.search`, best first. */
export interface SearchResult<T> {
  readonly entity: T;
  /** The BM25 score (SQLite FTS5's `bm25()` negated): positive, higher is better. */
  readonly score: number;
  /** With the `snippet` option: the best window of the entity's indexed text, the matches marked. */
  readonly snippet?: string;
}

const SEARCH_OPTION_KEYS = new Set(["where", "limit", "offset", "snippet", "cache", "select", "include"]);
/** The snippet options: those {@link SNIPPET_DEFAULTS} completes. */
const SNIPPET_OPTION_KEYS = new Set(Object.keys(SNIPPET_DEFAULTS));
/** The most tokens a snippet may show (FTS5's `snippet()` takes at most 64 too). */
const MAX_SNIPPET_TOKENS = 64;

/**
 * What `save`, `insert` and `saveMany` take: the entity's fields, each optional as far as types go (which
 * columns are generated, versioned, dated, defaulted or nullable is in the decorators, where types cannot
 * see it: a required column left out is a `ValidationError` naming it). Relation properties may be present,
 * as in an entity read with `include`; they are not written (see `Repository.save`).
 */
export type EntityInput<T> = { [K in Field<T>]?: T[K] };

/**
 * What `update` takes: any of the entity's fields, each optional. The primary key, if given, must be the
 * updated row's; a version makes the update optimistic; relation properties are not written.
 */
export type Patch<T> = EntityInput<T>;

/** Options of `findById` and `findByIds`. */
export interface FindByIdOptions<T> {
  /** Relations to load with the entities, as `Query.include`. */
  include?: Include<T>;
}

/** The public repository interface. */
export interface IRepository<T extends object, K extends Key = Key> {
  /**
   * Inserts or updates by primary key and returns the entity as stored. On an existing row a field left
   * undefined keeps its stored value and null sets null; see {@link Repository.save}.
   */
  save(entity: EntityInput<T>): Promise<T>;
  insert(entity: EntityInput<T>): Promise<T>;
  update(id: K, patch: Patch<T>): Promise<T>;
  delete(id: K): Promise<boolean>;
  findById(id: K, options?: FindByIdOptions<T>): Promise<T | null>;
  findByIds(ids: readonly K[], options?: FindByIdOptions<T>): Promise<T[]>;
  /**
   * The first match in the query's order, or null. With `select`, a plain object of exactly the selected fields
   * (see {@link Query.select}); with `include`, the included relations besides.
   */
  findOne<S extends Field<T>, I extends Include<T>>(query: SelectQuery<T, S> & { include: I }): Promise<Pick<T, S | (keyof I & Field<T>)> | null>;
  findOne<S extends Field<T>>(query: SelectQuery<T, S>): Promise<Pick<T, S> | null>;
  findOne(query: Query<T>): Promise<T | null>;
  /**
   * Every match in the query's order. With `select`, plain objects of exactly the selected fields (see
   * {@link Query.select}); with `include`, the included relations besides.
   */
  findAll<S extends Field<T>, I extends Include<T>>(query: SelectQuery<T, S> & { include: I }): Promise<Pick<T, S | (keyof I & Field<T>)>[]>;
  findAll<S extends Field<T>>(query: SelectQuery<T, S>): Promise<Pick<T, S>[]>;
  findAll(query?: Query<T>): Promise<T[]>;
  count(where?: Where<T> | Where<T>[], options?: CountOptions): Promise<number>;
  /**
   * Full-text search over the entity's `@Index({ fulltext: true })` columns: the matches of `text` (words,
   * `"phrases"`, `prefix*`, `a OR b`, `-excluded`, parentheses), best first by BM25, ties by primary key.
   * A malformed query is a `QueryError` showing the position; an entity without a full-text index, or a
   * backend that cannot search, an `UnsupportedError`. `select` and `include` work as in `findAll`: this
   * overload, with both, gives entities of the selected fields and the included relations.
   */
  search<S extends Field<T>, I extends Include<T>>(text: string, options: SelectSearchOptions<T, S> & { include: I }): Promise<SearchResult<Pick<T, S | (keyof I & Field<T>)>>[]>;
  /** With `select`: each entity is a plain object of exactly the selected fields. */
  search<S extends Field<T>>(text: string, options: SelectSearchOptions<T, S>): Promise<SearchResult<Pick<T, S>>[]>;
  /** Without `select`: whole entities, with their relations when `include`d. */
  search(text: string, options?: SearchOptions<T>): Promise<SearchResult<T>[]>;
  exists(id: K): Promise<boolean>;
  saveMany(entities: readonly EntityInput<T>[], options?: SaveManyOptions): Promise<BatchResult>;
  deleteMany(where: Where<T> | Where<T>[]): Promise<number>;
  /** Adds many-to-many links from the entity `id` to the entities `targetIds`; returns how many were new. */
  link(id: K, relation: RelationProperty<T>, targetIds: readonly Key[]): Promise<number>;
  /** Removes many-to-many links from the entity `id` to the entities `targetIds`; returns how many there were. */
  unlink(id: K, relation: RelationProperty<T>, targetIds: readonly Key[]): Promise<number>;
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

/** The query of `findPage`: a query's where, orderBy, include and cache, with the page size and position instead of limit and offset. */
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
  /** A query of this repository asked for `cache` once: the storage has said whether it can cache queries. */
  private queryCacheNoted = false;
  private readonly batches: BatchWriter;
  /** Projections whose backend rows hold exactly the fields handed out (the primary key was listed). */
  private readonly exactProjections = new ProjectionCache<Projection>();
  /** Projections whose backend rows hold more than is handed out (the primary key, when it was not listed). */
  private readonly pickingProjections = new ProjectionCache<Projection>();
  /** An entity of a row fresh from a backend (see makeEntityMaker), decided once for the schema. */
  private readonly asEntity: (row: Row) => T;
  /** The object a row given to the backend is built in (see emptyRowMaker). */
  private readonly emptyRow: () => Row;
  /** The backend takes no relation conditions: the repository resolves them first (capabilities.ts). */
  private readonly resolvesRelations: boolean;
  /** The backend merges a partial save in one upsert (capabilities.ts); else `write` updates, then inserts. */
  private readonly partialUpserts: boolean;

  constructor(storage: Storage, entity: EntityClass<T>) {
    this.core = coreOf(storage);
    this.schema = this.core.schemaOf(entity as unknown as Function);
    this.prototype = (entity as unknown as Function).prototype as object;
    this.pk = this.schema.primary;
    this.copyEntity = makeRowCopier(this.schema, this.prototype);
    this.asEntity = makeEntityMaker(this.schema, this.prototype) as (row: Row) => T;
    this.emptyRow = emptyRowMaker(this.schema.columns.map((c) => c.property));
    this.resolvesRelations = !this.core.backend.capabilities.supportsRelationFilters;
    // A backend built before the flag existed has no such property: it gets the update-then-insert path.
    this.partialUpserts = this.core.backend.capabilities.supportsPartialUpsert === true;
    this.batches = new BatchWriter({
      schema: this.schema,
      transactions: this.core.transactions,
      supportsSavepoints: this.core.backend.capabilities.supportsSavepoints,
      supportsPartialUpsert: this.partialUpserts,
      session: () => this.session(),
      check: (entity) => {
        this.assertEntity(entity);
        this.checkRow(entity);
      },
      prepare: (entity, now) => {
        this.assertEntity(entity);
        return this.prepareRow(entity, now, true);
      },
      write: (session, prepared) => this.write(session, prepared),
    });
  }

  /** The session of the ambient transaction, else the backend's autocommit session. */
  private session(): DataSession {
    return this.core.session();
  }

  // --- relation filter seams: for a backend without supportsRelationFilters, relation conditions are
  // answered by queries on the related tables (through the same session) before the query goes to it.
  /** `where` as the backend takes it. */
  private backendWhere(where: NormalizedWhere, session: DataSession): NormalizedWhere | Promise<NormalizedWhere> {
    return this.resolvesRelations && hasRelationFilter(where) ? resolveRelationFilters(where, session) : where;
  }

  /** `query` as the backend takes it. */
  private async backendQuery(query: NormalizedQuery, session: DataSession): Promise<NormalizedQuery> {
    const where = await this.backendWhere(query.where, session);
    return where === query.where ? query : { ...query, where };
  }

  /**
   * `session` as an include reads through it: the relation filters of an include's where (on any table)
   * resolved first where the backend needs it.
   */
  private reader(session: DataSession): Pick<DataSession, "find"> {
    if (!this.resolvesRelations) return session;
    return {
      find: async (schema, query) =>
        session.find(schema, hasRelationFilter(query.where) ? { ...query, where: await resolveRelationFilters(query.where, session) } : query),
    };
  }

  /** `session.find` of `query`, its relation filters resolved first where the backend needs it. */
  private find(session: DataSession, query: NormalizedQuery): Promise<Row[]> {
    if (!this.resolvesRelations || !hasRelationFilter(query.where)) return session.find(this.schema, query);
    return this.backendQuery(query, session).then((q) => session.find(this.schema, q));
  }
  // --- end of relation filter seams

  // --- cache seams: reads outside a transaction go through the table's cache (src/cache/), when it is on.
  /** Inside a transaction, reads bypass the cache: they must see the transaction's own writes. */
  private cacheForRead(): TableCache | undefined {
    const cache = this.core.cache;
    if (cache === undefined || this.core.transactions.current() !== undefined) return undefined;
    return (this.tableCache ??= cache.table(this.schema));
  }

  private queryCache(option: Query<T>["cache"]): { cache: TableCache; ttlMs: number | undefined } | undefined {
    if (!option) return undefined;
    if (!this.queryCacheNoted) {
      this.queryCacheNoted = true;
      this.core.noteQueryCacheAsked(this.schema);
    }
    const cache = this.cacheForRead();
    return cache && { cache, ttlMs: option === true ? undefined : option.ttlMs };
  }
  // --- end of cache seams

  /**
   * The caches of the other tables a cached query reads (its relation filters', its include's): their
   * generations key its entry, so a write to any of them makes it unreachable.
   */
  private cachesRead(where: NormalizedWhere, plans: readonly IncludePlan[] = []): TableCache[] {
    const tables = tablesIncluded(plans);
    for (const schema of tablesRead(where)) tables.set(schema.table, schema);
    return [...tables.values()].map((schema) => this.core.cache!.tableRead(schema));
  }

  private toEntity(row: Row): T {
    return this.asEntity(row);
  }

  /**
   * How the rows of `normalized` are handed out: entities, or for a projection plain objects of exactly the
   * fields the caller listed. The backend always returns the primary key (the SPI's rule); it is dropped
   * here when the caller did not list it, so that the object matches its type, `Pick<T, S>`.
   */
  private projection(query: { readonly select?: unknown } | undefined, normalized: NormalizedQuery): Projection | undefined {
    const select = normalized.select;
    if (select === undefined) return undefined;
    // What is handed out is what the caller listed: the backend reads the primary key besides (and a
    // reader such as keyset iteration may add the columns it needs), which the object must not show.
    const listed = query!.select as readonly string[];
    const fields = select.filter((c) => listed.includes(c.property));
    if (fields.length === select.length) {
      return this.exactProjections.get(fields, (columns) => ({ fromBackend: (row) => row, fromCache: makeProjectionCopier(columns) }));
    }
    return this.pickingProjection(fields);
  }

  /** Plain objects of `fields` picked from rows that hold more (memoized per list of fields). */
  private pickingProjection(fields: readonly ColumnSchema[]): Projection {
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
      if (this.schema.columnsByProperty.has(key) || entity[key] === undefined) continue;
      const relation = this.schema.relationsByProperty.get(key);
      if (relation) this.checkRelationProperty(entity, relation);
      else invalid(this.schema, key, `"${key}" is not a column of ${this.schema.entityName}`);
    }
  }

  /**
   * A relation property of an entity to write: never written (save writes the entity's own columns), but
   * an owning to-one object whose key disagrees with the foreign key column would be silently dropped,
   * so it is a `ValidationError` naming both. Set the foreign key column to change the relation.
   */
  private checkRelationProperty(entity: Record<string, unknown>, relation: RelationSchema): void {
    const related = entity[relation.property];
    if (relation.toMany || relation.sourceProperty === this.pk.property || related === null || typeof related !== "object") return;
    const key = (related as Record<string, unknown>)[relation.targetProperty];
    const foreignKey = entity[relation.sourceProperty];
    if (key !== undefined && key !== foreignKey && !(foreignKey === undefined && key === null)) {
      invalid(
        this.schema,
        relation.property,
        `holds a ${relation.target.name} whose ${relation.targetProperty} is ${JSON.stringify(key)}, but ${relation.sourceProperty} is ${describeValue(foreignKey)}: save writes ${relation.sourceProperty}, never the related object; set ${relation.sourceProperty} to change the relation`,
      );
    }
  }

  /**
   * Builds the complete row to insert for an entity: defaults, generated uuid, timestamps and the first
   * version. Returns it with the version the caller read (if any) and, for `save` (`forSave`), what an
   * existing row takes from it: when a field is left undefined, `given` lists the fields that are not, and
   * `missing` is the first required field left out (no default, not nullable), which only an existing row
   * can do without. A new row (`insert`, a generated key) must have every required field.
   */
  private prepareRow(entity: Record<string, unknown>, now: Date, forSave: boolean): PreparedRow {
    const row = this.emptyRow();
    let generatedKey = false;
    let partial = false;
    let missing: ColumnSchema | undefined;
    /** The plain columns the entity gives, from the same read as the row: a getter is read once. */
    const given: string[] = [];
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
      if (value === undefined) {
        partial = true;
        if (column.default === undefined && !column.nullable) {
          if (!forSave) this.requiredOnInsert(column);
          missing ??= column;
          row[column.property] = null;
          continue;
        }
        value = column.default === undefined ? null : copyValue(column, column.default);
      } else if (!column.primary && column.role === undefined) given.push(column.property);
      checkValue(this.schema, column, value);
      row[column.property] = storedValue(column, value);
    }
    if (missing && generatedKey) this.requiredOnInsert(missing);
    const expectedVersion = this.expectedVersion(entity);
    if (!partial || generatedKey) return { row, expectedVersion, generatedKey, given: undefined, missing: undefined };
    return { row, expectedVersion, generatedKey, given, missing };
  }

  /** The `ValidationError` of a required field (not nullable, no default) left out of a new entity. */
  private requiredOnInsert(column: ColumnSchema, key?: Key): never {
    const why = key === undefined ? "" : `: no ${this.schema.entityName} has ${this.pk.property} ${JSON.stringify(key)}, so save inserts one`;
    invalid(this.schema, column.property, `is required to insert a new ${this.schema.entityName}${why} (the field is not nullable and has no default)`);
  }

  /**
   * The checks of {@link Repository.prepareRow}, in its order and with its errors, building nothing:
   * `saveMany` checks every entity before writing any, and builds each row only when its chunk is written.
   */
  private checkRow(entity: Record<string, unknown>): void {
    let generatedKey = false;
    let missing: ColumnSchema | undefined;
    for (const column of this.schema.columns) {
      const value = entity[column.property];
      if (column.primary && (value === undefined || value === null)) {
        if (column.generated === undefined) invalid(this.schema, column.property, "the primary key is missing (it is not generated)");
        generatedKey = true;
        continue;
      }
      if (column.role === "version" || column.role === "updateDate" || (column.role === "createDate" && (value === undefined || value === null))) continue;
      if (value === undefined && column.default === undefined && !column.nullable) missing ??= column;
      else checkValue(this.schema, column, value !== undefined ? value : column.default === undefined ? null : column.default);
    }
    if (missing && generatedKey) this.requiredOnInsert(missing);
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

  /**
   * Inserts the entity, or updates the stored one with the same primary key, and returns it as stored
   * (generated key, version, dates, and on an update every field, the ones kept included).
   *
   * On an existing row, a field left `undefined` (or absent) keeps its stored value and `null` sets null:
   * a partial object never wipes fields. The create date never changes, the update date does, and the
   * version goes up by one; with a version in the entity, a stale one is a `ConcurrencyError` and nothing is
   * written. On insert, a field left out gets its default (or null); a required one (not nullable, no
   * default) left out is a `ValidationError` naming it, and nothing is written.
   *
   * @example
   * await posts.save({ id: post.id, title: "renamed" }); // slug, tags, viewCount... keep their values
   */
  async save(entity: EntityInput<T>): Promise<T> {
    this.assertEntity(entity);
    const prepared = this.prepareRow(entity, new Date(), true);
    const stored = await this.write(this.session(), prepared);
    this.core.transactions.noteWrite(this.schema.table, stored[this.pk.property] as Key);
    return this.toEntity(stored);
  }

  /**
   * Writes the row of one saved entity and returns it as stored: an insert for a generated key, else an
   * upsert, of the given columns only for a partial entity. A partial entity without a required field (it
   * can only update), or on a backend without `supportsPartialUpsert`, is an update of the given fields,
   * then an insert when no row has the key: a single statement each, so a row that is missing is refused
   * (or inserted) without anything written before. When that insert finds the key taken (another save
   * inserted it in between), the update is tried once more, as one upsert would have merged into that row.
   */
  private async write(session: DataSession, prepared: PreparedRow): Promise<Row> {
    const { row, expectedVersion, given, missing } = prepared;
    if (prepared.generatedKey) return session.insert(this.schema, row);
    const key = row[this.pk.property] as Key;
    if (given === undefined || (missing === undefined && this.partialUpserts)) {
      const result = await session.upsert(this.schema, row, expectedVersion, given);
      return result === "conflict" ? this.conflict(key, expectedVersion) : result;
    }
    const changes: Row = {};
    for (const property of given) changes[property] = row[property];
    if (this.schema.updateDate) changes[this.schema.updateDate.property] = row[this.schema.updateDate.property];
    const updated = await this.updateGiven(session, key, changes, expectedVersion);
    if (updated) return updated;
    if (missing) this.requiredOnInsert(missing, key);
    try {
      return await session.insert(this.schema, row);
    } catch (error) {
      // Another save may have inserted the key since the update found no row: the fields given are then
      // written over that row, as one upsert would have. Any other failure (a unique value) finds no row.
      // A backend whose failed statement ends its transaction fails the retry too: its insert's error is the one to tell.
      if (!(error instanceof IntegrityError)) throw error;
      let raced: Row | undefined;
      try {
        raced = await this.updateGiven(session, key, changes, expectedVersion);
      } catch (retry) {
        throw retry instanceof ConcurrencyError ? retry : error;
      }
      if (raced) return raced;
      throw error;
    }
  }

  /** The update of a partial save's fields: the row as stored, or undefined when no row has the key. */
  private async updateGiven(session: DataSession, key: Key, changes: Row, expectedVersion: number | undefined): Promise<Row | undefined> {
    const outcome = await session.update(this.schema, key, changes, expectedVersion);
    if (outcome === "conflict") this.conflict(key, expectedVersion);
    return outcome === "missing" ? undefined : outcome.row;
  }

  /** Inserts a new entity; `IntegrityError` when its key or a unique value exists. */
  async insert(entity: EntityInput<T>): Promise<T> {
    this.assertEntity(entity);
    const { row } = this.prepareRow(entity, new Date(), false);
    const stored = await this.session().insert(this.schema, row);
    this.core.transactions.noteWrite(this.schema.table, stored[this.pk.property] as Key);
    return this.toEntity(stored);
  }

  /**
   * Changes the given fields of the stored entity. With a version in `patch`, the update happens only if
   * the stored version still equals it (`ConcurrencyError` otherwise).
   */
  async update(id: K, patch: Patch<T>): Promise<T> {
    const key = this.checkKey(id);
    this.assertEntity(patch);
    const changes: Row = {};
    let expectedVersion: number | undefined;
    for (const [property, value] of Object.entries(patch)) {
      const column = this.schema.columnsByProperty.get(property);
      // A relation property (checked by assertEntity) is not written, as with save.
      if (value === undefined || column === undefined) continue;
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
    if (deleted) this.core.transactions.noteWrite(this.schema.table, key, this.deleteReached());
    return deleted;
  }

  /**
   * The entity with primary key `id`, or null. Not `async`, so that a cache hit hands back the cache's own
   * promise instead of wrapping it in two more (an L1 hit is as cheap as the promises made for it); an
   * invalid id still rejects, never throws. The cache's lookup is inside the `try` too: a hit makes the
   * entity on this stack, where a throwing column setter of the entity class would otherwise escape.
   *
   * `options.include` loads relations as `findAll`'s does: the entity itself may come from the cache, its
   * relations are read from the backend (through the transaction, inside one), one query per relation.
   */
  findById(id: K, options?: FindByIdOptions<T>): Promise<T | null> {
    try {
      const key = this.checkKey(id);
      if (options?.include !== undefined) return this.findByIdIncluding(key, options.include);
      const cache = this.cacheForRead();
      return cache ? (cache.findById(key) as Promise<T | null>) : this.readById(key);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private async findByIdIncluding(key: Key, include: Include<T>): Promise<T | null> {
    const plans = this.planInclude(include);
    const cache = this.cacheForRead();
    const entity = cache ? ((await cache.findById(key)) as T | null) : await this.readById(key);
    if (entity === null || plans.length === 0) return entity;
    const [loaded] = await loadIncluded(this.reader(this.session()), [entity as Row], (row) => row, plans);
    return loaded as T;
  }

  /** `include` checked against the entity's relations (a `QueryError` naming what is not one), planned. */
  private planInclude(include: unknown): IncludePlan[] {
    return planInclude(this.schema, include, (entity) => this.core.schemaOf(entity));
  }

  /**
   * `query` without its include, normalized, and the include planned. A projection reads the columns the
   * included relations pair by besides the selected ones (they are not handed out).
   */
  private normalizeWithInclude(query: Query<T, Field<T>> | undefined): { rest: { readonly select?: unknown; readonly cache?: Query<T>["cache"] } | undefined; normalized: NormalizedQuery; plans: IncludePlan[] } {
    if (query === undefined || query === null || typeof query !== "object" || !("include" in query)) {
      return { rest: query, normalized: normalizeQuery(this.schema, query), plans: [] };
    }
    const { include, ...rest } = query;
    const plans = this.planInclude(include);
    let normalized = normalizeQuery(this.schema, rest);
    if (normalized.select && plans.length > 0) {
      const read = new Set([...normalized.select, ...pairingColumns(this.schema, plans)]);
      normalized = { ...normalized, select: this.schema.columns.filter((c) => read.has(c)) };
    }
    return { rest, normalized, plans };
  }

  /**
   * The rows of `normalized` handed out, with the relations of `plans` loaded: through the query cache
   * when `cached` (its entry keyed by the include too, and dropped by a write to any table it read), else
   * through the caller's session.
   */
  private async readRows(
    normalized: NormalizedQuery,
    plans: readonly IncludePlan[],
    projection: Projection | undefined,
    cached: { cache: TableCache; ttlMs: number | undefined } | undefined,
  ): Promise<object[]> {
    if (cached) {
      if (plans.length === 0) {
        const load = () => this.find(this.core.cacheFillSession, normalized);
        return cached.cache.query("rows", normalized, cached.ttlMs, load, projection?.fromCache, this.cachesRead(normalized.where));
      }
      const session = this.core.cacheFillSession;
      const handOut = (projection?.fromBackend ?? this.asEntity) as (row: Row) => Row;
      const load = async () => loadIncluded(this.reader(session), await this.find(session, normalized), handOut, plans);
      const copy = makeTreeCopier((projection?.fromCache ?? cached.cache.copyOut) as (row: Row) => Row, plans);
      return cached.cache.query("rows", { ...normalized, include: includeKey(plans) }, cached.ttlMs, load, copy, this.cachesRead(normalized.where, plans));
    }
    const session = this.session();
    const rows = await this.find(session, normalized);
    const handOut = projection ? projection.fromBackend : this.asEntity;
    if (plans.length === 0) return rows.map(handOut);
    return loadIncluded(this.reader(session), rows, handOut as (row: Row) => Row, plans);
  }

  private async readById(key: Key): Promise<T | null> {
    const row = await this.session().findById(this.schema, key);
    return row === null ? null : this.toEntity(row);
  }

  /**
   * The entities found, in the order of `ids` (missing ones left out). `options.include` loads relations,
   * as {@link Repository.findById}'s does.
   */
  async findByIds(ids: readonly K[], options?: FindByIdOptions<T>): Promise<T[]> {
    if (options?.include !== undefined) {
      const plans = this.planInclude(options.include);
      const found = await this.findByIds(ids);
      return plans.length === 0 ? found : ((await loadIncluded(this.reader(this.session()), found as Row[], (row) => row, plans)) as T[]);
    }
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
   * selected fields (see {@link Query.select}); with `include`, the included relations besides.
   */
  findOne<S extends Field<T>, I extends Include<T>>(query: SelectQuery<T, S> & { include: I }): Promise<Pick<T, S | (keyof I & Field<T>)> | null>;
  findOne<S extends Field<T>>(query: SelectQuery<T, S>): Promise<Pick<T, S> | null>;
  findOne(query: Query<T>): Promise<T | null>;
  async findOne(query: Query<T, Field<T>>): Promise<object | null> {
    const { rest, normalized: all, plans } = this.normalizeWithInclude(query);
    const normalized = { ...all, limit: 1 };
    const projection = this.projection(rest, normalized);
    const cached = this.queryCache(query?.cache);
    if (cached || plans.length > 0) return (await this.readRows(normalized, plans, projection, cached))[0] ?? null;
    const rows = await this.find(this.session(), normalized);
    return rows[0] ? (projection ? projection.fromBackend(rows[0]) : this.toEntity(rows[0])) : null;
  }

  /**
   * Every match of `query` in its order. With `select`, plain objects holding exactly the selected fields
   * (see {@link Query.select}); with `include`, the included relations besides.
   */
  findAll<S extends Field<T>, I extends Include<T>>(query: SelectQuery<T, S> & { include: I }): Promise<Pick<T, S | (keyof I & Field<T>)>[]>;
  findAll<S extends Field<T>>(query: SelectQuery<T, S>): Promise<Pick<T, S>[]>;
  findAll(query?: Query<T>): Promise<T[]>;
  async findAll(query?: Query<T, Field<T>>): Promise<object[]> {
    const { rest, normalized, plans } = this.normalizeWithInclude(query);
    const projection = this.projection(rest, normalized);
    return this.readRows(normalized, plans, projection, this.queryCache(query?.cache));
  }

  /**
   * Full-text search (README, "Full-text search"). Reads through the ambient transaction's session (its own
   * writes included, in the included relations too) or, with `cache` and outside a transaction, through the
   * table's query cache, dropped by every write to the table or to a table `include` reads. Snippets are built
   * here from the entity's text, the same on every backend, before `select` leaves that text out.
   * `select` and `include` compose as in `findAll`: the relations of the whole page load in one query each.
   */
  search<S extends Field<T>, I extends Include<T>>(text: string, options: SelectSearchOptions<T, S> & { include: I }): Promise<SearchResult<Pick<T, S | (keyof I & Field<T>)>>[]>;
  search<S extends Field<T>>(text: string, options: SelectSearchOptions<T, S>): Promise<SearchResult<Pick<T, S>>[]>;
  search(text: string, options?: SearchOptions<T>): Promise<SearchResult<T>[]>;
  async search(text: string, options: SearchOptions<T, Field<T>> = {}): Promise<SearchResult<object>[]> {
    const { schema } = this;
    const fullText = schema.fullText;
    if (fullText === undefined) {
      throw new UnsupportedError(`${schema.entityName} has no full-text index: declare @Index([...], { fulltext: true }) on its string columns to search it`, { table: schema.table });
    }
    const unsupported = () => new UnsupportedError(`${schema.entityName}: the ${this.core.backend.name} backend cannot search full text`, { table: schema.table });
    if (this.core.backend.session.search === undefined) throw unsupported();
    const snippet = this.searchOptions(options as SearchOptions<T>);
    let query: SearchQuery;
    try {
      query = parseSearchQuery(text);
    } catch (error) {
      if (error instanceof QueryError) throw new QueryError(`${schema.entityName}: ${error.message}`, { table: schema.table });
      throw error;
    }
    const normalized = normalizeQuery(schema, {
      where: options.where,
      limit: options.limit === undefined ? 20 : options.limit,
      offset: options.offset,
      cache: options.cache,
      ...(options.select === undefined ? {} : { select: options.select }),
    });
    const plans = this.planInclude(options.include);
    const projection = this.searchProjection(options.select, normalized);
    const limit = normalized.limit!;
    const offset = normalized.offset ?? 0;
    const load = async (session: DataSession): Promise<SearchHit[]> => {
      const where = options.where === undefined ? undefined : await this.backendWhere(normalized.where, session);
      const hits = await session.search!(schema, { query, where, limit, offset });
      // A forwarding session (the file backend's, a transaction's) hands back undefined for a target without search.
      if (hits === undefined) throw unsupported();
      return hits;
    };
    /** The snippet of a whole row (a backend's, or a cached one): the indexed text may be left out of what is handed out. */
    const snippetOf = snippet && ((row: Row) => buildSnippet(fullText.properties.map((p) => (row[p] as string | null | undefined) ?? null), query, snippet));
    const cached = this.queryCache(options.cache);
    if (cached) {
      // Cached as a query of rows keyed by the parsed tree (never the text: `Köln` and `koln` are one entry);
      // each "row" of the entry is a hit: the whole backend row with its included relations, and its score.
      // The projection applies on the way out, so an entry serves every select of the same search.
      const key = plans.length === 0 ? { search: query.root, where: normalized.where, limit, offset } : { search: query.root, where: normalized.where, limit, offset, include: includeKey(plans) };
      const session = this.core.cacheFillSession;
      const copyEntity = makeTreeCopier((projection?.fromCache ?? cached.cache.copyOut) as (row: Row) => Row, plans);
      const copy = (entry: Row): object => {
        const hit = entry as unknown as SearchHit;
        const result = { entity: copyEntity(hit.row), score: hit.score };
        return snippetOf ? { ...result, snippet: snippetOf(hit.row) } : result;
      };
      const loadHits = async (): Promise<Row[]> => {
        const hits = await load(session);
        if (plans.length === 0) return hits as unknown as Row[];
        const rows = await loadIncluded(this.reader(session), hits.map((hit) => hit.row), (row) => row, plans);
        return hits.map((hit, i) => ({ row: rows[i]!, score: hit.score })) as unknown as Row[];
      };
      return (await cached.cache.query("rows", key, cached.ttlMs, loadHits, copy, this.cachesRead(normalized.where, plans))) as SearchResult<object>[];
    }
    const session = this.session();
    const hits = await load(session);
    const rows = hits.map((hit) => hit.row);
    // Snippets first: the rows are whole until they are handed out.
    const snippets = snippetOf && rows.map(snippetOf);
    const handOut = (projection?.fromBackend ?? this.asEntity) as (row: Row) => Row;
    const entities: object[] = plans.length === 0 ? rows.map(handOut) : await loadIncluded(this.reader(session), rows, handOut, plans);
    return hits.map((hit, i) => (snippets ? { entity: entities[i]!, score: hit.score, snippet: snippets[i]! } : { entity: entities[i]!, score: hit.score }));
  }

  /**
   * How search results are handed out with `select`: plain objects of the listed fields. A backend's search
   * reads whole rows (the snippet needs the indexed text), so the projection always picks from more than it
   * hands out.
   */
  private searchProjection(select: unknown, normalized: NormalizedQuery): Projection | undefined {
    if (normalized.select === undefined) return undefined;
    const listed = select as readonly string[];
    return this.pickingProjection(normalized.select.filter((c) => listed.includes(c.property)));
  }

  /** Checks `search`'s options (a `QueryError` naming the option) and returns the complete snippet options, if asked. */
  private searchOptions(options: SearchOptions<T>): Required<SnippetOptions> | undefined {
    const fail = (field: string, problem: string): never => {
      throw new QueryError(`${this.schema.entityName}: search ${field} ${problem}`, { table: this.schema.table, field });
    };
    if (options === null || typeof options !== "object" || Array.isArray(options)) fail("options", "must be an object");
    for (const key of Object.keys(options)) {
      if (!SEARCH_OPTION_KEYS.has(key)) fail(key, "is not a search option (expected where, limit, offset, snippet, cache, select, include)");
    }
    const asked = options.snippet;
    if (asked === undefined || asked === false) return undefined;
    if (asked === true) return SNIPPET_DEFAULTS;
    if (asked === null || typeof asked !== "object" || Array.isArray(asked)) fail("snippet", "must be true, false or { before?, after?, maxTokens?, ellipsis? }");
    for (const key of Object.keys(asked)) {
      if (!SNIPPET_OPTION_KEYS.has(key)) fail(`snippet.${key}`, "is not a snippet option (expected before, after, maxTokens, ellipsis)");
    }
    const complete = { ...SNIPPET_DEFAULTS, ...Object.fromEntries(Object.entries(asked).filter(([, v]) => v !== undefined)) } as Required<SnippetOptions>;
    for (const key of ["before", "after", "ellipsis"] as const) {
      if (typeof complete[key] !== "string") fail(`snippet.${key}`, "must be a string");
    }
    if (!Number.isInteger(complete.maxTokens) || complete.maxTokens < 1 || complete.maxTokens > MAX_SNIPPET_TOKENS) {
      fail("snippet.maxTokens", `must be an integer from 1 to ${MAX_SNIPPET_TOKENS}`);
    }
    return complete;
  }

  /** How many entities match `where`; `{ cache: true }` caches the count until the next write to the table. */
  async count(where?: Where<T> | Where<T>[], options: CountOptions = {}): Promise<number> {
    const normalized = normalizeWhere(this.schema, where);
    if (options.cache !== undefined) normalizeQuery(this.schema, { cache: options.cache }); // validated as Query.cache is
    const cached = this.queryCache(options.cache);
    if (cached) {
      const session = this.core.cacheFillSession;
      const load = async () => session.count(this.schema, await this.backendWhere(normalized, session));
      return cached.cache.query("count", normalized, cached.ttlMs, load, undefined, this.cachesRead(normalized));
    }
    const session = this.session();
    return session.count(this.schema, await this.backendWhere(normalized, session));
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
    const session = this.session();
    const deleted = await session.deleteMany(this.schema, await this.backendWhere(normalized, session));
    if (deleted > 0) this.core.transactions.noteWrite(this.schema.table, undefined, this.deleteReached());
    return deleted;
  }

  /**
   * The tables a delete from this table changes besides the rows deleted, through foreign keys: announced
   * with the delete, so that their whole caches go once it commits (the backend changed rows no repository wrote).
   */
  private deleteReached(): readonly string[] {
    return this.core.tablesReachedByDelete(this.schema.table);
  }

  /**
   * Links the entity `id` to each of `targetIds` through the many-to-many `relation`'s join table, and
   * returns how many links were new: linking twice is a no-op (the pair is stored once). Atomic (a
   * transaction, a savepoint inside an ambient one): a failure links none. A missing entity on either side
   * is an `IntegrityError` from the join table's foreign keys. `save` never writes links.
   *
   * @example await posts.link(post.id, "tags", ["ts", "db"]);
   */
  async link(id: K, relation: RelationProperty<T>, targetIds: readonly Key[]): Promise<number> {
    const { key, join, targets } = this.linkArguments("link", id, relation, targetIds);
    if (targets.length === 0) return 0;
    /** How many of the pairs the last attempt found linked already. */
    let alreadyLinked = 0;
    const attempt = () => this.atomically(async (session) => {
      const linked = await session.find(join.schema, {
        where: [[{ column: join.sourceColumn, op: "eq", value: key }, { column: join.targetColumn, op: "in", value: targets }]],
        orderBy: [{ column: join.schema.primary, direction: "asc" }],
        offset: 0,
        select: [join.schema.primary, join.targetColumn],
      });
      const known = new Set(linked.map((row) => row[join.targetColumn.property]));
      alreadyLinked = known.size;
      const missing = targets.filter((target) => !known.has(target));
      for (const target of missing) {
        await session.insert(join.schema, { [join.schema.primary.property]: null, [join.sourceColumn.property]: key, [join.targetColumn.property]: target });
      }
      if (missing.length > 0) this.core.transactions.noteWrite(join.schema.table);
      return missing.length;
    });
    // A concurrent link of one of the pairs may commit between our read and our insert (PostgreSQL, read
    // committed): the pair's unique index refuses ours, and our attempt is undone. Again: the read then sees
    // that link. Three links at once of overlapping pairs can refuse one attempt after another, each time a
    // pair more linked; an attempt refused with no pair more linked than the last refused one found is no
    // such race (a missing entity fails the same way every time), and is thrown.
    const mayRetry = this.core.transactions.current() === undefined || this.core.backend.capabilities.supportsSavepoints;
    let linkedAtLastRefusal = -1;
    for (;;) {
      try {
        return await attempt();
      } catch (error) {
        if (!(error instanceof IntegrityError) || !mayRetry || alreadyLinked <= linkedAtLastRefusal) throw error;
        linkedAtLastRefusal = alreadyLinked;
      }
    }
  }

  /**
   * Removes the links of the many-to-many `relation` from the entity `id` to each of `targetIds`, and
   * returns how many there were (a pair not linked is skipped). The entities themselves stay.
   */
  async unlink(id: K, relation: RelationProperty<T>, targetIds: readonly Key[]): Promise<number> {
    const { key, join, targets } = this.linkArguments("unlink", id, relation, targetIds);
    if (targets.length === 0) return 0;
    const removed = await this.session().deleteMany(join.schema, [
      [{ column: join.sourceColumn, op: "eq", value: key }, { column: join.targetColumn, op: "in", value: targets }],
    ]);
    if (removed > 0) this.core.transactions.noteWrite(join.schema.table);
    return removed;
  }

  /** The arguments of link/unlink checked: the key, the join table of a many-to-many relation, the distinct target keys. */
  private linkArguments(method: string, id: K, relation: string, targetIds: readonly Key[]) {
    const key = this.checkKey(id);
    const found = this.schema.relationsByProperty.get(relation);
    if (!found?.joinTable) {
      const many = this.schema.relations.filter((r) => r.joinTable).map((r) => r.property);
      throw new QueryError(
        `${this.schema.entityName}: ${method} needs a many-to-many relation, and "${relation}" is ${found ? `a ${found.kind} relation` : "not a relation"} (${many.length > 0 ? `many-to-many: ${many.join(", ")}` : `${this.schema.entityName} has no many-to-many relation`})`,
        { table: this.schema.table, field: relation },
      );
    }
    const target = this.core.schemaOf(found.target);
    if (!Array.isArray(targetIds)) invalid(this.schema, relation, `${method} expects an array of ${target.entityName} ids, got ${describeValue(targetIds)}`);
    const targets = [...new Set(targetIds.map((t) => {
      if (t === null || t === undefined) invalid(target, target.primary.property, `${method} ${this.schema.entityName}.${relation}: an id is missing`);
      checkValue(target, target.primary, t);
      return t;
    }))];
    const schema = found.joinTable.schema;
    const join = {
      schema,
      sourceColumn: schema.columnsByProperty.get(found.joinTable.sourceProperty)!,
      targetColumn: schema.columnsByProperty.get(found.joinTable.targetProperty)!,
    };
    return { key, join, targets };
  }

  /**
   * Runs `work` atomically: in a transaction of its own, or a savepoint of the ambient one; where savepoints
   * are missing, in the ambient transaction itself (whose rollback then undoes it).
   */
  private atomically<R>(work: (session: DataSession) => Promise<R>): Promise<R> {
    const transactions = this.core.transactions;
    if (transactions.current() !== undefined && !this.core.backend.capabilities.supportsSavepoints) return work(this.session());
    return transactions.run(() => work(this.session()));
  }

  /**
   * Saves many entities in chunks. Atomic (the default): every entity is validated first, then all are
   * written in one transaction (a savepoint inside an ambient one); the first failure throws, naming the
   * item, and nothing is written. With `atomic: false`, each chunk commits on its own and failures are
   * reported per entity in `errors`.
   */
  saveMany(entities: readonly EntityInput<T>[], options: SaveManyOptions = {}): Promise<BatchResult> {
    return this.batches.saveMany(entities, options);
  }

  /**
   * Every match of `query`, fetched a page at a time (`pageSize`, default 500), in the query's order. Each
   * page after the first starts after the last row of the one before (a keyset position, never an
   * OFFSET): no page counts the rows before it, the walk is linear where an index serves the order
   * (README, "Iterating and paging"), and a row written or deleted meanwhile never makes another one repeat
   * or vanish. Outside a transaction, where no index serves the order, a backend that can (SQLite on a WAL
   * file, PostgreSQL, memory, file: the SPI's `DataSession.stream`) answers the query once from a snapshot
   * taken when the walk starts instead, and hands it out page by page; leaving the loop early (`break`, a
   * throw) releases the snapshot, and so, on SQLite and PostgreSQL, do 30 s between two pages (the walk then
   * goes on after its last row from a new snapshot) and a dropped iterator once collected. `limit` and `offset` apply to the whole walk. Inside a transaction, it reads
   * through the transaction. With `select`, plain objects holding exactly the selected fields (see {@link Query.select}).
   * With `include`, each page's relations are loaded with it: one query per included relation and page.
   */
  iterate<S extends Field<T>>(query: SelectQuery<T, S>, options?: { pageSize?: number }): AsyncIterable<Pick<T, S>>;
  iterate(query?: Query<T>, options?: { pageSize?: number }): AsyncIterable<T>;
  iterate(query: Query<T, Field<T>> = {}, options: { pageSize?: number } = {}): AsyncIterable<object> {
    return new RowWalk(() => this.walkPages(query, options));
  }

  /**
   * The pages of an `iterate` walk, each handed out whole (entities made, relations loaded) when fetched:
   * per row, the walk then only takes the next one from the page (see row-walk.ts).
   */
  private async walkPages(query: Query<T, Field<T>>, options: { pageSize?: number }): Promise<PageSource<object>> {
    const pageSize = options.pageSize ?? 500;
    if (!Number.isSafeInteger(pageSize) || pageSize < 1) {
      throw new ValidationError(`${this.schema.entityName}: iterate pageSize must be a positive integer, got ${describeValue(pageSize)}`, {
        table: this.schema.table,
      });
    }
    const { rest, normalized: unsorted, plans } = this.normalizeWithInclude(query);
    const asked = withSortColumns(unsorted);
    const handOut = (this.projection(rest, asked)?.fromBackend ?? this.asEntity) as (row: Row) => Row;
    /** A page as the caller gets it; `rows` are fresh from the backend, so they are replaced in place. */
    const handOutPage = async (rows: Row[], session: DataSession): Promise<readonly object[]> => {
      if (plans.length > 0) return loadIncluded(this.reader(session), rows, handOut, plans);
      for (let i = 0; i < rows.length; i++) rows[i] = handOut(rows[i]!);
      return rows;
    };
    // Relation filters resolved once, for every page: the walk is one query.
    const normalized = await this.backendQuery(asked, this.session());
    // Outside a transaction the backend may answer the whole walk from one snapshot (a keyset page would
    // sort every match again where no index serves the order); a transaction's walk must see its own writes.
    const stream = this.core.transactions.current() === undefined ? await this.core.autocommitSession.stream?.(this.schema, normalized, pageSize) : undefined;
    if (stream) {
      const pages = stream[Symbol.asyncIterator]();
      return {
        next: async () => {
          const page = await pages.next();
          return page.done ? undefined : handOutPage(page.value, this.core.autocommitSession);
        },
        // Leaving the walk early releases the stream's snapshot.
        release: async () => void (await pages.return?.()),
      };
    }
    let page: NormalizedQuery | undefined = normalized;
    let remaining = normalized.limit ?? Infinity;
    return {
      next: async () => {
        if (page === undefined || remaining <= 0) return undefined;
        const limit = Math.min(pageSize, remaining);
        const session = this.session();
        const rows = await session.find(this.schema, { ...page, limit });
        if (page.after && rows[0] && !compileAfter(normalized.orderBy, page.after)(rows[0])) this.ignoredAfter();
        // The next position is read before the rows go out: the caller may change what it is given.
        const last = rows.length === limit ? rows[rows.length - 1] : undefined;
        const after = last && sortKeyOf(normalized.orderBy, last);
        remaining -= rows.length;
        // The user's offset applied to the first page only; from here on the position does the skipping.
        page = after === undefined ? undefined : { ...normalized, offset: 0, after };
        return handOutPage(rows, session);
      },
      release: () => {},
    };
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
   * `include` loads each page's relations as `findAll` does.
   *
   * @example
   * let page = await tasks.findPage({ where: { status: "open" }, orderBy: { priority: "desc" }, first: 20 });
   * while (page.nextCursor) page = await tasks.findPage({ where: { status: "open" }, orderBy: { priority: "desc" }, first: 20, after: page.nextCursor });
   */
  async findPage(query: PageQuery<T>): Promise<Page<T>> {
    const { first, after, ...pageless } = this.pageQuery(query);
    const { rest, normalized, plans } = this.normalizeWithInclude(pageless as Query<T, Field<T>>);
    const cursors = new PageCursors(this.schema, normalized);
    // One row more than the page says whether another page follows.
    const paged: NormalizedQuery = { ...normalized, limit: first + 1, ...(after === undefined || after === null ? {} : { after: cursors.decode(after) }) };
    const rows = (await this.readRows(paged, plans, undefined, this.queryCache(rest?.cache))) as T[];
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
