/**
 * A statement the user writes (`storage.sql`): the template's text with a placeholder of the dialect's
 * between each two pieces and the values bound there, never spliced. Statements that end or open a
 * transaction are refused, since Strata's transaction manager owns those.
 */
import { QueryError } from "../../errors.js";
import type { SqlDialect } from "./sql-dialect.js";

/** Leading comments and blanks, then the statement's first word. */
const FIRST_WORD = /^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*([A-Za-z]+)/;
/** First words of statements that begin, end or mark a transaction (SQLite's and PostgreSQL's). */
const TRANSACTION_CONTROL = new Set(["begin", "start", "commit", "end", "rollback", "abort", "savepoint", "release", "prepare"]);

export interface UserStatement {
  readonly text: string;
  readonly params: unknown[];
}

/**
 * The text and parameters of `sql\`...\``; a {@link QueryError} for an undefined value (naming its place)
 * or a transaction statement. Dates and booleans are bound as the dialect stores them, so that they
 * compare with what Strata wrote; other values go to the driver as they are.
 */
export function userStatement(dialect: SqlDialect, strings: readonly string[], values: readonly unknown[]): UserStatement {
  let text = strings[0] ?? "";
  const params = values.map((value, i) => {
    text += dialect.placeholder(i + 1) + (strings[i + 1] ?? "");
    if (value === undefined) throw new QueryError(`storage.sql: parameter ${i + 1} is undefined (pass null for SQL NULL)`);
    if (value instanceof Date) {
      if (Number.isNaN(value.getTime())) throw new QueryError(`storage.sql: parameter ${i + 1} is an invalid Date`);
      return dialect.codecs.datetime.encode(value);
    }
    return typeof value === "boolean" ? dialect.codecs.boolean.encode(value) : value;
  });
  const first = FIRST_WORD.exec(text)?.[1]?.toLowerCase();
  if (first !== undefined && TRANSACTION_CONTROL.has(first)) {
    throw new QueryError(`storage.sql: "${first.toUpperCase()}" is refused: transactions belong to storage.transaction(), which storage.sql joins`);
  }
  return { text, params };
}
