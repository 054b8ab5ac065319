/** Turns normalized conditions and orderings into plain functions over rows, once per query. */
import type { Condition, NormalizedWhere, OrderTerm, RelationCondition, WhereTerm } from "../query/query.js";
import { StorageError } from "../errors.js";
import { isRelationCondition } from "../query/query.js";
import type { ColumnSchema, EntitySchema, Row } from "../schema/entity-schema.js";
import { comparatorFor, compareStrings, likeMatcher, valueKey } from "./compare-values.js";

export type RowPredicate = (row: Row) => boolean;

/** Visits rows until `visit` returns false; returns false when it was stopped. */
export type RowLookup = (value: unknown, visit: (row: Row) => boolean) => boolean;

/**
 * The rows of other tables a relation condition reads, as the reading view (committed rows, or a
 * transaction's own view of them) holds them. The table engine's write set is one.
 */
export interface RelatedRows {
  /**
   * A lookup of the rows of `schema`'s table whose `column` holds a value (never null), decided once per
   * compiled query: by primary key, else through an ordered index starting with the column.
   */
  lookup(schema: EntitySchema, column: ColumnSchema): RowLookup;
}

/**
 * A relation condition as a predicate over rows of its source table: the related rows are found by
 * `related`'s lookups (the target's primary key for an owning to-one, the foreign key's index for a
 * to-many, the join table's index then the target's key for a many-to-many), each tested with the
 * condition's own where, compiled once.
 */
function compileRelation(condition: RelationCondition, related: RelatedRows | undefined): RowPredicate {
  if (!related) {
    throw new StorageError(`The relation filter on ${condition.relation} was compiled without a view of the related tables (table "${condition.target.table}")`, {
      table: condition.target.table,
    });
  }
  const inner = compileWhere(condition.where, related);
  const source = condition.sourceColumn.property;
  const targetLookup = related.lookup(condition.target, condition.targetColumn);
  let each: RowLookup = targetLookup;
  const through = condition.through;
  if (through) {
    const joinLookup = related.lookup(through.schema, through.sourceColumn);
    const linked = through.targetColumn.property;
    each = (value, visit) =>
      joinLookup(value, (link) => {
        const key = link[linked];
        return key === null || key === undefined || targetLookup(key, visit);
      });
  }
  const isNull = (x: unknown) => x === null || x === undefined;
  // some: a related row matches; none: none does; every: none fails.
  const some = (row: Row) => !isNull(row[source]) && !each(row[source], (t) => !inner(t));
  switch (condition.quantifier) {
    case "some":
      return some;
    case "none":
      return (row) => !some(row);
    case "every":
      return (row) => isNull(row[source]) || each(row[source], inner);
  }
}

function compileCondition(condition: Condition): RowPredicate {
  const p = condition.column.property;
  const compare = comparatorFor(condition.column.type);
  const v = condition.value;
  const isNull = (x: unknown) => x === null || x === undefined;
  switch (condition.op) {
    case "isNull":
      return (row) => isNull(row[p]);
    case "notNull":
      return (row) => !isNull(row[p]);
    case "eq":
      return (row) => !isNull(row[p]) && compare(row[p], v) === 0;
    case "ne":
      return (row) => isNull(row[p]) || compare(row[p], v) !== 0;
    case "gt":
      return (row) => !isNull(row[p]) && compare(row[p], v) > 0;
    case "gte":
      return (row) => !isNull(row[p]) && compare(row[p], v) >= 0;
    case "lt":
      return (row) => !isNull(row[p]) && compare(row[p], v) < 0;
    case "lte":
      return (row) => !isNull(row[p]) && compare(row[p], v) <= 0;
    case "in": {
      const set = new Set((v as unknown[]).map(valueKey));
      const orNull = condition.orNull === true;
      return (row) => (isNull(row[p]) ? orNull : set.has(valueKey(row[p])));
    }
    case "nin": {
      const set = new Set((v as unknown[]).map(valueKey));
      const nullOut = condition.orNull === true;
      return (row) => (isNull(row[p]) ? !nullOut : !set.has(valueKey(row[p])));
    }
    case "like":
    case "ilike": {
      const match = likeMatcher(v as string, condition.op === "ilike");
      return (row) => typeof row[p] === "string" && match(row[p]);
    }
  }
}

/**
 * One predicate for an OR of AND-groups. `related` reads the related rows of relation conditions: needed
 * (and only then) when the where holds some.
 */
export function compileWhere(where: NormalizedWhere, related?: RelatedRows): RowPredicate {
  const groups = where.map((group) => compileGroup(group, related));
  if (groups.length === 0) return () => false;
  if (groups.length === 1) return groups[0]!;
  return (row) => groups.some((g) => g(row));
}

/** The comparison operators written inline for number columns, as JavaScript's own operators. */
const INLINE_NUMBER_OPS: Partial<Record<Condition["op"], string>> = { eq: "===", gt: ">", gte: ">=", lt: "<", lte: "<=" };

/**
 * Compiled AND-group makers, keyed by their source: one per query shape (columns and operators), made
 * once by `new Function` and reused by every query of that shape with new values. At most this many are
 * kept (then the cache starts over), so that shapes made on the fly cannot grow it without end.
 */
const groupMakers = new Map<string, (values: readonly unknown[]) => RowPredicate>();
const MAX_GROUP_MAKERS = 256;

/**
 * An AND-group as one function whose body reads each column once and tests it inline: a scan calls one
 * function per row (not one closure per condition, each reading `row[p]` through a lookup shared by every
 * column, which made an unindexed two-column box 2x slower than SQLite's scan). Number comparisons and
 * string equality are JavaScript operators on the value; every other condition is its compiled closure,
 * called from the body. The source holds only property names (as JSON string literals) and operators:
 * the query's values reach the function as the maker's argument, never as source text, so equal shapes
 * share one maker, its type feedback and its optimised code.
 */
function compileGroup(group: readonly WhereTerm[], related: RelatedRows | undefined): RowPredicate {
  if (group.length === 0) return () => true;
  const values: unknown[] = [];
  const reads = new Map<string, string>();
  const tests: string[] = [];
  // Relation tests go last: each looks rows up in other tables, which the row's own cheaper tests may spare.
  const relationTests: string[] = [];
  let inlined = 0;
  // The local holding a column's value, read once at the top of the body.
  const read = (p: string): string => {
    let x = reads.get(p);
    if (x === undefined) reads.set(p, (x = `x${reads.size}`));
    return x;
  };
  for (const condition of group) {
    if (isRelationCondition(condition)) {
      // Related rows are read through indexes of other tables: a closure, called from the body.
      relationTests.push(`v${values.length}(row)`);
      values.push(compileRelation(condition, related));
      continue;
    }
    const p = condition.column.property;
    const v = `v${values.length}`;
    const { op } = condition;
    const type = condition.column.type;
    // A datetime is stored as its time (stored-row.ts): a Date compared with it is compared as its time.
    const value = type === "datetime" && condition.value instanceof Date ? condition.value.getTime() : condition.value;
    const isNumber = (type === "number" || type === "integer" || type === "datetime") && typeof value === "number";
    const isString = type === "string" && typeof value === "string";
    const inline = INLINE_NUMBER_OPS[op];
    // Stored numbers are finite (checked on write) and strings equal under compareStrings are the same
    // string, so these operators agree with the engine's comparators (0 and -0 are equal under both).
    if (op === "isNull") tests.push(`(${read(p)} === null || ${read(p)} === undefined)`);
    else if (op === "notNull") tests.push(`${read(p)} !== null && ${read(p)} !== undefined`);
    else {
      // A stored datetime is a number, but compiled wheres also test rows holding Dates (`+` reads either as its time).
      if (isNumber && type === "datetime" && inline !== undefined) tests.push(`${read(p)} !== null && ${read(p)} !== undefined && +${read(p)} ${inline} ${v}`);
      else if (isNumber && type === "datetime" && op === "ne") tests.push(`${read(p)} === null || ${read(p)} === undefined || +${read(p)} !== ${v}`);
      else if (isNumber && inline !== undefined) tests.push(`typeof ${read(p)} === "number" && ${read(p)} ${inline} ${v}`);
      else if (isString && op === "eq") tests.push(`${read(p)} === ${v}`);
      else if ((isNumber || isString) && op === "ne") tests.push(`${read(p)} !== ${v}`);
      else {
        tests.push(`${v}(row)`);
        values.push(compileCondition(condition));
        continue;
      }
      values.push(value);
    }
    inlined++;
  }
  if (inlined === 0 && group.length === 1) return values[0] as RowPredicate;
  const bind = values.map((_, i) => `v${i} = v[${i}]`).join(", ");
  const loads = [...reads].map(([p, x]) => `const ${x} = row[${JSON.stringify(p)}];`).join(" ");
  const body = `${loads} return ${[...tests, ...relationTests].map((t) => `(${t})`).join(" && ")};`;
  const source = `"use strict"; return (v) => { ${bind ? `const ${bind};` : ""} return (row) => { ${body} }; };`;
  let make = groupMakers.get(source);
  if (make === undefined) {
    if (groupMakers.size >= MAX_GROUP_MAKERS) groupMakers.clear();
    make = new Function(source)() as (values: readonly unknown[]) => RowPredicate;
    groupMakers.set(source, make);
  }
  return make(values);
}

/** A row comparator: nulls first ascending and last descending, per term in order. */
export function compileOrder(orderBy: readonly OrderTerm[]): (a: Row, b: Row) => number {
  const terms = orderBy.map((t) => ({ p: t.column.property, sign: t.direction === "asc" ? 1 : -1, compare: comparatorFor(t.column.type) }));
  // The usual ordering, one term then the primary key, unrolled: top-k selection calls it once per row.
  if (terms.length === 2) {
    const second = orderBy[1]!;
    return pairOrder(orderBy[0]!, second.column.primary ? keyOrder(second) : compileTerm(terms[1]!.p, terms[1]!.sign, terms[1]!.compare));
  }
  return (a, b) => {
    for (const { p, sign, compare } of terms) {
      const x = a[p];
      const y = b[p];
      const xNull = x === null || x === undefined;
      const yNull = y === null || y === undefined;
      if (xNull || yNull) {
        if (xNull && yNull) continue;
        // null is the smallest value: first ascending, last descending.
        return xNull ? -sign : sign;
      }
      const c = compare(x, y);
      if (c !== 0) return c * sign;
    }
    return 0;
  };
}

/*
 * The comparators below are one function literal per value type on purpose: V8 keeps type feedback per
 * literal, so a literal shared by string and number orderings turns polymorphic and every query slows
 * (a string top-k over 135k rows ran 2x slower once a number ordering had used the same literal).
 */

/** A term then `then` (the primary key's term): the two-term ordering, specialised by the term's type. */
function pairOrder(term: OrderTerm, then: (a: Row, b: Row) => number): (a: Row, b: Row) => number {
  const p = term.column.property;
  const sign = term.direction === "asc" ? 1 : -1;
  switch (term.column.type) {
    case "string":
      return (a, b) => {
        const x = a[p] as string | null | undefined;
        const y = b[p] as string | null | undefined;
        if (x === y) return then(a, b);
        if (x === null || x === undefined) return y === null || y === undefined ? then(a, b) : -sign;
        if (y === null || y === undefined) return sign;
        const c = compareStrings(x, y);
        return c === 0 ? then(a, b) : c * sign;
      };
    case "integer":
    case "number":
      return (a, b) => {
        const x = a[p] as number | null | undefined;
        const y = b[p] as number | null | undefined;
        if (x === y) return then(a, b);
        if (x === null || x === undefined) return y === null || y === undefined ? then(a, b) : -sign;
        if (y === null || y === undefined) return sign;
        return x < y ? -sign : x > y ? sign : then(a, b);
      };
    default: {
      const compare = compileTerm(p, sign, comparatorFor(term.column.type));
      return (a, b) => compare(a, b) || then(a, b);
    }
  }
}

/** The primary key's term (never null), specialised by the key's type (string or number). */
function keyOrder(term: OrderTerm): (a: Row, b: Row) => number {
  const p = term.column.property;
  const sign = term.direction === "asc" ? 1 : -1;
  if (term.column.type === "string") {
    return (a, b) => {
      const x = a[p] as string;
      const y = b[p] as string;
      return x === y ? 0 : compareStrings(x, y) * sign;
    };
  }
  if (term.column.type === "integer" || term.column.type === "number") {
    return (a, b) => {
      const x = a[p] as number;
      const y = b[p] as number;
      return x < y ? -sign : x > y ? sign : 0;
    };
  }
  return compileTerm(p, sign, comparatorFor(term.column.type));
}

/** One term of {@link compileOrder} on its own (0 when the rows tie on it). */
function compileTerm(p: string, sign: number, compare: (a: unknown, b: unknown) => number): (a: Row, b: Row) => number {
  return (a, b) => {
    const x = a[p];
    const y = b[p];
    if (x === y) return 0;
    const xNull = x === null || x === undefined;
    const yNull = y === null || y === undefined;
    if (xNull || yNull) return xNull && yNull ? 0 : xNull ? -sign : sign;
    const c = compare(x, y);
    return c === 0 ? 0 : c * sign;
  };
}
