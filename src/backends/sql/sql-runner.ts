/**
 * How shared SQL code reaches a connection: a {@link SqlRunner} executes text with bound parameters, a
 * {@link WriteGate} decides where a write runs and how several statements are made atomic. A driver
 * supplies both; the session, the schema editor and the introspectors use nothing else.
 */

/** Executes SQL on a connection (or a pool). Rows come back as arrays in select-list order. */
export interface SqlRunner {
  /** Every row of a statement that returns rows. `prepared` marks a fixed hot-path text worth preparing once. */
  all(text: string, params: readonly unknown[], prepared: boolean): unknown[][] | Promise<unknown[][]>;
  /** The number of rows a statement changed. */
  run(text: string, params: readonly unknown[], prepared: boolean): number | Promise<number>;
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
