import { QueryError } from "../errors.js";
import type { ColumnSchema, EntitySchema, RelationSchema } from "../schema/entity-schema.js";
import { readEntitySchema } from "../schema/read-entity-schema.js";
import { describeValue, stringProblem, valueProblem } from "../schema/row-values.js";
import type { Condition, ConditionOp, NormalizedQuery, NormalizedWhere, OrderTerm, RelationCondition, RelationQuantifier, WhereTerm } from "./query.js";

const OPERATORS = new Set(["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$like", "$ilike", "$isNull"]);
const QUANTIFIERS: ReadonlyMap<string, RelationQuantifier> = new Map([
  ["$some", "some"],
  ["$none", "none"],
  ["$every", "every"],
]);
/** `include` is the repository's (relation-loader.ts): accepted here, loaded there. */
const QUERY_KEYS = new Set(["where", "orderBy", "limit", "offset", "cache", "select", "include"]);

function queryError(schema: EntitySchema, message: string, field?: string): never {
  throw new QueryError(`${schema.entityName}: ${message}`, { table: schema.table, ...(field ? { field } : {}) });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Validates and normalizes a `where` (object or array of objects). `path` is where it sits in the caller's
 * query (`"where.comments.$some"` for a relation's), for messages.
 */
export function normalizeWhere(schema: EntitySchema, where: unknown, path = "where"): NormalizedWhere {
  if (where === undefined) return [[]];
  if (Array.isArray(where)) return where.map((w) => normalizeGroup(schema, w, path));
  return [normalizeGroup(schema, where, path)];
}

function normalizeGroup(schema: EntitySchema, where: unknown, path: string): WhereTerm[] {
  if (!isPlainObject(where)) queryError(schema, `${path} must be an object or an array of objects, got ${describeValue(where)}`);
  const conditions: WhereTerm[] = [];
  for (const [field, spec] of Object.entries(where)) {
    const column = schema.columnsByProperty.get(field);
    if (!column) {
      const relation = schema.relationsByProperty.get(field);
      if (!relation) queryError(schema, `"${field}" is not a column or a relation (in ${path})`, field);
      if (spec === undefined) queryError(schema, `${path}.${field} is undefined; leave the key out`, field);
      conditions.push(...relationConditions(schema, relation, spec, `${path}.${field}`));
      continue;
    }
    if (spec === undefined) {
      queryError(schema, `${path}.${field} is undefined; use null to match missing values, or leave the key out`, field);
    }
    if (isPlainObject(spec) && column.type !== "json") {
      const keys = Object.keys(spec);
      if (keys.length === 0) queryError(schema, `${path}.${field} has no operator`, field);
      for (const op of keys) {
        if (!OPERATORS.has(op)) queryError(schema, `${path}.${field}: unknown operator "${op}"`, field);
        const value = spec[op];
        if (value === undefined) queryError(schema, `${path}.${field}.${op} is undefined`, field);
        conditions.push(operatorCondition(schema, column, op, value, path));
      }
    } else if (column.type === "json") {
      if (spec === null) conditions.push({ column, op: "isNull" });
      else if (isPlainObject(spec) && Object.keys(spec).length === 1 && typeof spec["$isNull"] === "boolean") {
        conditions.push({ column, op: spec["$isNull"] ? "isNull" : "notNull" });
      } else queryError(schema, `${path}.${field}: a json column can only be tested with null or $isNull`, field);
    } else {
      conditions.push(spec === null ? { column, op: "isNull" } : { column, op: "eq", value: scalar(schema, column, spec, `${path}.${field}`) });
    }
  }
  return conditions;
}

/**
 * The conditions a relation filter makes. To-one: an object (or array, OR) of conditions on the related
 * row, which must exist and match; `null`: no related row. To-many: `$some`, `$none`, `$every`, one
 * condition each (AND).
 */
function relationConditions(schema: EntitySchema, relation: RelationSchema, spec: unknown, path: string): RelationCondition[] {
  const target = readEntitySchema(relation.target);
  const field = relation.property;
  const make = (quantifier: RelationQuantifier, where: NormalizedWhere): RelationCondition => {
    const join = relation.joinTable;
    return {
      kind: "relation",
      relation: field,
      quantifier,
      sourceColumn: schema.columnsByProperty.get(relation.sourceProperty)!,
      target,
      targetColumn: target.columnsByProperty.get(relation.targetProperty)!,
      ...(join
        ? {
            through: {
              schema: join.schema,
              sourceColumn: join.schema.columnsByProperty.get(join.sourceProperty)!,
              targetColumn: join.schema.columnsByProperty.get(join.targetProperty)!,
            },
          }
        : {}),
      where,
    };
  };
  if (!relation.toMany) {
    if (spec === null) return [make("none", [[]])];
    if (isPlainObject(spec)) {
      const operator = Object.keys(spec).find((k) => k.startsWith("$"));
      if (operator !== undefined) {
        queryError(schema, `${path}: unknown operator "${operator}" on the to-one relation ${field} (give conditions on ${target.entityName}'s fields, or null for "no ${field}")`, field);
      }
    } else if (!Array.isArray(spec)) {
      queryError(schema, `${path}: expected conditions on ${target.entityName} (an object or an array of objects) or null, got ${describeValue(spec)}`, field);
    }
    return [make("some", normalizeWhere(target, spec, path))];
  }
  if (!isPlainObject(spec)) {
    queryError(schema, `${path}: a to-many relation is filtered with $some, $none or $every (e.g. { ${field}: { $some: { ... } } }), got ${describeValue(spec)}`, field);
  }
  const keys = Object.keys(spec);
  if (keys.length === 0) queryError(schema, `${path} has no operator (expected $some, $none or $every)`, field);
  return keys.map((key) => {
    const quantifier = QUANTIFIERS.get(key);
    if (!quantifier) queryError(schema, `${path}: unknown operator "${key}" on the to-many relation ${field} (expected $some, $none or $every)`, field);
    const inner = spec[key];
    if (inner === undefined || inner === null) queryError(schema, `${path}.${key} must be conditions on ${target.entityName}, got ${describeValue(inner)}`, field);
    return make(quantifier, normalizeWhere(target, inner, `${path}.${key}`));
  });
}

function scalar(schema: EntitySchema, column: ColumnSchema, value: unknown, where: string): unknown {
  const problem = valueProblem(column, value);
  if (problem) queryError(schema, `${where}: ${problem}`, column.property);
  return value;
}

function operatorCondition(schema: EntitySchema, column: ColumnSchema, op: string, value: unknown, path: string): Condition {
  const where = `${path}.${column.property}.${op}`;
  switch (op) {
    case "$eq":
    case "$ne":
      if (value === null) return { column, op: op === "$eq" ? "isNull" : "notNull" };
      return { column, op: op === "$eq" ? "eq" : "ne", value: scalar(schema, column, value, where) };
    case "$gt":
    case "$gte":
    case "$lt":
    case "$lte":
      if (value === null) queryError(schema, `${where}: null cannot be compared; use $isNull`, column.property);
      return { column, op: op.slice(1) as ConditionOp, value: scalar(schema, column, value, where) };
    case "$in":
    case "$nin": {
      if (!Array.isArray(value)) queryError(schema, `${where}: expected an array, got ${describeValue(value)}`, column.property);
      const values = value.filter((v) => v !== null).map((v) => scalar(schema, column, v, where));
      return { column, op: op === "$in" ? "in" : "nin", value: distinct(values), orNull: value.length !== values.length };
    }
    case "$like":
    case "$ilike": {
      if (column.type !== "string") queryError(schema, `${where}: ${op} needs a string column`, column.property);
      if (typeof value !== "string") queryError(schema, `${where}: expected a string pattern, got ${describeValue(value)}`, column.property);
      // As for values: a pattern that no backend holds the same way would match differently on each.
      const problem = stringProblem(value);
      if (problem) queryError(schema, `${where}: ${problem}`, column.property);
      return { column, op: op === "$like" ? "like" : "ilike", value };
    }
    default: // $isNull
      if (typeof value !== "boolean") queryError(schema, `${where}: expected true or false, got ${describeValue(value)}`, column.property);
      return { column, op: value ? "isNull" : "notNull" };
  }
}

function nonNegativeInteger(schema: EntitySchema, name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || (value as number) < 0) {
    queryError(schema, `${name} must be a non-negative integer, got ${describeValue(value)}`);
  }
  return value as number;
}

/** Validates and normalizes a whole query; the primary key is appended to the ordering. */
export function normalizeQuery(schema: EntitySchema, query: unknown): NormalizedQuery {
  if (query === undefined || query === null) return { where: [[]], orderBy: [{ column: schema.primary, direction: "asc" }], offset: 0 };
  if (!isPlainObject(query)) queryError(schema, `a query must be an object, got ${describeValue(query)}`);
  for (const key of Object.keys(query)) {
    if (!QUERY_KEYS.has(key)) queryError(schema, `unknown query option "${key}" (expected where, orderBy, limit, offset, cache, select, include)`);
  }
  const orderBy: OrderTerm[] = [];
  const order = query["orderBy"];
  if (order !== undefined) {
    if (!isPlainObject(order)) queryError(schema, `orderBy must be an object such as { createdAt: "desc" }`);
    for (const [field, direction] of Object.entries(order)) {
      const column = schema.columnsByProperty.get(field);
      if (!column) queryError(schema, `"${field}" is not a column (in orderBy)`, field);
      if (column.type === "json") queryError(schema, `orderBy.${field}: a json column cannot be sorted`, field);
      if (direction !== "asc" && direction !== "desc") {
        queryError(schema, `orderBy.${field} must be "asc" or "desc", got ${describeValue(direction)}`, field);
      }
      orderBy.push({ column, direction });
    }
  }
  if (!orderBy.some((t) => t.column.primary)) orderBy.push({ column: schema.primary, direction: "asc" });
  const limit = nonNegativeInteger(schema, "limit", query["limit"]);
  const cache = query["cache"];
  if (cache !== undefined && typeof cache !== "boolean") {
    const ttl = isPlainObject(cache) ? cache["ttlMs"] : undefined;
    if (typeof ttl !== "number" || !(ttl > 0)) queryError(schema, `cache must be true, false or { ttlMs: <positive number> }`);
  }
  const select = query["select"] === undefined ? undefined : normalizeSelect(schema, query["select"]);
  return {
    where: normalizeWhere(schema, query["where"]),
    orderBy,
    ...(limit !== undefined ? { limit } : {}),
    offset: nonNegativeInteger(schema, "offset", query["offset"]) ?? 0,
    ...(select !== undefined ? { select } : {}),
  };
}

/**
 * Validates a projection and returns its columns in schema order, the primary key always among them (the
 * SPI's rule: a backend returns it, and the repository drops it again when the caller did not list it).
 * A name listed twice counts once. Schema order makes the column list canonical: `["title", "id"]` and
 * `["id", "title"]` give the same list, so backends and the cache decide one projection once.
 */
export function normalizeSelect(schema: EntitySchema, select: unknown): readonly ColumnSchema[] {
  if (!Array.isArray(select)) queryError(schema, `select must be an array of field names such as ["id", "title"], got ${describeValue(select)}`);
  if (select.length === 0) queryError(schema, `select must name at least one field (leave it out to get every field)`);
  const wanted = new Set<string>();
  for (const field of select) {
    if (typeof field !== "string") queryError(schema, `select must hold field names (strings), got ${describeValue(field)}`);
    if (!schema.columnsByProperty.has(field)) queryError(schema, `"${field}" is not a column (in select)`, field);
    wanted.add(field);
  }
  return schema.columns.filter((c) => c.primary || wanted.has(c.property));
}

/**
 * The values of an `$in`/`$nin` list without repeats (Dates by instant). A repeated value must not return a
 * row twice: an index lookup per value would, where SQL's IN would not.
 */
function distinct(values: unknown[]): unknown[] {
  const seen = new Set<unknown>();
  return values.filter((v) => {
    const key = v instanceof Date ? v.getTime() : v;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
