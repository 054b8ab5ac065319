/**
 * better-sqlite3 under the SQL session: a connection with its prepared statements (prepared once per
 * text, rows as arrays).
 */
import type BetterSqlite3 from "better-sqlite3";
import type { SqlRunner } from "../sql/sql-runner.js";

/** Statements kept per connection; the fixed hot-path ones are a handful per entity, the rest are queries. */
const MAX_CACHED_STATEMENTS = 1000;

export class SqliteConnection implements SqlRunner {
  private readonly statements = new Map<string, BetterSqlite3.Statement>();

  constructor(readonly db: BetterSqlite3.Database) {}

  private statement(text: string): BetterSqlite3.Statement {
    let statement = this.statements.get(text);
    if (statement === undefined) {
      statement = this.db.prepare(text);
      if (statement.reader) statement.raw(true);
      if (this.statements.size >= MAX_CACHED_STATEMENTS) this.statements.delete(this.statements.keys().next().value!);
      this.statements.set(text, statement);
    }
    return statement;
  }

  all(text: string, params: readonly unknown[]): unknown[][] {
    return this.statement(text).all(params) as unknown[][];
  }

  run(text: string, params: readonly unknown[]): number {
    return this.statement(text).run(params).changes;
  }

  exec(sql: string): void {
    this.db.exec(sql);
  }
}
