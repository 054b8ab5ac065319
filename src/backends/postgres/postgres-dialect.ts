/**
 * PostgreSQL's side of the SQL dialect. Storage choices: `string` is `text COLLATE "C"` (code-point order
 * and comparisons), `integer` `bigint` (read back as a JS number), `number` `double precision`,
 * `datetime` `timestamptz(3)`, `json` `jsonb`, `boolean` `boolean`.
 */
import type { ColumnSchema, LogicalType } from "../../schema/entity-schema.js";
import type { SqlDialect, ValueCodec } from "../sql/sql-dialect.js";
import { quoteIdentifier } from "../sql/sql-dialect.js";

/** A string literal's content: names come from entity metadata, a quote inside is doubled anyway. */
const quoteLiteral = (text: string) => text.replace(/'/g, "''");

const same: ValueCodec = { encode: (v) => v, decode: (v) => v };

const codecs: Record<LogicalType, ValueCodec> = {
  string: same,
  // bigint arrives as a string: every stored value is a safe integer, so Number() is exact.
  integer: { encode: (v) => v, decode: (v) => (typeof v === "string" ? Number(v) : v) },
  number: same,
  boolean: same,
  // An ISO string is unambiguous whatever the session time zone; pg parses timestamptz back to a Date.
  datetime: { encode: (v) => (v as Date).toISOString(), decode: (v) => v },
  // Always a JSON text: pg would turn a JS array into a PostgreSQL array literal.
  json: { encode: (v) => JSON.stringify(v), decode: (v) => v },
};

/** Column types of the postgres dialect (the schema editor reads them back from pg_catalog). */
export const POSTGRES_COLUMN_TYPES: Readonly<Record<LogicalType, string>> = {
  string: 'text COLLATE "C"',
  integer: "bigint",
  number: "double precision",
  boolean: "boolean",
  datetime: "timestamptz(3)",
  json: "jsonb",
};

const arrayTypes: Record<LogicalType, string> = {
  string: "text[]",
  integer: "bigint[]",
  number: "float8[]",
  boolean: "boolean[]",
  datetime: "timestamptz[]",
  json: "jsonb[]",
};

const UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LOWER = "abcdefghijklmnopqrstuvwxyz";
/** Folds ASCII letters only: ILIKE and lower() would fold every Unicode letter. */
const asciiLower = (expr: string) => `translate(${expr}, '${UPPER}', '${LOWER}')`;

export const postgresDialect: SqlDialect = {
  name: "postgres",
  maxParams: 65535,
  placeholder: (n) => `$${n}`,
  columnType: (column: ColumnSchema) => POSTGRES_COLUMN_TYPES[column.type],
  codecs,
  // One array parameter: any length, one placeholder, one named prepared statement.
  inList: (expr, ph, column) => `${expr} = ANY(${ph}::${arrayTypes[column.type]})`,
  listParam: (encoded) => encoded,
  // ESCAPE '' turns off the backslash escape, so every character but % and _ is literal.
  like: (expr, ph) => `${expr} LIKE ${ph} ESCAPE ''`,
  likeParam: (pattern) => pattern,
  ilike: (expr, ph) => `${asciiLower(expr)} LIKE ${asciiLower(ph)} ESCAPE ''`,
  stringCollation: ' COLLATE "C"',
  // An identity column's sequence does not move when a key is given: without this, a later generated key
  // could collide with it. setval only ever raises the sequence here.
  advanceKeyGenerator: (table, column) =>
    `SELECT setval(s, $1::bigint) FROM (SELECT pg_get_serial_sequence('${quoteLiteral(quoteIdentifier(table))}', '${quoteLiteral(column)}')::regclass AS s) x ` +
    `WHERE COALESCE(pg_sequence_last_value(s), 0) < $1::bigint`,
  limitOffset: (limitPh, offsetPh) => `${limitPh ? ` LIMIT ${limitPh}` : ""}${offsetPh ? ` OFFSET ${offsetPh}` : ""}`,
};
