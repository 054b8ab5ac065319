/** Rows in and out of SQL: logical values to bound parameters, and selected arrays back to rows. */
import type { ColumnSchema, EntitySchema, Row } from "../../schema/entity-schema.js";
import type { SqlDialect, ValueCodec } from "./sql-dialect.js";

export interface RowCodec {
  /** Encodes one non-null logical value of `column`; null stays null. */
  encodeValue(column: ColumnSchema, value: unknown): unknown;
  /** A row selected as an array in schema column order, as a fresh row object. */
  decode(values: readonly unknown[]): Row;
  /**
   * The decoders of `columns` in order, `undefined` where a selected value is read as it is: decided once
   * per statement shape, so that decoding a row looks nothing up (null stays null, not decoded).
   */
  decodersOf(columns: readonly ColumnSchema[]): ReadonlyArray<ValueCodec["decode"] | undefined>;
  /**
   * The encoders of `columns` in order, `undefined` where a value is bound as it is (strings and numbers):
   * decided once per statement shape, so that encoding a row looks nothing up.
   */
  encodersOf(columns: readonly ColumnSchema[]): ReadonlyArray<ValueCodec["encode"] | undefined>;
}

/**
 * The decoder of rows selected as arrays holding `columns` in this order: a fresh row object of their
 * properties. Made once per column list (the entity's columns, or a projection's).
 */
export function makeRowDecoder(columns: readonly ColumnSchema[], dialect: SqlDialect): (values: readonly unknown[]) => Row {
  const properties = columns.map((c) => c.property);
  const decoders = decodersOf(columns, dialect);
  const n = properties.length;
  return (values) => {
    const row: Row = {};
    for (let i = 0; i < n; i++) {
      const v = values[i];
      const decode = decoders[i];
      row[properties[i]!] = v === null || v === undefined ? null : decode ? decode(v) : v;
    }
    return row;
  };
}

/** The decoder of each of `columns`, `undefined` where the dialect reads the value as it is (as strings). */
function decodersOf(columns: readonly ColumnSchema[], dialect: SqlDialect): Array<ValueCodec["decode"] | undefined> {
  return columns.map((c) => {
    const decode = dialect.codecs[c.type].decode;
    return decode === dialect.codecs.string.decode ? undefined : decode;
  });
}

/** The codec of one entity on one dialect, decided once. */
export function makeRowCodec(schema: EntitySchema, dialect: SqlDialect): RowCodec {
  return {
    encodeValue(column, value) {
      return value === null || value === undefined ? null : dialect.codecs[column.type].encode(value);
    },
    decode: makeRowDecoder(schema.columns, dialect),
    decodersOf: (columns) => decodersOf(columns, dialect),
    encodersOf(columns) {
      return columns.map((c) => {
        const encode = dialect.codecs[c.type].encode;
        return encode === dialect.codecs.string.encode ? undefined : encode;
      });
    },
  };
}
