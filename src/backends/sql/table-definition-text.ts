/**
 * The text of a `CREATE TABLE` statement as SQLite keeps it (`sqlite_schema.sql`), read as tokens, for the
 * databases that change a table's constraints by rewriting that text (`TableDefinitionRewriter`) and read
 * constraint names back from it. A token reader, not patterns: a quoted name or a string default may hold
 * parentheses, commas, quotes or whole words such as `CONSTRAINT "x" FOREIGN KEY`, and must be skipped as one
 * token. Quoting as SQLite reads it: `"name"`, `` `name` `` (a doubled quote inside stands for one), `[name]`,
 * and `'string'`; comments `-- ...` to the end of the line and `/* ... *\/`.
 */
import { SchemaError } from "../../errors.js";

/** One token of the text, with where it starts and ends (`text.slice(start, end)` is its source). */
interface Token {
  readonly kind: "word" | "quoted" | "string" | "open" | "close" | "comma" | "other";
  readonly start: number;
  readonly end: number;
}

/** A definition of the column list (a column, or a table constraint), between two separators. */
interface Definition {
  readonly tokens: readonly Token[];
  /** The separator before it: the comma, or the list's opening parenthesis for the first one. */
  readonly before: Token;
  /** The separator after it: the next comma, or the list's closing parenthesis. */
  readonly after: Token;
}

/** The column list of a `CREATE TABLE` text: its definitions and its closing parenthesis. */
interface ColumnList {
  readonly definitions: readonly Definition[];
  readonly close: Token;
}

/** A text the token reader cannot make sense of; `table` is the table it defines, when the caller knows it. */
function unreadable(sql: string, why: string, table: string | undefined): SchemaError {
  return new SchemaError(`Cannot read the table definition ${JSON.stringify(sql)}: ${why}`, table === undefined ? {} : { table });
}

/** The tokens of `sql`, whitespace and comments left out. */
function tokenize(sql: string, table: string | undefined): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const closingQuote = (start: number, quote: string, doubled: boolean): number => {
    let j = start + 1;
    for (;;) {
      const at = sql.indexOf(quote, j);
      if (at < 0) throw unreadable(sql, `a ${quote}quoted${quote} part starting at ${start} never ends`, table);
      if (doubled && sql[at + 1] === quote) j = at + 2;
      else return at + 1;
    }
  };
  while (i < sql.length) {
    const c = sql[i]!;
    if (/\s/.test(c)) i++;
    else if (c === "-" && sql[i + 1] === "-") {
      const eol = sql.indexOf("\n", i);
      i = eol < 0 ? sql.length : eol + 1;
    } else if (c === "/" && sql[i + 1] === "*") {
      const end = sql.indexOf("*/", i + 2);
      i = end < 0 ? sql.length : end + 2;
    } else if (c === '"' || c === "`") tokens.push({ kind: "quoted", start: i, end: (i = closingQuote(i, c, true)) });
    else if (c === "[") tokens.push({ kind: "quoted", start: i, end: (i = closingQuote(i, "]", false)) });
    else if (c === "'") tokens.push({ kind: "string", start: i, end: (i = closingQuote(i, "'", true)) });
    else if (c === "(") tokens.push({ kind: "open", start: i, end: ++i });
    else if (c === ")") tokens.push({ kind: "close", start: i, end: ++i });
    else if (c === ",") tokens.push({ kind: "comma", start: i, end: ++i });
    else if (/[A-Za-z0-9_$\u0080-\uffff]/.test(c)) {
      const start = i;
      while (i < sql.length && /[A-Za-z0-9_$\u0080-\uffff]/.test(sql[i]!)) i++;
      tokens.push({ kind: "word", start, end: i });
    } else tokens.push({ kind: "other", start: i, end: ++i });
  }
  return tokens;
}

/** The definitions of the column list: between the first parenthesis and the one that closes it, split at the commas of that level. */
function columnList(sql: string, table: string | undefined): ColumnList {
  const tokens = tokenize(sql, table);
  const open = tokens.findIndex((t) => t.kind === "open");
  if (open < 0) throw unreadable(sql, "no column list", table);
  const definitions: Definition[] = [];
  let depth = 0;
  let before = tokens[open]!;
  let current: Token[] = [];
  for (let i = open + 1; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (depth === 0 && (token.kind === "comma" || token.kind === "close")) {
      definitions.push({ tokens: current, before, after: token });
      if (token.kind === "close") return { definitions, close: token };
      before = token;
      current = [];
      continue;
    }
    if (token.kind === "open") depth++;
    else if (token.kind === "close") depth--;
    current.push(token);
  }
  throw unreadable(sql, "the column list never closes", table);
}

/** The name a word or quoted token stands for (a string literal counts: SQLite takes one as a name where a name is expected). */
function nameOf(sql: string, token: Token | undefined): string | undefined {
  if (!token) return undefined;
  const text = sql.slice(token.start, token.end);
  if (token.kind === "word") return text;
  if (token.kind === "string") return text.slice(1, -1).replace(/''/g, "'");
  if (token.kind !== "quoted") return undefined;
  if (text[0] === "[") return text.slice(1, -1);
  return text.slice(1, -1).split(`${text[0]}${text[0]}`).join(text[0]);
}

function isWord(sql: string, token: Token | undefined, word: string): boolean {
  return token?.kind === "word" && sql.slice(token.start, token.end).toUpperCase() === word;
}

/** `{ name, column }` of a definition `CONSTRAINT name FOREIGN KEY (column) ...` over one column, else undefined. */
function namedForeignKey(sql: string, definition: Definition): { name: string; column: string } | undefined {
  const t = definition.tokens;
  if (!isWord(sql, t[0], "CONSTRAINT") || !isWord(sql, t[2], "FOREIGN") || !isWord(sql, t[3], "KEY") || t[4]?.kind !== "open" || t[6]?.kind !== "close") return undefined;
  const name = nameOf(sql, t[1]);
  const column = nameOf(sql, t[5]);
  return name === undefined || column === undefined ? undefined : { name, column };
}

/**
 * The names of the named one-column foreign keys (table constraints) of a `CREATE TABLE` text, by their column.
 * A text that cannot be read is a `SchemaError` naming `table`, as are the other functions'.
 */
export function foreignKeyNames(createSql: string, table?: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const definition of columnList(createSql, table).definitions) {
    const fk = namedForeignKey(createSql, definition);
    if (fk) out.set(fk.column, fk.name);
  }
  return out;
}

/** `createSql` with `clause` added as the last definition of the column list (before its closing parenthesis and any table options). */
export function withForeignKeyClause(createSql: string, clause: string, table?: string): string {
  const { close } = columnList(createSql, table);
  return `${createSql.slice(0, close.start)}, ${clause}${createSql.slice(close.start)}`;
}

/** `createSql` without the table constraint `CONSTRAINT name FOREIGN KEY ...`, or undefined when it has none so named. */
export function withoutForeignKeyClause(createSql: string, name: string, table?: string): string | undefined {
  const { definitions } = columnList(createSql, table);
  const index = definitions.findIndex((d) => namedForeignKey(createSql, d)?.name === name);
  if (index < 0) return undefined;
  const definition = definitions[index]!;
  // From the comma before it to the end of its last token (a constraint is never the first definition: a table
  // has a column first); were it the first, from the parenthesis to the comma after it.
  if (index > 0) return createSql.slice(0, definition.before.start) + createSql.slice(definition.tokens.at(-1)!.end);
  return createSql.slice(0, definition.before.end) + createSql.slice(definition.after.kind === "comma" ? definition.after.end : definition.after.start);
}
