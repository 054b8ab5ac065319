/**
 * Reading and writing rows: the part of the SPI every backend implements, outside a transaction
 * (`Backend.session`) and inside one (`TransactionHandle`).
 *
 * ## The row contract
 * A row is a plain object keyed by entity *property* (`schema.columns[i].property`, not the column name),
 * holding logical values: `string`, `number` (integer columns hold safe integers), `boolean`, `Date`
 * (millisecond precision), a JSON value (`json` columns: objects, arrays, strings, numbers, booleans,
 * null, with own `__proto__` keys kept as data), or `null`. Every column is present in a row given to
 * `insert`/`upsert` and in every row returned; `""` stays distinct from `null`. The repository has already
 * validated each value against its column, filled defaults, the version (1 on insert), the create and
 * update dates and generated uuid keys: a backend stores what it is given. A backend never keeps a
 * reference to a row (or a `Date`, or a JSON value inside it) it was given, and every row it returns,
 * nested values included, belongs to the caller, who may change it.
 *
 * ## Query semantics ({@link DataSession.find}, {@link DataSession.count}, {@link DataSession.deleteMany})
 * Queries arrive normalized and validated (`NormalizedQuery`, `NormalizedWhere`): field names are columns,
 * values fit their column, `$in`/`$nin` lists hold no null and no repeated value. Every backend answers
 * them alike, as the memory engine and the SQL compiler do:
 * - **where** is an OR of AND-groups: `[]` matches no row, a group `[]` matches every row, and a row that
 *   matches several groups is returned (and counted, and deleted) once.
 * - **eq, gt, gte, lt, lte** compare non-null values of the column's type and never match null.
 *   Strings compare by Unicode code point (SQLite's BINARY, PostgreSQL's `COLLATE "C"`), not by UTF-16
 *   code unit: a character above U+FFFF sorts after U+E000-U+FFFF. Dates compare by instant, booleans
 *   as false < true.
 * - **ne** matches null too (`ne "x"` is "null or not x").
 * - **in** matches a listed value; with `orNull`, null too. An empty list matches nothing (or only
 *   null, with `orNull`).
 * - **nin** matches every non-listed value *and null*; with `orNull` (the user listed null), null does
 *   not match. An empty list matches every row (every non-null one, with `orNull`).
 * - **like** (string columns): `%` matches any run of characters, `_` exactly one character (one code
 *   point); every other character is literal (no escape character); case-sensitive; the whole value
 *   must match; never matches null.
 * - **ilike**: as `like`, folding the 26 ASCII letters only: `"É"` does not match `"é"`. (PostgreSQL's
 *   `ILIKE` and `lower()` fold every Unicode letter, so a SQL dialect folds `A-Z` itself.)
 * - **isNull / notNull** test for null; they are the only tests a `json` column gets.
 * - **relation conditions** (`RelationCondition`, `kind: "relation"`, only for a backend whose capabilities
 *   say `supportsRelationFilters`; the repository resolves them for the others): the related rows of a row
 *   `r` are the rows `t` of `target` with `t[targetColumn] = r[sourceColumn]`, or, with `through` (many-to-many),
 *   those whose `targetColumn` equals `j[through.targetColumn]` for a row `j` of the join table with
 *   `j[through.sourceColumn] = r[sourceColumn]`; none when `r[sourceColumn]` is null (and a join row whose
 *   target row is missing relates nothing). `some`: a related row matches the condition's `where`; `none`:
 *   none does; `every`: none fails it (true with no related row). The inner `where` is two-valued like any
 *   where (a null compared fails `eq` and passes `ne`), so on SQL `every` is `NOT EXISTS (... AND NOT
 *   COALESCE((where), FALSE))`, not `NOT (where)`. It may nest relation conditions, and reads the related
 *   tables as the session sees them (inside a transaction, with its own writes). They never narrow an index
 *   by themselves: a planner treats them as a filter on the rows it reads.
 * - **orderBy**: each term in order; null is the smallest value: first ascending, last descending.
 *   Strings by code point. Normalization always ends the ordering with the primary key (ascending unless
 *   the user ordered by it), so that the order is total and pages never overlap or skip.
 * - **after** (keyset position, one value per orderBy term): only rows strictly after that position in
 *   the order, as if the position were a row placed by the ordering above (a null value sorts first
 *   ascending, last descending). Terms after the primary key decide nothing: a row with the position's
 *   key is never after it, whatever its later values. A backend serves it by seeking (an index, or `WHERE` on the sort key),
 *   never by counting rows from the start. `offset` and `limit` apply after it.
 * - **limit / offset** apply after ordering: skip `offset` rows, return at most `limit` (0 returns none).
 * - **select** (projection): returned rows hold only the listed columns (the primary key among them);
 *   a backend reads no other column where it can avoid it.
 * - **count** is the number of rows `find` would return without limit and offset.
 *
 * ## Streaming a walk ({@link DataSession.stream}, optional)
 * `repo.iterate` pages by keyset: each page is a `find` with `after` set to the last row of the one before.
 * Where no index gives the order, every such page sorts (or heap-selects) all the matches again, and the
 * walk costs the square of the rows. A backend that can do better implements `stream`: it answers the
 * whole query (where, order, offset, limit, select) once, from a snapshot of the committed rows taken when
 * the walk starts, and hands the rows out `pageSize` at a time. The repository calls it only outside a
 * transaction, first, and walks by keyset when it is absent or returns `undefined` (the backend's way of
 * saying that keyset pages are as cheap here: an index serves the order, or its store cannot hold a
 * snapshot). A backend without it keeps working, on keyset pages.
 *
 * A walk's consumer runs between pages, for as long as it likes, and may drop the iterator without ending
 * it: a backend that holds a connection or a snapshot for a walk bounds how many it holds (and walks the
 * rest otherwise), and lets go of a walk's snapshot when the walk is left idle too long or collected. The
 * SQL backends do all three (sql-stream-walk.ts): at most 8 streaming walks, beyond them keyset pages; after 30 s
 * between two pages the snapshot is let go and the walk goes on after its last row from a new one, as
 * keyset pages would; a collected walk's snapshot is let go by a `FinalizationRegistry`.
 */
import type { NormalizedQuery, NormalizedWhere } from "../query/query.js";
import type { EntitySchema, Row } from "../schema/entity-schema.js";
import type { SearchQuery } from "../search/search-query.js";

/** A primary-key value: a string (string and uuid keys) or a safe integer (integer and increment keys). */
export type Key = string | number;

/**
 * The outcome of {@link DataSession.update}: the stored row after the update, `"missing"` when no row has
 * the key, or `"conflict"` when `expectedVersion` was given and differs from the stored version.
 */
export type UpdateOutcome = { readonly row: Row } | "missing" | "conflict";

/** Options of {@link DataSession.upsertMany}. */
export interface UpsertManyOptions {
  /**
   * False when the caller does not read the stored rows back (`saveMany`, which reports only counts): the
   * backend may then skip reading back what the write decided (the version, the create date, a generated
   * key), which on SQLite costs as much as the write, and return an empty array. What is stored is the same.
   * @default true
   */
  readonly returnRows?: boolean;
  /**
   * As `given` of {@link DataSession.upsert}, for every row of the call (only from a repository whose
   * backend says `supportsPartialUpsert`): a row whose key exists changes only in these columns, its update
   * date and its version. `saveMany` passes each run of partial entities that give the same fields.
   */
  readonly given?: readonly string[];
}

/**
 * Reads and writes on one table at a time (the `schema` argument names it). Each write is atomic on its
 * own: it happens whole or not at all. Outside a transaction, reads see committed rows only and never
 * wait for an open transaction; inside one, reads see the transaction's own writes.
 *
 * Errors a backend throws (all from Strata's errors module, with the table in their context):
 * `IntegrityError` when a write would duplicate a primary key or a unique index's value (nulls never
 * collide), with nothing changed; `CapacityError` when an increment key would pass
 * `Number.MAX_SAFE_INTEGER` (its `field` the key's property, its message saying `Number.MAX_SAFE_INTEGER`,
 * as the conformance suite checks); `SchemaError` when the schema's table does not exist (its message
 * saying to run the migrations that create it or set `autoCreate`); `TransactionError` when called on a
 * transaction that has ended; `ConnectionError` or `LockError` when the store cannot be reached or locked in time. A backend does not
 * throw `NotFoundError` or `ConcurrencyError`: it reports `"missing"` and `"conflict"`, and the repository
 * turns them into errors.
 */
export interface DataSession {
  /** The row whose primary key is `key`, or null. */
  findById(schema: EntitySchema, key: Key): Promise<Row | null>;
  /**
   * The rows whose keys are among `keys`, in any order; keys without a row are skipped, and `[]` returns
   * `[]`. A key given twice may return its row once or twice: the repository orders the rows by `keys`
   * and repeats them itself.
   */
  findByIds(schema: EntitySchema, keys: readonly Key[]): Promise<Row[]>;
  /** The rows matching `query.where`, ordered, then paged by `offset` and `limit` (module doc: query semantics). */
  find(schema: EntitySchema, query: NormalizedQuery): Promise<Row[]>;
  /** How many rows match `where` (module doc: query semantics). */
  count(schema: EntitySchema, where: NormalizedWhere): Promise<number>;
  /**
   * Inserts a complete row and returns it as stored. An `increment` primary key left null is generated:
   * greater than every key the table holds or has held (deleted and explicitly given keys included), as
   * SQLite's AUTOINCREMENT and a PostgreSQL identity column do.
   * `IntegrityError` on a duplicate key or unique value; `CapacityError` past `Number.MAX_SAFE_INTEGER`.
   */
  insert(schema: EntitySchema, row: Row): Promise<Row>;
  /**
   * Inserts the row when no row has its key (as {@link DataSession.insert}), else replaces every column but
   * the key and the create date (which keeps its stored value), setting the version column, when the
   * entity has one, to the stored version + 1 whatever the row says. With `expectedVersion`, an existing
   * row whose version differs is left alone and `"conflict"` returned. Returns the row as stored.
   *
   * `given` (only from a repository whose backend says `supportsPartialUpsert`): the save of a partial
   * entity. `row` is still complete (it is what an insert stores), but an existing row changes only in the
   * columns `given` lists (by property, in the schema's column order; never the key, the version or a
   * date column), its update date (set from `row`) and its version (+ 1); every other column keeps its
   * stored value. As one atomic write, checked against `expectedVersion` as above: on SQL, an
   * `INSERT ... ON CONFLICT (key) DO UPDATE SET` of those columns only.
   */
  upsert(schema: EntitySchema, row: Row, expectedVersion?: number, given?: readonly string[]): Promise<Row | "conflict">;
  /**
   * Upserts many rows without version checks (the bulk path of `saveMany`), as one atomic write, and
   * returns them as stored, in input order. A failure (`IntegrityError`) writes none of them.
   * With `options.returnRows` false the caller reads nothing back: the backend may return an empty array.
   * With `options.given`, each is a partial upsert (see {@link DataSession.upsert}).
   */
  upsertMany(schema: EntitySchema, rows: readonly Row[], options?: UpsertManyOptions): Promise<Row[]>;
  /**
   * Changes the given columns (`changes` is keyed by property and holds only the columns to change) and
   * returns the whole row as stored. Sets the version to the stored version + 1 when the entity has one.
   * `"missing"` when no row has the key; `"conflict"` when `expectedVersion` is given and differs.
   * `IntegrityError` when a changed unique value is taken by another row (a row may keep its own).
   */
  update(schema: EntitySchema, key: Key, changes: Row, expectedVersion?: number): Promise<UpdateOutcome>;
  /** Deletes the row with `key`; true when there was one. */
  delete(schema: EntitySchema, key: Key): Promise<boolean>;
  /** Deletes every row matching `where`, atomically, and returns how many (module doc: query semantics). */
  deleteMany(schema: EntitySchema, where: NormalizedWhere): Promise<number>;
  /**
   * Optional (module doc: streaming a walk): the rows of `query` (no `after`), as `find` would return them,
   * in pages of at most `pageSize` rows (only the last one shorter, none empty), read from one snapshot of
   * the committed rows: a write committed during the walk is not seen, and every row of the snapshot
   * comes exactly once. `undefined` when keyset pages serve this query as well (the repository then uses
   * them). Whatever the stream holds (a connection, a read transaction) is taken at the first `next()`, or
   * before the promise resolves, and released when the walk ends, fails, or is left early (`return()`,
   * which `for await` calls on `break` and throw), and at the latest by {@link Backend.close}. Memory stays
   * about one page, plus at most a reference per matching row.
   */
  stream?(schema: EntitySchema, query: NormalizedQuery, pageSize: number): Promise<AsyncIterable<Row[]> | undefined>;
  /**
   * Optional, present where the backend's capabilities say `supportsSql`: one statement written by the user
   * (`storage.sql`), the text `strings` with each of `values` bound as a parameter between them (never
   * spliced), on the session's connection (the transaction's, inside one). Rows come back as plain objects
   * keyed by column name, values as the driver reads them. `wrote` is false only when the database says the
   * statement changes nothing (a plain select), so that the caller knows when caches must be dropped.
   */
  sql?(strings: readonly string[], values: readonly unknown[]): Promise<SqlResult>;
  /**
   * Optional (a backend without it makes `repo.search` an `UnsupportedError`): full-text search over the
   * entity's full-text index (`schema.fullText`), reading as `find` does (inside a transaction, with its
   * writes). The rows matching `request.query` (search-query.ts) and `request.where`, best first by BM25 as
   * SQLite FTS5's `bm25()` computes it (k1 = 1.2, b = 0.75, each phrase's IDF `ln((N - n + 0.5) / (n + 0.5))`,
   * at least 1e-6, over the table's rows as the session sees them), ties by primary key ascending, then
   * paged by `offset` and `limit`. `score` is that BM25 value, positive, higher is better.
   */
  search?(schema: EntitySchema, request: SearchRequest): Promise<SearchHit[]>;
}

/** What {@link DataSession.search} is asked. */
export interface SearchRequest {
  readonly query: SearchQuery;
  /** Further conditions on the rows, as `find`'s (`undefined`: none). */
  readonly where: NormalizedWhere | undefined;
  readonly limit: number;
  readonly offset: number;
}

/** One row {@link DataSession.search} found, with its BM25 score. */
export interface SearchHit {
  readonly row: Row;
  readonly score: number;
}

/** What {@link DataSession.sql} returns. */
export interface SqlResult {
  readonly rows: Record<string, unknown>[];
  readonly wrote: boolean;
}
