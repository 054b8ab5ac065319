/**
 * A statement the user writes (`storage.sql`): the template's text with a placeholder of the dialect's
 * between each two pieces and the values bound there, never spliced. Statements that end or open a
 * transaction are refused, since Strata's transaction manager owns those.
 */
import { QueryError } from "../../errors.js";
import type { SqlDialect } from "./sql-dialect.js";

/**
 * How a database skips what comes before a statement's first word. Both readings are checked, so that
 * neither database can be shown a first word the check did not see: PostgreSQL nests block comments and
 * ends a `--` comment at a carriage return too; SQLite does neither.
 */
const LEXICONS = [
  { nestedComments: false, lineEnds: /\n/g },
  { nestedComments: true, lineEnds: /[\n\r]/g },
] as const;
/** First words of statements that begin, end or mark a transaction (SQLite's and PostgreSQL's). */
const TRANSACTION_CONTROL = new Set(["begin", "start", "commit", "end", "rollback", "abort", "savepoint", "release"]);

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
  for (const lexicon of LEXICONS) {
    const first = firstWord(text, lexicon.nestedComments, lexicon.lineEnds);
    if (first === "prepare") {
      throw new QueryError('storage.sql: "PREPARE" is refused: a prepared statement or a prepared transaction is connection state that pooled connections and storage.transaction() do not keep (storage.sql binds its values already)');
    }
    if (first !== undefined && TRANSACTION_CONTROL.has(first)) {
      throw new QueryError(`storage.sql: "${first.toUpperCase()}" is refused: transactions belong to storage.transaction(), which storage.sql joins`);
    }
  }
  return { text, params };
}

/**
 * The first word of `text` in lower case, past blanks, comments and empty statements (`;`), which both
 * databases skip before a statement.
 */
function firstWord(text: string, nestedComments: boolean, lineEnds: RegExp): string | undefined {
  let at = 0;
  while (at < text.length) {
    if (/[\s;]/.test(text[at]!)) {
      at++;
    } else if (text.startsWith("--", at)) {
      lineEnds.lastIndex = at;
      if (!lineEnds.exec(text)) return undefined;
      at = lineEnds.lastIndex;
    } else if (text.startsWith("/*", at)) {
      at = blockCommentEnd(text, at, nestedComments);
    } else {
      break;
    }
  }
  return /^[A-Za-z]+/.exec(text.slice(at))?.[0].toLowerCase();
}

/** Where the block comment opening at `start` ends (the end of `text` when it never closes). */
function blockCommentEnd(text: string, start: number, nested: boolean): number {
  let depth = 1;
  let at = start + 2;
  while (at < text.length) {
    if (text.startsWith("*/", at)) {
      at += 2;
      if (--depth === 0) return at;
    } else if (nested && text.startsWith("/*", at)) {
      at += 2;
      depth++;
    } else {
      at++;
    }
  }
  return at;
}
