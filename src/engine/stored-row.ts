/**
 * How the engine holds a row, and the one place where rows cross into it and out of it.
 *
 * A stored row is a plain object holding every column of its table, made by one generated object literal
 * per table (so every row of a table has one hidden class, its properties inside the object). A datetime
 * is held as its epoch milliseconds, a number, not a `Date`: on a 64-bit Node a Date costs about 96 bytes
 * more than the number, per value (measured with bench/heap-per-row.ts), and the engine only ever compares it.
 *
 * Rows enter through {@link makeStoredRowCopier} (insert, upsert, update: a Date becomes its time, json is
 * deep-copied) and leave through {@link makeHandedOutCopier} (a fresh Date per datetime, json deep-copied),
 * so a caller never shares an object with storage and gets back the `Date` it wrote (ms). Between the two,
 * the predicates, orderings, ordered indexes and keyset positions compare datetimes with `<` and `>`, which
 * read a Date as its time: a where-value or a keyset position given as a Date meets the stored numbers
 * without being converted (compile-query.ts turns an inlined one into its time once per query).
 * The file backend's codec writes the numbers as ISO strings and reads them back as numbers.
 */
import type { ColumnSchema, Row } from "../schema/entity-schema.js";
import { copyJson } from "../schema/row-values.js";

/** A datetime as stored: its epoch milliseconds (a number already stored is kept). */
function toTime(value: unknown): unknown {
  return value instanceof Date ? value.getTime() : value;
}

/** A stored datetime as handed out: a Date of its own. */
function toDate(value: unknown): unknown {
  return value === null || value === undefined ? value : new Date(value as number);
}

/** A value of `column` as the engine stores it (a column's default, filled into rows that lack the column). */
export function storedValueOf(column: ColumnSchema, value: unknown): unknown {
  return column.type === "datetime" ? toTime(value) : copyJson(value);
}

/** The copier of rows coming in: a stored row of exactly `columns` (every column of the table). */
export function makeStoredRowCopier(columns: readonly ColumnSchema[]): (row: Row) => Row {
  return makeCopier(columns, toTime);
}

/** The copier of stored rows going out to a caller: a row of exactly `columns`, sharing nothing with storage. */
export function makeHandedOutCopier(columns: readonly ColumnSchema[]): (row: Row) => Row {
  return makeCopier(columns, toDate);
}

/**
 * A copier as the source of one function whose object literal names every column (property names enter
 * the source only as JSON string literals; the converters as arguments), as the SQL row decoder is made.
 */
function makeCopier(columns: readonly ColumnSchema[], date: Convert): (row: Row) => Row {
  // In a literal, `"__proto__": v` would set the prototype: such a column (if any) is copied by a loop.
  if (columns.some((c) => c.property === "__proto__")) return loopCopier(columns, date);
  const fields = columns.map((c) => {
    const read = `row[${JSON.stringify(c.property)}]`;
    return `${JSON.stringify(c.property)}: ${c.type === "datetime" ? `date(${read})` : c.type === "json" ? `json(${read})` : read}`;
  });
  const make = new Function("date", "json", `"use strict"; return (row) => ({ ${fields.join(", ")} });`) as (date: Convert, json: Convert) => (row: Row) => Row;
  return make(date, copyJson);
}

type Convert = (value: unknown) => unknown;

/** The copier of {@link makeCopier} as a loop, defining each property. */
function loopCopier(columns: readonly ColumnSchema[], date: Convert): (row: Row) => Row {
  return (row) => {
    const out: Row = {};
    for (const c of columns) {
      const v = row[c.property];
      const value = c.type === "datetime" ? date(v) : c.type === "json" ? copyJson(v) : v;
      Object.defineProperty(out, c.property, { value, writable: true, enumerable: true, configurable: true });
    }
    return out;
  };
}
