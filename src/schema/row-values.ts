import { ValidationError } from "../errors.js";
import type { ColumnSchema, EntitySchema, Row } from "./entity-schema.js";

const MIN_DATE_MS = Date.parse("0001-01-01T00:00:00.000Z");
const MAX_DATE_MS = Date.parse("9999-12-31T23:59:59.999Z");

/**
 * Checks that `value` fits `column`, returning the reason when it does not.
 * `null` and `undefined` are the caller's business (nullability depends on the operation).
 */
export function valueProblem(column: ColumnSchema, value: unknown): string | undefined {
  switch (column.type) {
    case "string":
      return typeof value === "string" ? undefined : `expected a string, got ${describeValue(value)}`;
    case "integer":
      return Number.isSafeInteger(value) ? undefined : `expected an integer, got ${describeValue(value)}`;
    case "number":
      return typeof value === "number" && Number.isFinite(value)
        ? undefined
        : `expected a finite number, got ${describeValue(value)}`;
    case "boolean":
      return typeof value === "boolean" ? undefined : `expected a boolean, got ${describeValue(value)}`;
    case "datetime":
      if (!(value instanceof Date) || Number.isNaN(value.getTime())) return `expected a valid Date, got ${describeValue(value)}`;
      // Years 1-9999 on every backend (PostgreSQL cannot parse the expanded ISO years beyond them).
      return value.getTime() < MIN_DATE_MS || value.getTime() > MAX_DATE_MS
        ? `expected a Date from year 1 to year 9999, got ${value.toISOString()}`
        : undefined;
    case "json":
      return jsonProblem(value, "");
  }
}

function jsonProblem(value: unknown, path: string): string | undefined {
  const at = path ? ` at ${path}` : "";
  if (value === null || typeof value === "string" || typeof value === "boolean") return undefined;
  if (typeof value === "number") return Number.isFinite(value) ? undefined : `expected a JSON value, got ${value}${at}`;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = jsonProblem(value[i], `${path}[${i}]`);
      if (problem) return problem;
    }
    return undefined;
  }
  if (typeof value === "object") {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      return `expected a JSON value, got ${describeValue(value)}${at}`;
    }
    for (const [key, inner] of Object.entries(value)) {
      if (inner === undefined) continue;
      const problem = jsonProblem(inner, `${path}.${key}`);
      if (problem) return problem;
    }
    return undefined;
  }
  return `expected a JSON value, got ${describeValue(value)}${at}`;
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

/** Deep-copies a JSON value (only plain data reaches here: it was validated on the way in). */
export function copyJson(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(copyJson);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const inner = (value as Record<string, unknown>)[key];
    if (inner !== undefined) out[key] = copyJson(inner);
  }
  return out;
}

/**
 * Makes a row copier for a schema, decided once: Date columns are cloned, json columns deep-copied,
 * everything else copied by value. Used wherever a row crosses between storage and a caller.
 */
export function makeRowCopier(schema: EntitySchema): (row: Row) => Row {
  const dates = schema.columns.filter((c) => c.type === "datetime").map((c) => c.property);
  const jsons = schema.columns.filter((c) => c.type === "json").map((c) => c.property);
  if (dates.length === 0 && jsons.length === 0) return (row) => ({ ...row });
  return (row) => {
    const out = { ...row };
    for (const p of dates) {
      const d = out[p];
      if (d instanceof Date) out[p] = new Date(d.getTime());
    }
    for (const p of jsons) out[p] = copyJson(out[p]);
    return out;
  };
}
