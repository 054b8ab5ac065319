/**
 * SQLite's side of the SQL dialect. Storage choices (documented in the README):
 * `datetime` is an INTEGER of epoch milliseconds (exact, sorts and compares as time), `boolean` 0/1,
 * `json` TEXT, `number` REAL, `integer` INTEGER, `string` TEXT with the default BINARY collation, which
 * orders by code point because SQLite compares UTF-8 bytes.
 */
import type { LogicalType } from "../../schema/entity-schema.js";
import type { SqlDialect, ValueCodec } from "../sql/sql-dialect.js";
import { plainLiteral } from "../sql/sql-literals.js";
import { sqliteFullText } from "./sqlite-full-text.js";
import { sqliteIntrospector } from "./sqlite-introspector.js";

const same: ValueCodec = { encode: (v) => v, decode: (v) => v };

const codecs: Record<LogicalType, ValueCodec> = {
  string: same,
  integer: same,
  number: same,
  boolean: { encode: (v) => (v ? 1 : 0), decode: (v) => v === 1 },
  datetime: { encode: (v) => (v as Date).getTime(), decode: (v) => new Date(v as number) },
  json: { encode: (v) => JSON.stringify(v), decode: (v) => JSON.parse(v as string) },
};

/**
 * Declared types name the logical type, so that introspection (migrations' generate, strata copy) reads
 * it back; the storage is unchanged: BOOLEAN and DATETIME have NUMERIC affinity, which keeps 0/1 and
 * epoch milliseconds as integers, and JSON_TEXT (it contains "TEXT") has TEXT affinity.
 */
const columnTypes: Readonly<Record<LogicalType, string>> = {
  string: "TEXT",
  integer: "INTEGER",
  number: "REAL",
  boolean: "BOOLEAN",
  datetime: "DATETIME",
  json: "JSON_TEXT",
};

/**
 * The column definition of an `increment` primary key. The CHECK stops the key generator at
 * Number.MAX_SAFE_INTEGER: past it a key read back into JavaScript would be rounded, and two rows would
 * come back with one key. The driver error mapper turns its failure into a CapacityError.
 */
const INCREMENT_PRIMARY_KEY = "INTEGER PRIMARY KEY AUTOINCREMENT CHECK (rowid <= 9007199254740991)";

/**
 * An API `$like` pattern as a GLOB pattern: GLOB is case-sensitive where LIKE is not, `%` becomes `*`,
 * `_` becomes `?`, and GLOB's own special characters are put in brackets so that they stay literal.
 */
export function likeToGlob(pattern: string): string {
  let out = "";
  for (const ch of pattern) {
    if (ch === "%") out += "*";
    else if (ch === "_") out += "?";
    else if (ch === "*" || ch === "?" || ch === "[") out += `[${ch}]`;
    else out += ch;
  }
  return out;
}

export const sqliteDialect: SqlDialect = {
  name: "sqlite",
  label: "SQLite",
  maxParams: 32766,
  placeholder: () => "?",
  // One JSON array parameter expanded by json_each: any length, one placeholder, one cached statement.
  // JSON.stringify writes a large integral double (1e18) without a decimal point, which json_each reads
  // as an INTEGER that compares unequal to the REAL stored: CAST makes it the same double again.
  inList: (expr, ph, column) =>
    column.type === "number" ? `${expr} IN (SELECT CAST(value AS REAL) FROM json_each(${ph}))` : `${expr} IN (SELECT value FROM json_each(${ph}))`,
  listParam: (encoded) => JSON.stringify(encoded),
  like: (expr, ph) => `${expr} GLOB ${ph}`,
  likeParam: likeToGlob,
  // SQLite's LIKE without ESCAPE folds exactly the ASCII letters and treats only % and _ as special.
  ilike: (expr, ph) => `${expr} LIKE ${ph}`,
  stringCollation: "",
  limitOffset: (limitPh, offsetPh) => (limitPh || offsetPh ? ` LIMIT ${limitPh ?? "-1"}${offsetPh ? ` OFFSET ${offsetPh}` : ""}` : ""),
  literalPaging: "limit",
  // BEGIN IMMEDIATE already holds the database's write lock for the whole transaction.
  transactionRowLock: "",
  columnTypes,
  codecs,
  incrementPrimaryKey: INCREMENT_PRIMARY_KEY,
  // AUTOINCREMENT moves past an explicitly written key by itself: no advanceKeyGenerator.
  literal: (type, value) => plainLiteral(type, value, (d) => String(d.getTime()), (b) => (b ? "1" : "0")),
  canSetNotNull: false,
  indexColumnOrder: "",
  // NOCASE folds exactly the ASCII letters, as LIKE does: LIKE 'san %' (a literal or a bound prefix) is then
  // a range of this index (SQLite's LIKE optimization), so no ilikePrefixRange is needed.
  foldedIndexExpression: (column) => `${column} COLLATE NOCASE`,
  // A REFERENCES clause may name a table created later (SQLite resolves it when a row is checked): every
  // foreign key is inline, cycles included. No ALTER TABLE for constraints: see SqliteConnection.rewriteTableDefinition.
  alterTableConstraints: false,
  introspector: sqliteIntrospector,
  // FTS5 external-content tables kept by triggers, ranked by bm25() (sqlite-full-text.ts).
  fullText: sqliteFullText,
};
