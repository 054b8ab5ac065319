/**
 * What differs between the SQL databases Strata speaks to, as data and small functions, in one object per
 * database: the compiler's hooks (placeholders, list parameters, pattern matching, ordering, limits), the
 * column types and value codecs, the DDL that is not standard (an auto-increment key, literals), and an
 * introspector that reads tables back from the catalog. Everything else in `src/backends/sql/` is shared
 * and reads the dialect; it never imports a concrete one. README.md in this folder lists every part a new
 * dialect supplies.
 */
import type { TableDescription, TableForeignKey } from "../../spi/index.js";
import type { EntitySchema, FullTextSchema, LogicalType } from "../../schema/entity-schema.js";
import type { SearchQuery } from "../../search/search-query.js";
import type { SqlRunner, WriteGate } from "./sql-runner.js";

/**
 * How a table is created. A migration's table must not exist yet and gets its columns' defaults; autoCreate
 * uses `IF NOT EXISTS` and no defaults (the repository fills them, and a default DDL cannot spell must not
 * stop a storage from opening).
 */
export type CreateMode = "migration" | "autoCreate";

/** Turns a logical value (never null) into what the driver binds, and a stored value back. */
export interface ValueCodec {
  encode(value: unknown): unknown;
  decode(value: unknown): unknown;
}

/** Reads tables back from the database's catalog (migrations' `describeTable`, `strata copy`, generate). */
export interface SqlIntrospector {
  /** Every table of the current schema, `strata_migrations` included, sorted by name. */
  listTables(run: SqlRunner): Promise<string[]>;
  /** The table's columns (logical types, defaults as logical values) and indexes, or undefined when missing. */
  describeTable(run: SqlRunner, name: string): Promise<TableDescription | undefined>;
  /**
   * The foreign keys of every table of the current schema that has some, by table, as `describeTable` gives
   * them, read at once (`SqlBackend.readForeignKeys` runs at open and after each migration: a describe per
   * table took seconds on a schema of a few hundred tables). Absent: each table is described.
   */
  readForeignKeys?(run: SqlRunner): Promise<ReadonlyMap<string, readonly TableForeignKey[]>>;
}

/**
 * One SQL database's dialect. The query compiler, the fixed statements of each entity, the DDL and the
 * schema editor are written once, in `src/backends/sql/`, against this interface.
 *
 * Its members, by purpose (in this order below):
 * - naming: `name`, `label`;
 * - query compiler hooks: `maxParams`, `placeholder`, `inList`, `listParam`, `like`, `likeParam`, `ilike`,
 *   `ilikePrefixRange`, `stringCollation`, `limitOffset`, `transactionRowLock`;
 * - types: `columnTypes`, `codecs`;
 * - DDL: `incrementPrimaryKey`, `advanceKeyGenerator`, `literal`, `canSetNotNull`, `indexColumnOrder`,
 *   `foldedIndexExpression`, `addForeignKeyIfMissing`, `alterTableConstraints`;
 * - introspection: `introspector`;
 * - full-text search: `fullText` (optional).
 *
 * The members stay flat rather than in sub-objects (`dialect.query`, `dialect.ddl`...): the query compiler
 * and the session read the compiler hooks on every call (each `find`, `count`, `findByIds`), where a nested
 * object would add a property load per use on a hot path; types and DDL are read when an entity's
 * statements are built and by migrations.
 */
export interface SqlDialect {
  /** The backend's name (and so the `SqlBackend`'s `name`), as in messages ("more than sqlite allows"). */
  readonly name: string;
  /** The database's own name, as messages spell it ("SQLite", "PostgreSQL"). */
  readonly label: string;

  // Query compiler hooks.
  /** Bound parameters one statement may carry (SQLite 32766, PostgreSQL 65535). */
  readonly maxParams: number;
  /** The placeholder of the `n`th parameter (1-based). */
  placeholder(n: number): string;
  /** `expr` matches one of the values bound as the single list parameter `ph` (see {@link SqlDialect.listParam}). */
  inList(expr: string, ph: string, column: { readonly type: LogicalType }): string;
  /** Encoded values as one parameter: a list never needs more than one placeholder, whatever its length. */
  listParam(encoded: readonly unknown[]): unknown;
  /** Case-sensitive `%`/`_` match of `expr` against the parameter `ph`, no other character special. */
  like(expr: string, ph: string): string;
  /** The bound value for {@link SqlDialect.like}'s `ph`, from an API pattern. */
  likeParam(pattern: string): string;
  /** As {@link SqlDialect.like} folding ASCII letters only. */
  ilike(expr: string, ph: string): string;
  /**
   * For an `$ilike` pattern with a literal prefix: `expr`'s folded value in `[lowPh, highPh)` (or from
   * `lowPh` on, when `highPh` is undefined), the folded prefix and its successor bound as parameters, in
   * terms the index on {@link SqlDialect.foldedIndexExpression} serves. Added beside {@link SqlDialect.ilike},
   * which still decides the match. Undefined where the database finds the range in the pattern itself
   * (SQLite's LIKE optimization, with a bound parameter too).
   */
  ilikePrefixRange?(expr: string, lowPh: string, highPh: string | undefined): string;
  /** Appended to a string column in comparisons and ORDER BY so strings order by code point. */
  readonly stringCollation: string;
  /** `LIMIT`/`OFFSET` text for the given placeholders (or, with {@link SqlDialect.literalPaging}, digits). */
  limitOffset(limitPh: string | undefined, offsetPh: string | undefined): string;
  /**
   * What of limit and offset is written as integer literals instead of bound (both are checked
   * non-negative integers, so only digits reach the text). `"limit"` (SQLite): SQLite 3.4x reads a bound
   * LIMIT while planning and marks the statement to be prepared again whenever that parameter is bound, so
   * a cached statement with `LIMIT ?` was compiled anew at every run (about three times a 10-row page's
   * cost); the offset stays bound (it marks nothing), so paging by offset reuses one statement per page
   * size. `"both"` (PostgreSQL, whose finds are unnamed statements, parsed at every call anyway): a select
   * left with no parameter goes as one simple-protocol message, not five extended-protocol ones (half the
   * round trip's cost for a 10-row page). Absent: both bound.
   */
  readonly literalPaging?: "limit" | "both";
  /**
   * Appended to selects of rows inside a write transaction (PostgreSQL's ` FOR UPDATE`), or "" where the
   * transaction already excludes other writers (SQLite's `BEGIN IMMEDIATE`).
   */
  readonly transactionRowLock: string;

  // Types.
  /** The column type in DDL for each logical type, without nullability. */
  readonly columnTypes: Readonly<Record<LogicalType, string>>;
  /** How logical values of each type are stored. */
  readonly codecs: Readonly<Record<LogicalType, ValueCodec>>;

  // DDL.
  /** The whole column definition of an `increment` primary key (type, key, generator and its bound). */
  readonly incrementPrimaryKey: string;
  /**
   * SQL that moves the key generator of an `increment` column past an explicitly written key (bound as
   * the only parameter), or undefined when the database does so itself (SQLite's AUTOINCREMENT).
   */
  advanceKeyGenerator?(table: string, column: string): string;
  /** A column default as a SQL literal (DDL takes no parameters); throws when the value does not fit the type. */
  literal(type: LogicalType, value: unknown): string;
  /** True when `ALTER TABLE ... ADD COLUMN` accepts NOT NULL without a default on an empty table. */
  readonly canSetNotNull: boolean;
  /**
   * Appended to each column of `CREATE INDEX` so the index holds the contract's ascending order, nulls
   * first: then `ASC NULLS FIRST` is its forward scan and `DESC NULLS LAST` its backward scan
   * (PostgreSQL's ` NULLS FIRST`; "" on SQLite, whose nulls already sort first).
   */
  readonly indexColumnOrder: string;
  /**
   * The indexed expression of the companion index a single-column index on a string column gets, so that
   * `$ilike` with a literal prefix is an index range: the column's value with ASCII letters folded, in the
   * very form {@link SqlDialect.ilike} and {@link SqlDialect.ilikePrefixRange} compare.
   */
  foldedIndexExpression(column: string): string;
  /**
   * For a database whose `REFERENCES` may only name a table that exists (PostgreSQL): a statement that
   * adds the foreign key `name` (its `clause`, sql-foreign-keys.ts) to `table` unless the table has it,
   * which autoCreate runs for a foreign key pointing at a table created after its own (a cycle). Undefined
   * where a `REFERENCES` may name a table created later (SQLite): every foreign key is then written inline.
   */
  addForeignKeyIfMissing?(table: string, name: string, clause: string): string;
  /**
   * True when the database adds and drops a foreign key of an existing table with `ALTER TABLE ... ADD |
   * DROP CONSTRAINT` (PostgreSQL). False where it cannot (SQLite): the schema editor then has the
   * connection rewrite the table's stored definition (a {@link TableDefinitionRewriter}, sql-runner.ts).
   */
  readonly alterTableConstraints: boolean;

  // Introspection.
  readonly introspector: SqlIntrospector;

  // Full-text search.
  /**
   * How the database holds a table's full-text index and answers `repo.search` (see {@link SqlFullText}).
   * Absent: the backend's sessions have no `search` (`repo.search` is an `UnsupportedError`), autoCreate
   * leaves entities' full-text indexes out and `m.createFullTextIndex` is an `UnsupportedError`.
   */
  readonly fullText?: SqlFullText;
}

/**
 * A dialect's full-text search: the objects that hold a table's full-text index (whatever the database
 * needs: a virtual table and triggers on SQLite, a hidden column or side table and a GIN index on
 * PostgreSQL), their DDL, and the select of a search. The shared code (sql-full-text.ts, the schema
 * editor, autoCreate, the session) decides when to run them and never looks inside; the introspector
 * reads the index back into `TableDescription.fullText` and leaves its objects out of `listTables`.
 *
 * Contract of every statement list: run in order, on the connection of the transaction at hand (DDL is
 * transactional on both databases), with no bound parameter; names are quoted (`quoteIdentifier`), text
 * values written with `quotedText` (sql-literals.ts). The index must stay current by itself: every write
 * to the table, however made (Strata's statements, a foreign key's cascade, `storage.sql`), updates it in
 * the writing statement's own transaction, so that a rollback (or a savepoint's) undoes both.
 */
export interface SqlFullText {
  /**
   * The statements that create the full-text index `index` of `table` (`index.properties` are column names,
   * all of string columns, in document order; `primaryKey` is the table's key column) and index the rows the
   * table holds. `"migration"`: nothing of it exists yet. `"autoCreate"`: the storage opens over a database
   * that may hold it already: each object is created only if missing, and the rows are indexed only when the
   * index is new (a storage's open never re-reads a table it has indexed).
   */
  createStatements(table: string, index: FullTextSchema, primaryKey: string, mode: CreateMode): string[];
  /** The statements that drop `table`'s full-text index `index` (as the introspector read it) and all it made. */
  dropStatements(table: string, index: FullTextSchema): string[];
  /**
   * The names of the tables {@link SqlFullText.createStatements} makes for `table` (on SQLite `<table>__fts`
   * and its shadow tables): one of them taken by another table is a `SchemaError` before anything runs.
   * Empty where the index makes no table of its own.
   */
  reservedTables(table: string): string[];
  /**
   * Column names (compared case-insensitively) that a table with a full-text index cannot have: on SQLite
   * the names of the hidden rowid FTS5 keys its rows by. One of them in the table is a `SchemaError` before
   * anything runs. Absent: none.
   */
  readonly reservedColumns?: readonly string[];
  /**
   * The select of one search (see {@link FullTextSearch}): rows as arrays, `search.columns` in that order
   * followed by the score, best first (score descending, then primary key ascending), paged.
   */
  searchStatement(search: FullTextSearch): SearchStatement;
  /**
   * Optional, for a database whose index Strata writes itself rather than the database (PostgreSQL, whose
   * documents are built by Strata's tokenizer in JavaScript): brings the index of `search`'s table up to
   * date before the search runs, with the session's `reads` (a transaction's own connection inside one)
   * and its write `gate` (`inTransaction`: the gate writes in the reads' transaction, so a failed write
   * would end it). Resolves to true when rows may still wait for their part of the index (another
   * transaction holds them, or the search may not write): the session then reads them with
   * {@link SqlFullText.unindexed} and runs the search in the same snapshot (outside a transaction, in one
   * {@link SqlRunner.snapshot}), so that a row changed between the two is neither missed nor scored on a
   * text the search does not see. False: nothing waited, the search is one statement.
   */
  refresh?(search: Pick<FullTextSearch, "schema" | "indexColumns">, reads: SqlRunner, gate: WriteGate, inTransaction: boolean): Promise<boolean>;
  /**
   * With {@link SqlFullText.refresh}: the rows whose part of the index is missing, as `runner` sees them (their
   * committed version, or the transaction's own), which the search statement then indexes itself
   * ({@link FullTextSearch.unindexed}). Run on the runner, and in the snapshot, of the search statement.
   */
  unindexed?(search: Pick<FullTextSearch, "schema" | "indexColumns">, runner: SqlRunner): Promise<readonly UnindexedRow[]>;
  /**
   * Optional, with {@link SqlFullText.refresh}: columns of the table itself that hold a row's part of the
   * index, which Strata's inserts and upserts write in the row's own statement (PostgreSQL's document and
   * its length), so that a search after them has nothing to refresh: their names, and their values from
   * the row's indexed values (in the index's order; null or undefined for an empty one). An upsert that
   * changes an existing row writes them only when it gives every indexed column; a write that does not
   * (an update of some columns, a statement of the user's) is left to {@link SqlFullText.refresh}.
   */
  readonly rowColumns?: FullTextRowColumns;
}

/** See {@link SqlFullText.rowColumns}. */
export interface FullTextRowColumns {
  readonly names: readonly string[];
  values(indexed: readonly unknown[]): unknown[];
}

/** A row whose part of the index is missing (see {@link SqlFullText.refresh}): its key and its indexed values, in the index's order. */
export interface UnindexedRow {
  readonly key: unknown;
  readonly values: readonly unknown[];
  /**
   * The version of the row that was read (PostgreSQL's `xmin`), where the dialect has one: the search statement
   * then reports when its snapshot holds another version, or another waiting row ({@link SearchStatement.checksWaiting}).
   */
  readonly version?: unknown;
}

/** What {@link SqlFullText.searchStatement} returns. */
export interface SearchStatement {
  readonly text: string;
  readonly params: unknown[];
  /**
   * True when each row of the statement ends, after the score, with a boolean: whether the statement's own
   * snapshot holds a waiting row that {@link FullTextSearch.unindexed} did not list as it is there (a row left
   * waiting, or changed, by a commit after the rows were read): the answer may then leave it out or score it
   * on other text, and the session searches again. Such a statement answers at least one row: when nothing
   * matches, one of nulls (its primary key too), carrying only that boolean.
   */
  readonly checksWaiting?: boolean;
}

/** What {@link SqlFullText.searchStatement} is given: one `repo.search` call, its `where` already compiled. */
export interface FullTextSearch {
  /** The searched entity: its table, primary key and `fullText` (whose `properties` are entity properties). */
  readonly schema: EntitySchema;
  /** The full-text index's columns (column names), in document order. */
  readonly indexColumns: readonly string[];
  /** The column names to select, in this order (the score comes after them). */
  readonly columns: readonly string[];
  /** The parsed query: every token in it is folded already; never the user's raw text. */
  readonly query: SearchQuery;
  /**
   * The compiled `where`, or undefined when it matches every row: a boolean expression over the table's
   * columns, unqualified (the select must have no other column of those names in scope where it is placed;
   * correlated subqueries in it name the table by its quoted name, so the table must not be aliased). Its
   * placeholders are numbered from `firstParam` (1-based), and its values come back in `params`.
   */
  where(firstParam: number): { readonly text: string; readonly params: readonly unknown[] } | undefined;
  readonly limit: number;
  readonly offset: number;
  /**
   * The rows {@link SqlFullText.refresh} could not index: the search must match and score them as if they
   * were indexed (with every total counting them so). Absent or empty: none.
   */
  readonly unindexed?: readonly UnindexedRow[];
}

/** A double-quoted identifier. Names come only from entity metadata or checked migration names; a quote inside is doubled. */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
