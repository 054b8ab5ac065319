/**
 * Loading relations (`include`): the caller's include checked and planned once per call, then loaded in
 * batches. Each included relation costs one backend `find` for the whole result, whatever its size: the
 * related rows are read by an `$in` on the pairing column holding the distinct keys of every parent (one
 * list parameter on SQL backends, one index lookup per key in the engine), and grouped in memory. A
 * many-to-many relation costs two: its join table's rows, then the related rows. Nested includes load one
 * level at a time, one query per relation and level.
 *
 * `limit` on a to-many relation is per parent: the query reads every related row of the batch, and each
 * parent keeps the first `limit` in the relation's order. Related objects share nothing with storage, the
 * cache or each other: a row related to two parents is handed out as two separate objects.
 */
import { QueryError } from "../errors.js";
import { normalizeQuery } from "../query/normalize-query.js";
import { tablesRead } from "../query/tables-read.js";
import type { Condition, NormalizedQuery } from "../query/query.js";
import type { ColumnSchema, EntitySchema, RelationSchema, Row } from "../schema/entity-schema.js";
import { describeValue, makeEntityMaker, makeProjectionCopier, makeRowCopier } from "../schema/row-values.js";
import type { DataSession, Key } from "../spi/index.js";

const INCLUDE_KEYS = new Set(["where", "orderBy", "limit", "select", "include"]);

/** One included relation, planned from the caller's include. */
export interface IncludePlan {
  readonly relation: RelationSchema;
  readonly target: EntitySchema;
  /** The related rows' where, order and columns read (the pairing condition is added per load); no limit. */
  readonly query: NormalizedQuery;
  /** Per parent, for a to-many relation. */
  readonly limit: number | undefined;
  /** A related row fresh from the backend as handed out: an entity, or a projection's plain object. */
  readonly handOut: (row: Row) => Row;
  /** A deep copy of a handed-out related object, its own loaded relations included. */
  readonly copy: (object: Row) => Row;
  readonly nested: readonly IncludePlan[];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function includeError(schema: EntitySchema, path: string, message: string, field?: string): never {
  throw new QueryError(`${schema.entityName}: ${path} ${message}`, { table: schema.table, ...(field ? { field } : {}) });
}

/**
 * Checks `include` against `schema`'s relations and plans it; `[]` when it loads nothing. Every name that is
 * not a relation is listed in one `QueryError`. `schemaOf` gives a relation target's schema as the storage knows it.
 * `within`: the include objects it is nested in (one holding itself would nest forever).
 */
export function planInclude(
  schema: EntitySchema,
  include: unknown,
  schemaOf: (entity: Function) => EntitySchema,
  path = "include",
  within: readonly object[] = [],
): IncludePlan[] {
  if (include === undefined) return [];
  if (!isPlainObject(include)) includeError(schema, path, `must be an object such as { author: true }, got ${describeValue(include)}`);
  if (within.includes(include)) includeError(schema, path, "holds the include it is nested in: an include must be a finite tree");
  const unknown = Object.keys(include).filter((name) => !schema.relationsByProperty.has(name));
  if (unknown.length > 0) {
    const known = schema.relations.map((r) => r.property);
    includeError(
      schema,
      path,
      `names ${unknown.map((n) => `"${n}"`).join(", ")}, which ${unknown.length === 1 ? "is not a relation" : "are not relations"} of ${schema.entityName} (${known.length > 0 ? `its relations: ${known.join(", ")}` : "it has no relations"})`,
      unknown[0],
    );
  }
  const plans: IncludePlan[] = [];
  for (const [property, spec] of Object.entries(include)) {
    if (spec === false || spec === undefined) continue;
    const relation = schema.relationsByProperty.get(property)!;
    const where = `${path}.${property}`;
    if (spec !== true && !isPlainObject(spec)) includeError(schema, where, `must be true or an object of options (where, orderBy, limit, select, include), got ${describeValue(spec)}`, property);
    const options = spec === true ? {} : spec;
    for (const key of Object.keys(options)) {
      if (!INCLUDE_KEYS.has(key)) includeError(schema, where, `has an unknown option "${key}" (expected where, orderBy, limit, select, include)`, property);
      if (!relation.toMany && (key === "orderBy" || key === "limit") && options[key] !== undefined) {
        includeError(schema, where, `is a to-one relation: ${key} applies to to-many relations only`, property);
      }
    }
    plans.push(planRelation(relation, schemaOf(relation.target), options, schemaOf, where, [...within, include]));
  }
  return plans;
}

function planRelation(
  relation: RelationSchema,
  target: EntitySchema,
  options: Record<string, unknown>,
  schemaOf: (entity: Function) => EntitySchema,
  path: string,
  within: readonly object[],
): IncludePlan {
  const nested = planInclude(target, options["include"], schemaOf, `${path}.include`, [...within, options]);
  const { include: _nested, limit, ...rest } = options;
  const normalized = normalizeQuery(target, limit === undefined ? rest : { ...rest, limit });
  const prototype = target.target.prototype as object;
  let query: NormalizedQuery = { where: normalized.where, orderBy: normalized.orderBy, offset: 0 };
  let handOut: (row: Row) => Row;
  let base: (object: Row) => Row;
  if (normalized.select) {
    // The backend reads what pairing needs besides the listed fields: the pairing column and the columns
    // the nested relations pair by. The object handed out holds the listed fields only.
    const listed = new Set(rest["select"] as readonly string[]);
    const needed = new Set([relation.joinTable ? target.primary.property : relation.targetProperty, ...nested.map((n) => n.relation.sourceProperty)]);
    const read = target.columns.filter((c) => c.primary || listed.has(c.property) || needed.has(c.property));
    const shown = target.columns.filter((c) => listed.has(c.property));
    query = { ...query, select: read };
    handOut = makeProjectionCopier(shown, { shallow: true });
    base = makeProjectionCopier(shown);
  } else {
    // The entity maker, not Object.assign: a `__proto__` column stays an own field (see makeEntityMaker).
    handOut = makeEntityMaker(target, prototype);
    base = makeRowCopier(target, prototype);
  }
  return { relation, target, query, limit: normalized.limit, handOut, copy: makeTreeCopier(base, nested), nested };
}

/**
 * A deep copy of a handed-out object and of the relations `plans` loaded into it: `base` copies the object's
 * own fields (it may carry the relation properties over as they are; they are replaced by copies).
 */
export function makeTreeCopier(base: (object: Row) => Row, plans: readonly IncludePlan[]): (object: Row) => Row {
  if (plans.length === 0) return base;
  return (object) => {
    const out = base(object);
    for (const plan of plans) {
      const property = plan.relation.property;
      const value = object[property];
      out[property] = Array.isArray(value) ? value.map((v: Row) => plan.copy(v)) : value === null || value === undefined ? null : plan.copy(value as Row);
    }
    return out;
  };
}

/**
 * The columns a parent query must read for `plans` to pair its rows: the relations' source columns (a
 * projection's select may have left them out).
 */
export function pairingColumns(schema: EntitySchema, plans: readonly IncludePlan[]): ColumnSchema[] {
  return plans.map((p) => schema.columnsByProperty.get(p.relation.sourceProperty)!);
}

/** The distinct non-null values of `property` among `rows`. */
function distinctValues(rows: readonly Row[], property: string): Key[] {
  const seen = new Set<Key>();
  for (const row of rows) {
    const value = row[property];
    if (value !== null && value !== undefined) seen.add(value as Key);
  }
  return [...seen];
}

/** `query` restricted to rows whose `column` is among `keys`: the condition joins every OR group. */
function pairedQuery(query: NormalizedQuery, column: ColumnSchema, keys: readonly Key[]): NormalizedQuery {
  const pairing: Condition = { column, op: "in", value: keys };
  return { ...query, where: query.where.map((group) => [...group, pairing]) };
}

/**
 * Hands out `rows` (fresh from the backend, the caller's own) through `handOut` and loads the relations of
 * `plans` into them, reading through `session`. `rows[i]` must hold each plan's source column; what is
 * handed out need not.
 */
export async function loadIncluded(session: Pick<DataSession, "find">, rows: readonly Row[], handOut: (row: Row) => Row, plans: readonly IncludePlan[]): Promise<Row[]> {
  const out = rows.map(handOut);
  for (const plan of plans) await loadRelation(session, plan, rows, out);
  return out;
}

async function loadRelation(session: Pick<DataSession, "find">, plan: IncludePlan, rows: readonly Row[], out: Row[]): Promise<void> {
  const { relation, target } = plan;
  const property = relation.property;
  const keys = distinctValues(rows, relation.sourceProperty);
  // Which related keys each parent key reaches through the join table, in link order (many-to-many).
  let links: Map<Key, Key[]> | undefined;
  let related: Row[] = [];
  let pairBy = relation.targetProperty;
  if (relation.joinTable) {
    const join = relation.joinTable;
    links = new Map();
    if (keys.length > 0) {
      const joinSchema = join.schema;
      const linkRows = await session.find(joinSchema, {
        where: [[{ column: joinSchema.columnsByProperty.get(join.sourceProperty)!, op: "in", value: keys }]],
        orderBy: [{ column: joinSchema.primary, direction: "asc" }],
        offset: 0,
      });
      for (const link of linkRows) {
        const from = link[join.sourceProperty] as Key;
        const list = links.get(from);
        if (list) list.push(link[join.targetProperty] as Key);
        else links.set(from, [link[join.targetProperty] as Key]);
      }
      const targetKeys = distinctValues(linkRows, join.targetProperty);
      if (targetKeys.length > 0) related = await session.find(target, pairedQuery(plan.query, target.primary, targetKeys));
    }
    pairBy = target.primary.property;
  } else if (keys.length > 0) {
    related = await session.find(target, pairedQuery(plan.query, target.columnsByProperty.get(relation.targetProperty)!, keys));
  }
  const objects = await loadIncluded(session, related, plan.handOut, plan.nested);
  // The first parent to get a related object gets it; any other gets a deep copy: none share an object.
  const handedOut = new Set<Row>();
  const take = (object: Row): Row => {
    if (!handedOut.has(object)) {
      handedOut.add(object);
      return object;
    }
    return plan.copy(object);
  };
  if (!relation.toMany) {
    const byKey = new Map<unknown, Row>();
    related.forEach((row, i) => {
      if (!byKey.has(row[pairBy])) byKey.set(row[pairBy], objects[i]!);
    });
    rows.forEach((row, i) => {
      const found = byKey.get(row[relation.sourceProperty]);
      out[i]![property] = found === undefined ? null : take(found);
    });
    return;
  }
  const limit = plan.limit ?? Infinity;
  if (links) {
    // The related rows came back in the relation's order: each parent's list is put in that order.
    const position = new Map<unknown, number>();
    related.forEach((row, i) => position.set(row[pairBy], i));
    rows.forEach((row, i) => {
      const reached = links.get(row[relation.sourceProperty] as Key) ?? [];
      const at = reached.map((key) => position.get(key)).filter((p): p is number => p !== undefined);
      at.sort((a, b) => a - b);
      out[i]![property] = at.slice(0, limit).map((p) => take(objects[p]!));
    });
    return;
  }
  const groups = new Map<unknown, Row[]>();
  related.forEach((row, i) => {
    const key = row[pairBy];
    const group = groups.get(key);
    if (group) group.push(objects[i]!);
    else groups.set(key, [objects[i]!]);
  });
  rows.forEach((row, i) => {
    const group = groups.get(row[relation.sourceProperty]) ?? [];
    out[i]![property] = (group.length > limit ? group.slice(0, limit) : group).map(take);
  });
}

/**
 * A description of `plans` for a cache key: the relations, their normalized queries and limits, nested.
 * Columns are written by property (the keys module's replacer), so equal includes give equal keys.
 */
export function includeKey(plans: readonly IncludePlan[]): unknown[] {
  return plans.map((p) => ({ relation: p.relation.property, query: p.query, limit: p.limit ?? null, include: includeKey(p.nested) }));
}

/** Every table `plans` read: the related tables and the join tables, and those their wheres' relation filters read, each once. */
export function tablesIncluded(plans: readonly IncludePlan[], into = new Map<string, EntitySchema>()): Map<string, EntitySchema> {
  for (const plan of plans) {
    if (plan.relation.joinTable) into.set(plan.relation.joinTable.schema.table, plan.relation.joinTable.schema);
    into.set(plan.target.table, plan.target);
    for (const schema of tablesRead(plan.query.where)) into.set(schema.table, schema);
    tablesIncluded(plan.nested, into);
  }
  return into;
}
