import { CapacityError, ValidationError } from "../errors.js";
import type { ColumnSchema, EntitySchema, Row } from "./entity-schema.js";

const MIN_DATE_MS = Date.parse("0001-01-01T00:00:00.000Z");
const MAX_DATE_MS = Date.parse("9999-12-31T23:59:59.999Z");

/**
 * The deepest json value accepted, in nested arrays and objects (`[]` is depth 1). Every backend stores and
 * reads back far deeper values (PostgreSQL's jsonb parser stops between 10,000 and 20,000 levels, V8's
 * JSON.stringify near 4,000 at the top of the stack), but the encoders run on the caller's stack: 1,000
 * leaves them a wide margin, and is the limit of SQLite's own JSON functions.
 */
export const MAX_JSON_DEPTH = 1000;

/** `String.prototype.isWellFormed` (Node 20+; the ES2024 lib is not in this project's TypeScript lib). */
const isWellFormed = (text: string): boolean => (text as string & { isWellFormed(): boolean }).isWellFormed();

/**
 * Why a string cannot be stored the same on every backend, or undefined. A lone UTF-16 surrogate is
 * replaced by U+FFFD in SQLite and PostgreSQL (two different keys would become one), and PostgreSQL
 * refuses NUL in text and jsonb. It runs for every string written or looked up, so it is two native
 * scans: measured ~30 ns more than the type check alone for a uuid or 1 KB of Latin-1 text (V8 knows a
 * one-byte string holds no surrogate), ~2 us per KB of text with other characters; a regex or a charCodeAt
 * loop was slower in both cases.
 */
export function stringProblem(text: string): string | undefined {
  if (!isWellFormed(text)) {
    let at = 0;
    for (; at < text.length; at++) {
      const c = text.charCodeAt(at);
      if (c >= 0xd800 && c <= 0xdbff && at + 1 < text.length) {
        const d = text.charCodeAt(at + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          at++;
          continue;
        }
      }
      if (c >= 0xd800 && c <= 0xdfff) break;
    }
    const unit = text.charCodeAt(at).toString(16).toUpperCase();
    return `the string holds a lone UTF-16 surrogate (\\u${unit} at index ${at}), which SQLite and PostgreSQL cannot store`;
  }
  const nul = text.indexOf("\0");
  return nul < 0 ? undefined : `the string holds a NUL character (\\u0000 at index ${nul}), which PostgreSQL cannot store`;
}

/** Why a Date of the time `ms` cannot be stored, or undefined: it is invalid (NaN) or outside years 1-9999. */
export function datetimeProblem(ms: number): string | undefined {
  if (Number.isNaN(ms)) return "expected a valid Date, got an invalid Date";
  // Years 1-9999 on every backend (PostgreSQL cannot parse the expanded ISO years beyond them).
  return ms < MIN_DATE_MS || ms > MAX_DATE_MS ? `expected a Date from year 1 to year 9999, got ${new Date(ms).toISOString()}` : undefined;
}

/**
 * Checks that `value` fits `column`, returning the reason when it does not.
 * `null` and `undefined` are the caller's business (nullability depends on the operation).
 * `stored`: the value was read from storage, not given by a caller: only its type is checked, so that data
 * written before the portability checks (strings with a lone surrogate or NUL, deeper json) still loads.
 */
export function valueProblem(column: ColumnSchema, value: unknown, stored = false): string | undefined {
  switch (column.type) {
    case "string":
      if (typeof value !== "string") return `expected a string, got ${describeValue(value)}`;
      return stored ? undefined : stringProblem(value);
    case "integer":
      return Number.isSafeInteger(value) ? undefined : `expected an integer, got ${describeValue(value)}`;
    case "number":
      return typeof value === "number" && Number.isFinite(value)
        ? undefined
        : `expected a finite number, got ${describeValue(value)}`;
    case "boolean":
      return typeof value === "boolean" ? undefined : `expected a boolean, got ${describeValue(value)}`;
    case "datetime":
      if (!(value instanceof Date)) return `expected a valid Date, got ${describeValue(value)}`;
      return datetimeProblem(value.getTime());
    case "json": {
      const problem = jsonProblem(value, 0, [], !stored);
      return problem && (problem.path ? `${problem.message} at ${problem.path}` : problem.message);
    }
  }
}

/** What is wrong with a json value, and where (`[2].a`); no path past the depth limit (it would be a thousand levels long). */
interface JsonProblem {
  message: string;
  path: string | undefined;
}

/**
 * `depth`: the arrays and objects around `value`; `parents`: those containers, outermost first, to tell a
 * cycle from a deep value once the limit is passed. `portable`: check strings and depth too (not for stored data).
 * The path is built on the way out, once a problem is found: building it for every value walked cost more
 * than the checks themselves.
 */
function jsonProblem(value: unknown, depth: number, parents: object[], portable: boolean): JsonProblem | undefined {
  if (value === null || typeof value === "boolean") return undefined;
  if (typeof value === "string") {
    const problem = portable ? stringProblem(value) : undefined;
    return problem === undefined ? undefined : { message: problem, path: "" };
  }
  if (typeof value === "number") return Number.isFinite(value) ? undefined : { message: `expected a JSON value, got ${value}`, path: "" };
  if (typeof value !== "object") return { message: `expected a JSON value, got ${describeValue(value)}`, path: "" };
  if (portable && depth >= MAX_JSON_DEPTH) {
    const cycle = parents.indexOf(value) >= 0 || parents.some((p, i) => parents.indexOf(p) !== i);
    const message = cycle
      ? "the json value is cyclic (an array or object contains itself): JSON cannot hold a cycle"
      : `the json value is nested deeper than ${MAX_JSON_DEPTH} levels of arrays and objects (the limit every backend can store and read back)`;
    return { message, path: undefined };
  }
  // Popped only when nothing is found: a problem ends the whole walk.
  parents.push(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = jsonProblem(value[i], depth + 1, parents, portable);
      if (problem) return within(problem, `[${i}]`);
    }
  } else {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return { message: `expected a JSON value, got ${describeValue(value)}`, path: "" };
    for (const key of Object.keys(value)) {
      const inner = (value as Record<string, unknown>)[key];
      if (inner === undefined) continue;
      const keyProblem = portable ? stringProblem(key) : undefined;
      if (keyProblem) return { message: keyProblem.replace("the string", "the object key"), path: "" };
      const problem = jsonProblem(inner, depth + 1, parents, portable);
      if (problem) return within(problem, `.${key}`);
    }
  }
  parents.pop();
  return undefined;
}

function within(problem: JsonProblem, step: string): JsonProblem {
  if (problem.path !== undefined) problem.path = step + problem.path;
  return problem;
}

/**
 * The `increment` key generator of `schema` would pass Number.MAX_SAFE_INTEGER (where the memory engine stops
 * and Strata's SQL DDL stops the backend's): one message for every backend.
 */
export function keyExhausted(schema: EntitySchema, cause?: unknown): CapacityError {
  const key = schema.primary.property;
  return new CapacityError(
    `${schema.entityName}: the increment key ${key} of table "${schema.table}" is exhausted: the next key would pass Number.MAX_SAFE_INTEGER (2^53 - 1), past which JavaScript numbers are not exact`,
    { table: schema.table, field: key, cause },
  );
}

/** A short description of a value for error messages. */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (typeof value === "number") return Number.isNaN(value) ? "NaN" : `the number ${value}`;
  if (typeof value === "string") return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? "an invalid Date" : "a Date";
  if (typeof value === "object") {
    const name = (value as object).constructor?.name;
    return name && name !== "Object" ? `an instance of ${name}` : "an object";
  }
  return `a ${typeof value}`;
}

/** Throws a {@link ValidationError} naming entity and field. */
export function invalid(schema: EntitySchema, property: string, problem: string): never {
  throw new ValidationError(`${schema.entityName}.${property}: ${problem}`, { table: schema.table, field: property });
}

/** Validates one value for `column`, allowing null only for nullable columns. */
export function checkValue(schema: EntitySchema, column: ColumnSchema, value: unknown): void {
  if (value === null || value === undefined) {
    if (!column.nullable) invalid(schema, column.property, `null is not allowed (the column is not nullable)`);
    return;
  }
  const problem = valueProblem(column, value);
  if (problem) invalid(schema, column.property, problem);
}

/** A copy of a valid value of `column` that shares no object with it (Dates cloned, json deep-copied). */
export function copyValue(column: ColumnSchema, value: unknown): unknown {
  if (column.type === "json") return copyJson(value);
  if (value instanceof Date) return new Date(value.getTime());
  return value;
}

/**
 * Deep-copies a JSON value (only plain data reaches here: it was validated on the way in). `-0` becomes `0`,
 * as JSON text (SQLite, PostgreSQL, the file backend) would make it: every backend returns the same value.
 * An own `__proto__` key is defined, not assigned: assigning it would call the prototype setter, losing
 * the key and changing the copy's prototype.
 */
export function copyJson(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value === 0 ? 0 : value;
  if (Array.isArray(value)) return value.map(copyJson);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const inner = (value as Record<string, unknown>)[key];
    if (inner === undefined) continue;
    if (key === "__proto__") Object.defineProperty(out, key, { value: copyJson(inner), writable: true, enumerable: true, configurable: true });
    else out[key] = copyJson(inner);
  }
  return out;
}

/**
 * A valid value of `column` as it is stored: json deep-copied, `-0` as `0` (SQLite, PostgreSQL and JSON text
 * do not keep the sign of zero, so no backend does), anything else as it is.
 */
export function storedValue(column: ColumnSchema, value: unknown): unknown {
  if (column.type === "json") return copyJson(value);
  return value === 0 ? 0 : value;
}

/**
 * The maker of the empty object a row of these keys is built in: `{}`, or an object without a prototype
 * when a key is `__proto__` (on `{}`, assigning it would call the prototype setter: the value would be
 * dropped, and reading it back would find Object.prototype).
 */
export function emptyRowMaker(keys: readonly string[]): () => Row {
  return keys.includes("__proto__") ? () => Object.create(null) as Row : () => ({});
}

/**
 * The one row copier, made once per schema: Date columns are cloned, json columns deep-copied, everything
 * else copied by value. Used wherever a row crosses between storage and a caller (the engine's stored rows,
 * SQL rows, the cache's entries, a repeated id of `findByIds`), so no two callers ever share an object.
 * `prototype`: the copy is made an instance of it (an entity handed out), else a plain row.
 */
export function makeRowCopier(schema: EntitySchema, prototype?: object): (row: Row) => Row {
  const dates = schema.columns.filter((c) => c.type === "datetime").map((c) => c.property);
  const jsons = schema.columns.filter((c) => c.type === "json").map((c) => c.property);
  // The shape is chosen here, once: an entity with no Date or json column (the L1 hit path of the
  // benchmarks) is then copied by one spread or one Object.assign, with no test per read.
  // Object.assign would call the prototype setter for a `__proto__` column: such a row is copied by descriptors.
  const assign = schema.columns.some((c) => c.property === "__proto__")
    ? (target: Row, row: Row): Row => Object.defineProperties(target, Object.getOwnPropertyDescriptors(row))
    : (target: Row, row: Row): Row => Object.assign(target, row);
  if (dates.length === 0 && jsons.length === 0) {
    return prototype === undefined ? (row) => ({ ...row }) : (row) => assign(Object.create(prototype) as Row, row);
  }
  const deepen = (out: Row): Row => {
    for (const p of dates) {
      const d = out[p];
      if (d instanceof Date) out[p] = new Date(d.getTime());
    }
    for (const p of jsons) out[p] = copyJson(out[p]);
    return out;
  };
  return prototype === undefined ? (row) => deepen({ ...row }) : (row) => deepen(assign(Object.create(prototype) as Row, row));
}

/**
 * The maker of the entities handed out for rows fresh from a backend (the caller's already, so nothing is
 * cloned): an instance of `prototype` holding each column of `schema`, made once per entity. A constructor
 * generated for the columns (property names as JSON string literals, never other source) builds every
 * entity with one shape and its properties in the object itself, at about a sixth of the cost of
 * `Object.assign(Object.create(prototype), row)`, which adds them one by one: it was a tenth of an
 * `iterate` over the memory backend. The entity class's own constructor is not run, as before.
 */
export function makeEntityMaker(schema: EntitySchema, prototype: object): (row: Row) => Row {
  // The key first, then the columns: the order the file backend writes a row in, on every backend.
  const columns = [schema.primary, ...schema.columns.filter((c) => c !== schema.primary)];
  // `this["__proto__"] = v` would call the prototype setter (a json value would become the entity's
  // prototype, a string would be dropped): such a column (if any) is defined as an own property instead.
  const assignments = columns
    .map((c) => {
      const name = JSON.stringify(c.property);
      return c.property === "__proto__"
        ? `Object.defineProperty(this, ${name}, { value: row[${name}], writable: true, enumerable: true, configurable: true });`
        : `this[${name}] = row[${name}];`;
    })
    .join(" ");
  const Entity = new Function("prototype", `"use strict"; function Entity(row) { ${assignments} } Entity.prototype = prototype; return Entity;`)(
    prototype,
  ) as new (row: Row) => Row;
  return (row) => new Entity(row);
}

/** A projected value copied by its kind (see makeProjectionCopier): 0 as is, 1 a Date cloned, 2 json deep-copied. */
function copyByKind(kind: number, value: unknown): unknown {
  return kind === 1 && value instanceof Date ? new Date(value.getTime()) : kind === 2 ? copyJson(value) : value;
}

/**
 * The copier of a projection (`select`), made once per column list: a plain object holding only the
 * properties of `columns`, in their order. By default Date columns are cloned and json columns
 * deep-copied, as {@link makeRowCopier} does, for a row that stays in storage or a cache; with
 * `{ shallow: true }`, values are carried over as they are, for a row the caller already owns (fresh from a
 * backend). A `__proto__` column is defined as an own field, as {@link makeEntityMaker} does.
 */
export function makeProjectionCopier(columns: readonly ColumnSchema[], options: { shallow?: boolean } = {}): (row: Row) => Row {
  const deep = options.shallow !== true;
  const properties = columns.map((c) => c.property);
  // 0: by value, 1: a Date to clone, 2: json to deep-copy. Decided here, so a row costs one loop.
  const kinds = columns.map((c) => (!deep ? 0 : c.type === "datetime" ? 1 : c.type === "json" ? 2 : 0));
  const n = properties.length;
  if (properties.includes("__proto__")) {
    // `out["__proto__"] = v` would call the prototype setter (the field would vanish, a json value would become
    // the object's prototype): every field is defined instead. Decided here, so other projections pay nothing.
    return (row) => {
      const out: Row = {};
      for (let i = 0; i < n; i++) {
        const p = properties[i]!;
        Object.defineProperty(out, p, { value: copyByKind(kinds[i]!, row[p]), writable: true, enumerable: true, configurable: true });
      }
      return out;
    };
  }
  if (kinds.every((k) => k === 0)) {
    return (row) => {
      const out: Row = {};
      for (let i = 0; i < n; i++) {
        const p = properties[i]!;
        out[p] = row[p];
      }
      return out;
    };
  }
  return (row) => {
    const out: Row = {};
    for (let i = 0; i < n; i++) {
      const p = properties[i]!;
      out[p] = copyByKind(kinds[i]!, row[p]);
    }
    return out;
  };
}
