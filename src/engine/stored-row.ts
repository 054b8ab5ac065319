/**
 * How the engine holds a row, and the one place where rows cross into it and out of it.
 *
 * A stored row is a plain object holding every column of its table, made by one generated object literal
 * per table (so every row of a table has one hidden class, its properties inside the object). A datetime
 * is held as its epoch milliseconds, a number, not a `Date`: on a 64-bit Node a Date costs about 96 bytes
 * more than the number, per value (measured with bench/heap-per-row.ts), and the engine only ever compares it.
 *
 * Rows enter through {@link makeStoredRowCopier} (insert, upsert, update: a Date becomes its time, json is
 * deep-copied, a string built of pieces is stored flat: see {@link toFlat}) and leave through
 * {@link makeHandedOutCopier} (a fresh Date per datetime, json deep-copied), so a caller never shares an
 * object with storage and gets back the `Date` it wrote (ms). Between the two, the predicates, orderings,
 * ordered indexes and keyset positions compare datetimes with `<` and `>`, which read a Date as its time:
 * a where-value or a keyset position given as a Date meets the stored numbers without being converted
 * (compile-query.ts turns an inlined one into its time once per query).
 * The file backend's codec writes the numbers as ISO strings and reads them back as numbers.
 */
import type { ColumnSchema, Row } from "../schema/entity-schema.js";
import { copyJson } from "../schema/row-values.js";

/** A datetime as stored: its epoch milliseconds (a number already stored is kept). */
function toTime(value: unknown): unknown {
  return value instanceof Date ? value.getTime() : value;
}

/** Strings longer than this are flattened in place rather than through normalize() ({@link toFlat}). */
const MAX_NORMALIZED_LENGTH = 256;
/** Where {@link toFlat} puts the unit it reads: a store the compiler must keep, so the read is never dropped. */
const flattenProbe = { unit: 0 };

/**
 * A string as stored: flat. V8 holds a string of 13 characters or more made by `+` or a template literal as
 * a rope (a "cons string": a 32-byte node over its two parts, themselves often ropes) for as long as
 * something holds it, even once read whole. Stored as given, the three template-built strings of a row of
 * bench/heap-per-row.ts cost 96 bytes more than flat ones (the memory backend held 482 bytes a row, 2.24x
 * the file snapshot of the rows; 387 flat). `normalize()` flattens its receiver and, for text already in
 * Unicode NFC (every Latin-1 string, and nearly all text), returns that flat string rather than the rope:
 * the cheapest flattening JavaScript has for short text (about 40 ns on a string that is flat already, where
 * JSON.parse(JSON.stringify(s)) takes 150-400 ns). Text not in NFC is kept as given: the stored value is
 * always exactly the caller's. Shorter strings are always flat in V8, and pass untouched; strings longer
 * than {@link MAX_NORMALIZED_LENGTH}, whose normalization costs in proportion to their length, are flattened
 * in place. A slice of a longer string stays a slice (holding the longer one): only a copy at JSON's price
 * would free that.
 */
function toFlat(value: unknown): unknown {
  if (typeof value !== "string" || value.length < 13) return value;
  if (value.length > MAX_NORMALIZED_LENGTH) {
    // normalize() reads the whole string through ICU (1.3 ms a MB of ASCII, 40 ms a MB of text not in NFC):
    // a long string is flattened in place by reading one unit (constant time once flat). The rope's node
    // stays, 32 bytes beside the text; its parts go.
    flattenProbe.unit = value.charCodeAt(0);
    return value;
  }
  const flat = value.normalize();
  return flat === value ? flat : value;
}

/**
 * A json value as stored: {@link copyJson}'s deep copy, its strings flat ({@link toFlat}). A separate
 * function so that the copy handed out (copyJson, on every read) pays nothing for it.
 */
function toStoredJson(value: unknown): unknown {
  if (typeof value === "string") return toFlat(value);
  if (value === null || typeof value !== "object") return value === 0 ? 0 : value;
  if (Array.isArray(value)) return value.map(toStoredJson);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const inner = (value as Record<string, unknown>)[key];
    if (inner === undefined) continue;
    if (key === "__proto__") Object.defineProperty(out, key, { value: toStoredJson(inner), writable: true, enumerable: true, configurable: true });
    else out[key] = toStoredJson(inner);
  }
  return out;
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
  return makeCopier(columns, { date: toTime, json: toStoredJson, string: toFlat });
}

/** The copier of stored rows going out to a caller: a row of exactly `columns`, sharing nothing with storage. */
export function makeHandedOutCopier(columns: readonly ColumnSchema[]): (row: Row) => Row {
  return makeCopier(columns, { date: toDate, json: copyJson });
}

type Convert = (value: unknown) => unknown;

/** What a copier does to the values of a type; a type without one (a string going out) is copied as it is. */
interface Converters {
  readonly date: Convert;
  readonly json: Convert;
  readonly string?: Convert;
}

/** The converter of `column`'s values, if any. */
function converterOf(column: ColumnSchema, converters: Converters): keyof Converters | undefined {
  if (column.type === "datetime") return "date";
  if (column.type === "json") return "json";
  return column.type === "string" && converters.string ? "string" : undefined;
}

/**
 * A copier as the source of one function whose object literal names every column (property names enter
 * the source only as JSON string literals; the converters as arguments), as the SQL row decoder is made.
 */
function makeCopier(columns: readonly ColumnSchema[], converters: Converters): (row: Row) => Row {
  // In a literal, `"__proto__": v` would set the prototype: such a column (if any) is copied by a loop.
  if (columns.some((c) => c.property === "__proto__")) return loopCopier(columns, converters);
  const fields = columns.map((c) => {
    const read = `row[${JSON.stringify(c.property)}]`;
    const convert = converterOf(c, converters);
    return `${JSON.stringify(c.property)}: ${convert ? `${convert}(${read})` : read}`;
  });
  const make = new Function("date", "json", "string", `"use strict"; return (row) => ({ ${fields.join(", ")} });`) as (
    date: Convert,
    json: Convert,
    string: Convert | undefined,
  ) => (row: Row) => Row;
  return make(converters.date, converters.json, converters.string);
}

/** The copier of {@link makeCopier} as a loop, defining each property. */
function loopCopier(columns: readonly ColumnSchema[], converters: Converters): (row: Row) => Row {
  const converted = columns.map((c) => {
    const convert = converterOf(c, converters);
    return { property: c.property, convert: convert ? converters[convert] : undefined };
  });
  return (row) => {
    const out: Row = {};
    for (const { property, convert } of converted) {
      const v = row[property];
      Object.defineProperty(out, property, { value: convert ? convert(v) : v, writable: true, enumerable: true, configurable: true });
    }
    return out;
  };
}
