/**
 * better-sqlite3 under the SQL session: a connection with its prepared statements (prepared once per
 * text, rows as arrays), and the rewrite of a table's definition that adds or drops a foreign key.
 */
import type BetterSqlite3 from "better-sqlite3";
import type { SqlResult } from "../../spi/index.js";
import type { SqlRunner, TableDefinitionRewriter } from "../sql/sql-runner.js";
import { noteStatement } from "../../observe/operation-trace.js";

/** Statements kept per connection; the fixed hot-path ones are a handful per entity, the rest are queries. */
const MAX_CACHED_STATEMENTS = 1000;

/**
 * Rows one statement may change before FTS5's term buffer is worth giving back: a statement over a table with
 * a full-text index puts the terms of every row it changes in the buffer (up to FTS5's 1 MB before it writes
 * them out), whose slot array then stays that large; after a deleteMany of 35k indexed cities one-row saves
 * measured 2-3x slower, as after a rebuild. saveMany's 500-row statements stay below it. A statement over a
 * table without an index costs the reload for nothing: once, after a write of thousands of rows.
 */
const BULK_ROWS = 2000;

/** FTS5's `'rebuild'` command written in a statement's text (sqlite-full-text.ts writes it so). */
const REBUILD_WORD = /'rebuild'/i;

/**
 * FTS5's command form: an INSERT into the column named as the table itself (`INSERT INTO ft(ft, ...)`), the
 * table's name optionally quoted and after a schema name. Its command word may be a bound value.
 */
const FULL_TEXT_COMMAND = /^\s*(?:insert(?:\s+or\s+\w+)?|replace)\s+into\s+(?:[^\s(]+\.)?["`[]?([^\s"`\]()]+)["`\]]?\s*\(\s*["`[]?\1["`\]]?\s*[,)]/i;

/**
 * Whether a statement runs FTS5's `'rebuild'`: never (it only reads, or is no FTS5 command), always (the
 * word is in its text: a text that merely mentions it in a write costs one needless schema reload per run),
 * or when one of its bound values is the word (FTS5's command form with a placeholder: storage.sql, m.sql).
 */
type Rebuilds = "never" | "always" | "whenBound";

function rebuildsOf(text: string, readonly: boolean): Rebuilds {
  // A statement that reads only (a SELECT that mentions the word) writes no index.
  if (readonly) return "never";
  if (REBUILD_WORD.test(text)) return "always";
  return FULL_TEXT_COMMAND.test(text) ? "whenBound" : "never";
}

function rebuildsWith(rebuilds: Rebuilds, params: readonly unknown[]): boolean {
  if (rebuilds !== "whenBound") return rebuilds === "always";
  return params.some((p) => typeof p === "string" && p.toLowerCase() === "rebuild");
}

/** A prepared statement, whether it ran since the eviction sweep last passed it, and whether it rebuilds a full-text index. */
interface CachedStatement {
  readonly statement: BetterSqlite3.Statement;
  used: boolean;
  readonly rebuilds: Rebuilds;
}

export class SqliteConnection implements SqlRunner, TableDefinitionRewriter {
  private readonly statements = new Map<string, CachedStatement>();
  /**
   * Set when a statement ran FTS5's `'rebuild'` or changed {@link BULK_ROWS} rows or more; cleared by
   * {@link SqliteConnection.shrinkFullTextBuffers}.
   */
  private fullTextBuffersGrown = false;

  constructor(readonly db: BetterSqlite3.Database) {}

  private statement(text: string, params: readonly unknown[]): BetterSqlite3.Statement {
    let cached = this.statements.get(text);
    if (cached !== undefined) cached.used = true;
    else {
      const statement = this.db.prepare(text);
      if (statement.reader) statement.raw(true);
      if (this.statements.size >= MAX_CACHED_STATEMENTS) this.evictOne();
      cached = { statement, used: false, rebuilds: rebuildsOf(text, statement.readonly) };
      this.statements.set(text, cached);
    }
    if (cached.rebuilds !== "never" && rebuildsWith(cached.rebuilds, params)) this.fullTextBuffersGrown = true;
    return cached.statement;
  }

  /**
   * Called when a write (a transaction, or a statement in autocommit) has ended: after one that rebuilt a
   * full-text index or changed thousands of rows in one statement ({@link BULK_ROWS}), gives this connection's
   * FTS5 tables back their small in-memory buffers. FTS5 gathers the terms a statement adds in a hash table of
   * the connection's own that grows with them and never shrinks; a `'rebuild'` (a new index over a table's
   * rows, at autoCreate or in a migration) grows it to the size of a megabyte of terms (so does a deleteMany,
   * an UPDATE or an INSERT ... SELECT over many indexed rows), and every later commit that writes the index
   * walks and clears all of it: a one-row save then costs about three times as much until the connection
   * closes. Reloading the schema
   * (`writable_schema = RESET`, as {@link SqliteConnection.rewriteTableDefinition} does) disconnects the
   * FTS5 tables, which connect again, with a buffer of the initial size, at their next use; the prepared
   * statements are prepared again by SQLite on their next run. Never inside a transaction: the FTS5 tables
   * that take part in it hold their pending terms until it ends.
   */
  shrinkFullTextBuffers(): void {
    if (!this.fullTextBuffersGrown || this.db.inTransaction || !this.db.open) return;
    try {
      this.db.pragma("writable_schema = RESET");
      this.fullTextBuffersGrown = false;
    } catch {
      // The write has ended and stands: a reload that fails only leaves FTS5's buffer large (slower saves, nothing
      // wrong), so it must neither fail that write nor keep its caller from giving the writer back. The next
      // write's end tries again.
    }
  }

  /**
   * Drops one statement that has not run since the sweep last passed it (the "clock" approximation of least
   * recently used): the hot statements (findById, insert, upsert) are prepared first, and a stream of distinct
   * texts (a query's LIMIT is written as digits, so each page size is its own text) must not push them out the
   * way dropping the oldest-prepared one would. A hit costs one flag write, not a reordering of the map.
   */
  private evictOne(): void {
    for (const [text, cached] of this.statements) {
      this.statements.delete(text);
      if (!cached.used) return;
      // Used since the last pass: a second chance, at the back of the queue.
      cached.used = false;
      this.statements.set(text, cached);
    }
  }

  all(text: string, params: readonly unknown[]): unknown[][] {
    noteStatement(text, params);
    return this.statement(text, params).all(params) as unknown[][];
  }

  run(text: string, params: readonly unknown[]): number {
    noteStatement(text, params);
    const { changes } = this.statement(text, params).run(params);
    if (changes >= BULK_ROWS) this.fullTextBuffersGrown = true;
    return changes;
  }

  query(text: string, params: readonly unknown[]): SqlResult {
    noteStatement(text, params);
    // prepare() refuses a text holding more than one statement.
    const statement = this.db.prepare(text);
    if (rebuildsWith(rebuildsOf(text, statement.readonly), params)) this.fullTextBuffersGrown = true;
    const wrote = !statement.readonly;
    if (statement.reader) return { rows: statement.all(params) as Record<string, unknown>[], wrote };
    if (statement.run(params).changes >= BULK_ROWS) this.fullTextBuffersGrown = true;
    return { rows: [], wrote };
  }

  exec(sql: string): void {
    // Strata's own texts (autoCreate's statements, transaction control): several statements, none read-only to ask.
    if (REBUILD_WORD.test(sql)) this.fullTextBuffersGrown = true;
    this.db.exec(sql);
  }

  /** `PRAGMA foreign_key_check` of `table`: the value of `column` in the first row it reports. */
  firstForeignKeyViolation(table: string, column: string): unknown {
    const broken = this.db.prepare(`SELECT "rowid" FROM pragma_foreign_key_check(?)`).pluck().get(table);
    if (broken === undefined) return undefined;
    return this.db.prepare(`SELECT "${column.replace(/"/g, '""')}" FROM "${table.replace(/"/g, '""')}" WHERE "rowid" = ?`).pluck().get(broken) ?? null;
  }

  /**
   * Replaces the `CREATE TABLE` text of `table` in `sqlite_schema`: how a foreign key is added or dropped,
   * since SQLite has no ALTER TABLE for constraints. The documented alternative, rebuilding the table
   * (create a copy, copy the rows, drop the old one, rename), cannot run in a migration's transaction with
   * foreign keys enforced: `PRAGMA foreign_keys` cannot change inside a transaction, `PRAGMA
   * defer_foreign_keys` only defers checks, and dropping the old table deletes its rows first, which
   * CASCADE and SET NULL foreign keys of other tables act on (every referencing row would be deleted or
   * emptied). A foreign key changes nothing in how rows are stored, so SQLite's own "simpler procedure"
   * for changing constraints applies (https://sqlite.org/lang_altertable.html, section 7): the new text is
   * written with `writable_schema` (which needs the defensive flag off for these few synchronous
   * statements), the schema version is bumped so that every connection reloads the schema, and
   * `writable_schema = RESET` reloads it on this one. Inside the caller's transaction: a rollback restores
   * the old text. Rows, indexes, triggers and the AUTOINCREMENT counter are untouched; the caller checks
   * the rows against the new definition (`PRAGMA foreign_key_check`).
   */
  rewriteTableDefinition(table: string, edit: (createSql: string) => string): void {
    const current = this.db.prepare(`SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?`).pluck().get(table);
    if (typeof current !== "string") throw new Error(`no such table: ${table}`);
    const next = edit(current);
    const version = this.db.pragma("schema_version", { simple: true }) as number;
    this.db.unsafeMode(true);
    try {
      this.db.pragma("writable_schema = ON");
      try {
        this.db.prepare(`UPDATE sqlite_schema SET sql = ? WHERE type = 'table' AND name = ?`).run(next, table);
        this.db.pragma(`schema_version = ${version + 1}`);
      } finally {
        this.db.pragma("writable_schema = RESET");
      }
    } finally {
      this.db.unsafeMode(false);
    }
  }
}
