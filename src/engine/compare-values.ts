/** Value ordering and matching shared by the in-memory engine (and used as the reference in tests). */
import type { LogicalType } from "../schema/entity-schema.js";

/**
 * Compares strings by Unicode code point (as SQLite's BINARY and PostgreSQL's "C" collation do),
 * not by UTF-16 code unit as `<` does: a surrogate pair (a code point above U+FFFF) sorts after U+E000-U+FFFF.
 */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      const xs = x >= 0xd800 && x <= 0xdfff;
      const ys = y >= 0xd800 && y <= 0xdfff;
      if (xs !== ys) return xs ? 1 : -1;
      return x < y ? -1 : 1;
    }
  }
  return a.length - b.length < 0 ? -1 : a.length === b.length ? 0 : 1;
}

/** A comparator of two non-null values of one logical type. */
export function comparatorFor(type: LogicalType): (a: unknown, b: unknown) => number {
  switch (type) {
    case "string":
      return (a, b) => compareStrings(a as string, b as string);
    case "datetime":
      // The engine stores a datetime as its time (stored-row.ts) and may compare it with a Date given in a
      // query: `<` and `>` read a Date as its time, so either side may be either.
      return (a, b) => ((a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0);
    case "boolean":
      return (a, b) => Number(a) - Number(b);
    default:
      return (a, b) => ((a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0);
  }
}

/** A key under which equal values of one type meet in a Map (Dates by time). */
export function valueKey(value: unknown): unknown {
  return value instanceof Date ? value.getTime() : value;
}

const ASCII_UPPER = /[A-Z]/g;
/** Lower-cases ASCII letters only, as `$ilike` does on every backend. */
export function asciiLower(text: string): string {
  return text.replace(ASCII_UPPER, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

/**
 * Compiles a `$like` pattern (`%` any run, `_` one code point) into a matcher. Ignoring ASCII case, each
 * ASCII letter of the pattern becomes a class of its two cases (`[sS]`), so the text is tested as it is:
 * lower-casing each row's text first allocated a string per row (the cost of an `$ilike` scan).
 */
export function likeMatcher(pattern: string, ignoreAsciiCase: boolean): (text: string) => boolean {
  let regex = "^";
  for (const ch of pattern) {
    if (ch === "%") regex += "[\\s\\S]*";
    else if (ch === "_") regex += "[\\s\\S]";
    else if (ignoreAsciiCase && /^[A-Za-z]$/.test(ch)) regex += `[${ch.toLowerCase()}${ch.toUpperCase()}]`;
    else regex += ch.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  const re = new RegExp(`${regex}$`, "u");
  return (text) => re.test(text);
}
