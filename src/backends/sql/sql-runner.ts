/**
 * How shared SQL code reaches a connection: a {@link SqlRunner} executes text with bound parameters, a
 * {@link WriteGate} decides where a write runs and how several statements are made atomic. A driver
 * supplies both; the session, the schema editor and the introspectors use nothing else.
 */

import type { SqlResult } from "../../spi/index.js";

/** Executes SQL on a connection (or a pool). Rows come back as arrays in select-list order. */
export interface SqlRunner {
  /** Every row of a statement that returns rows. `prepared` marks a fixed hot-path text worth preparing once. */
  all(text: string, params: readonly unknown[], prepared: boolean): unknown[][] | Promise<unknown[][]>;
  /** The number of rows a statement changed. */
  run(text: string, params: readonly unknown[], prepared: boolean): number | Promise<number>;
  /**
   * One statement of the user's (`storage.sql`, never prepared for reuse): rows as objects keyed by column
   * name, and whether the database may have changed anything. More than one statement is refused.
   */
  query(text: string, params: readonly unknown[]): SqlResult | Promise<SqlResult>;
  /**
   * Optional: runs `work` on one connection of this runner's, in a read-only transaction with one snapshot
   * for all its statements (PostgreSQL's `REPEATABLE READ READ ONLY`), ended when `work` settles. For reads
   * outside a transaction that must agree with one another (a full-text search's read of the rows it builds
   * and its select, sql-dialect.ts `SqlFullText.refresh`). Absent: the caller runs `work` on the runner itself.
   */
  snapshot?<T>(work: (runner: SqlRunner) => Promise<T>): Promise<T>;
}

/**
 * Runs one write: `work` gets the runner to use. `multiStatement` asks for atomicity across several
 * statements (a transaction when the caller is not already in one).
 */
export type WriteGate = <T>(work: (runner: SqlRunner) => Promise<T>, multiStatement: boolean) => Promise<T>;

/**
 * What a connection of a database without `ALTER TABLE ... ADD | DROP CONSTRAINT` (SQLite,
 * {@link SqlDialect.alterTableConstraints} false) offers the schema editor instead: replaces the stored
 * `CREATE TABLE` text of `table` with `edit(text)`, inside the open transaction, its rows, indexes and key
 * generator untouched. The caller then checks the rows against the new definition.
 */
export interface TableDefinitionRewriter {
  rewriteTableDefinition(table: string, edit: (createSql: string) => string): void | Promise<void>;
  /** The value of `column` in the first row of `table` that breaks one of its foreign keys, or undefined when none does. */
  firstForeignKeyViolation(table: string, column: string): unknown;
}

/**
 * A driver's streaming reads (see `DataSession.stream`): one select answered from a read snapshot of its
 * own, its rows pulled a page at a time. Optional: a driver without it walks by keyset pages.
 */
export interface SqlStreamer {
  /**
   * Whether streaming `text` beats keyset pages: true when the database must sort every match to give
   * the select's order (no index serves it), so that each keyset page would sort them all again.
   */
  sortsEveryMatch(text: string, params: readonly unknown[]): boolean | Promise<boolean>;
  /**
   * Starts `text` on a connection and read snapshot of its own, released by {@link SqlCursor.close}; or
   * `undefined` when the driver's streaming connections are all in use (its cap): the walk then reads a
   * keyset page instead and asks again for the next one.
   */
  open(text: string, params: readonly unknown[]): SqlCursor | undefined | Promise<SqlCursor | undefined>;
}

/** An open streaming select: its next rows (arrays in select-list order), until it returns none. */
export interface SqlCursor {
  /** At most `count` more rows; fewer only at the end. */
  next(count: number): unknown[][] | Promise<unknown[][]>;
  /** Ends the select and gives its connection back; safe to call twice. */
  close(): void | Promise<void>;
}
