/**
 * What differs between the SQL databases Strata speaks to, as data and small functions: quoting,
 * placeholders, column types, list parameters, pattern matching, ordering and limits. Everything else in
 * `src/backends/sql/` is shared and reads the dialect.
 */
import type { ColumnSchema, LogicalType } from "../../schema/entity-schema.js";

/** Turns a logical value (never null) into what the driver binds, and a stored value back. */
export interface ValueCodec {
  encode(value: unknown): unknown;
  decode(value: unknown): unknown;
}

export interface SqlDialect {
  readonly name: "sqlite" | "postgres";
  /** Bound parameters one statement may carry (SQLite 32766, PostgreSQL 65535). */
  readonly maxParams: number;
  /** The placeholder of the `n`th parameter (1-based). */
  placeholder(n: number): string;
  /** The column's type in `CREATE TABLE`, without nullability. */
  columnType(column: ColumnSchema): string;
  /** How logical values of each type are stored. */
  readonly codecs: Readonly<Record<LogicalType, ValueCodec>>;
  /** `expr` matches one of the values bound as the single list parameter `ph` (see {@link SqlDialect.listParam}). */
  inList(expr: string, ph: string, column: ColumnSchema): string;
  /** Encoded values as one parameter: a list never needs more than one placeholder, whatever its length. */
  listParam(encoded: readonly unknown[]): unknown;
  /** Case-sensitive `%`/`_` match of `expr` against the parameter `ph`, no other character special. */
  like(expr: string, ph: string): string;
  /** The bound value for {@link SqlDialect.like}'s `ph`, from an API pattern. */
  likeParam(pattern: string): string;
  /** As {@link SqlDialect.like} folding ASCII letters only. */
  ilike(expr: string, ph: string): string;
  /** Appended to a string column in comparisons and ORDER BY so strings order by code point. */
  readonly stringCollation: string;
  /**
   * SQL that moves the key generator of an `increment` column past an explicitly written key (bound as
   * the only parameter), or undefined when the database does so itself (SQLite's AUTOINCREMENT).
   */
  advanceKeyGenerator?(table: string, column: string): string;
  /** `LIMIT`/`OFFSET` text for the given bound placeholders. */
  limitOffset(limitPh: string | undefined, offsetPh: string | undefined): string;
}

/** A double-quoted identifier. Names come only from entity metadata; a quote inside is doubled. */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
