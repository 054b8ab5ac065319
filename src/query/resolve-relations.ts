/**
 * Relation filters for a backend that does not take them (`supportsRelationFilters` false): each relation
 * condition is answered first by queries on the related tables, through the same session (so inside a
 * transaction, with its own writes), and replaced by an `in`/`nin` condition on this table's pairing column.
 * Nested relation filters are resolved from the inside out. The result means what the relation condition
 * means (data-session.ts, query semantics):
 * - `some`: the pairing value is one of the related rows' values whose row matches (`in`, never null);
 * - `none`: it is none of them (`nin`, so a null pairing value, with no related row, passes);
 * - `every`: it is none of the values of the related rows that fail the where (`nin`).
 */
import type { DataSession } from "../spi/data-session.js";
import type { ColumnSchema, EntitySchema, Row } from "../schema/entity-schema.js";
import type { Condition, NormalizedWhere, RelationCondition, WhereTerm } from "./query.js";
import { isRelationCondition } from "./query.js";
import { hasRelationFilter } from "./tables-read.js";

type Reader = Pick<DataSession, "find">;

/** `where` without relation conditions, each resolved through `session`. */
export async function resolveRelationFilters(where: NormalizedWhere, session: Reader): Promise<NormalizedWhere> {
  if (!hasRelationFilter(where)) return where;
  const out: WhereTerm[][] = [];
  for (const group of where) {
    const terms: WhereTerm[] = [];
    for (const term of group) terms.push(isRelationCondition(term) ? await resolve(term, session) : term);
    out.push(terms);
  }
  return out;
}

/** The rows of `schema` matching `where`, reading only the primary key and `column`. */
async function read(session: Reader, schema: EntitySchema, where: NormalizedWhere, column: ColumnSchema): Promise<Row[]> {
  const select = schema.columns.filter((c) => c.primary || c === column);
  return session.find(schema, { where, orderBy: [{ column: schema.primary, direction: "asc" }], offset: 0, select });
}

/** The distinct non-null values of `property` in `rows`. */
function valuesOf(rows: readonly Row[], property: string): unknown[] {
  const values = new Set<unknown>();
  for (const row of rows) {
    const v = row[property];
    if (v !== null && v !== undefined) values.add(v);
  }
  return [...values];
}

async function resolve(c: RelationCondition, session: Reader): Promise<Condition> {
  const inner = await resolveRelationFilters(c.where, session);
  const everyRow = inner.some((group) => group.length === 0);
  const column = c.sourceColumn;
  // `every` with a where every row passes, or `none` with one no row passes: true for every row.
  if ((c.quantifier === "every" && everyRow) || (c.quantifier === "none" && inner.length === 0)) return { column, op: "nin", value: [] };
  const target = c.target;
  const pk = target.primary;
  const through = c.through;
  // The target rows that decide: those matching (some, none) or failing (every) the where.
  let deciding: Row[];
  const pairing = through ? pk : c.targetColumn;
  const matching = inner.length === 0 ? [] : await read(session, target, inner, pairing);
  if (c.quantifier === "every") {
    const matched = new Set(matching.map((row) => row[pk.property]));
    const related = await read(session, target, [[{ column: pairing, op: "notNull" }]], pairing);
    deciding = related.filter((row) => !matched.has(row[pk.property]));
  } else deciding = matching;
  let values = valuesOf(deciding, pairing.property);
  if (through && values.length > 0) {
    const links = await read(session, through.schema, [[{ column: through.targetColumn, op: "in", value: values }]], through.sourceColumn);
    values = valuesOf(links, through.sourceColumn.property);
  } else if (through) values = [];
  return { column, op: c.quantifier === "some" ? "in" : "nin", value: values };
}
