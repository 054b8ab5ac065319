/**
 * Compiles normalized queries (API.md section 3) to SQL text and bound parameters. Identifiers come from
 * the entity schema, quoted; every value is a parameter. The semantics match the memory engine:
 * `ne`/`nin` match null, comparisons and patterns never do, nulls sort first ascending and last
 * descending, strings by code point, and the primary key is the last tie-breaker (normalization adds it).
 */
import type { Condition, NormalizedQuery, NormalizedWhere } from "../../query/query.js";
import type { EntitySchema } from "../../schema/entity-schema.js";
import type { SqlDialect } from "./sql-dialect.js";
import { quoteIdentifier } from "./sql-dialect.js";
import type { RowCodec } from "./sql-row-codec.js";

/** SQL text and its parameters. */
export interface CompiledSql {
  readonly text: string;
  readonly params: unknown[];
}

const COMPARISON: Record<string, string> = { eq: "=", gt: ">", gte: ">=", lt: "<", lte: "<=" };

class ParamList {
  readonly values: unknown[] = [];
  constructor(private readonly dialect: SqlDialect) {}
  add(value: unknown): string {
    this.values.push(value);
    return this.dialect.placeholder(this.values.length);
  }
}

function compileCondition(c: Condition, dialect: SqlDialect, codec: RowCodec, params: ParamList): string {
  const col = quoteIdentifier(c.column.name);
  const collated = c.column.type === "string" ? `${col}${dialect.stringCollation}` : col;
  switch (c.op) {
    case "isNull":
      return `${col} IS NULL`;
    case "notNull":
      return `${col} IS NOT NULL`;
    case "eq":
    case "gt":
    case "gte":
    case "lt":
    case "lte":
      return `${collated} ${COMPARISON[c.op]} ${params.add(codec.encodeValue(c.column, c.value))}`;
    case "ne":
      return `(${col} IS NULL OR ${col} <> ${params.add(codec.encodeValue(c.column, c.value))})`;
    case "in":
    case "nin": {
      const values = c.value as unknown[];
      const orNull = c.orNull === true;
      if (values.length === 0) {
        if (c.op === "in") return orNull ? `${col} IS NULL` : "1 = 0";
        return orNull ? `${col} IS NOT NULL` : "1 = 1";
      }
      const list = dialect.inList(col, params.add(dialect.listParam(values.map((v) => codec.encodeValue(c.column, v)))), c.column);
      if (c.op === "in") return orNull ? `(${list} OR ${col} IS NULL)` : list;
      return orNull ? `(${col} IS NOT NULL AND NOT (${list}))` : `(${col} IS NULL OR NOT (${list}))`;
    }
    case "like":
      return dialect.like(col, params.add(dialect.likeParam(c.value as string)));
    case "ilike":
      return dialect.ilike(col, params.add(c.value as string));
  }
}

function compileWhereInto(where: NormalizedWhere, dialect: SqlDialect, codec: RowCodec, params: ParamList): string {
  if (where.length === 0) return " WHERE 1 = 0";
  // An empty AND-group matches every row, whatever the other groups say.
  if (where.some((group) => group.length === 0)) return "";
  const groups: string[] = [];
  for (const group of where) {
    groups.push(group.map((c) => compileCondition(c, dialect, codec, params)).join(" AND "));
  }
  return groups.length === 1 ? ` WHERE ${groups[0]}` : ` WHERE (${groups.join(") OR (")})`;
}

/** The `WHERE` clause (with a leading space, or empty when every row matches). */
export function compileWhere(where: NormalizedWhere, dialect: SqlDialect, codec: RowCodec): CompiledSql {
  const params = new ParamList(dialect);
  return { text: compileWhereInto(where, dialect, codec, params), params: params.values };
}

/** The column list of a select, in schema order (rows are decoded by position). */
export function selectList(schema: EntitySchema): string {
  return schema.columns.map((c) => quoteIdentifier(c.name)).join(", ");
}

/** A whole `SELECT` for `find`, with ordering, limit and offset; `suffix` is appended (e.g. `FOR UPDATE`). */
export function compileFind(schema: EntitySchema, query: NormalizedQuery, dialect: SqlDialect, codec: RowCodec, suffix = ""): CompiledSql {
  const params = new ParamList(dialect);
  const where = compileWhereInto(query.where, dialect, codec, params);
  const order = query.orderBy
    .map((t) => {
      const col = quoteIdentifier(t.column.name);
      const collated = t.column.type === "string" ? `${col}${dialect.stringCollation}` : col;
      return t.direction === "asc" ? `${collated} ASC NULLS FIRST` : `${collated} DESC NULLS LAST`;
    })
    .join(", ");
  const limitPh = query.limit !== undefined ? params.add(query.limit) : undefined;
  const offsetPh = query.offset > 0 ? params.add(query.offset) : undefined;
  const text = `SELECT ${selectList(schema)} FROM ${quoteIdentifier(schema.table)}${where} ORDER BY ${order}${dialect.limitOffset(limitPh, offsetPh)}${suffix}`;
  return { text, params: params.values };
}

/** `SELECT COUNT(*)` of the rows matching `where`. */
export function compileCount(schema: EntitySchema, where: NormalizedWhere, dialect: SqlDialect, codec: RowCodec): CompiledSql {
  const compiled = compileWhere(where, dialect, codec);
  return { text: `SELECT COUNT(*) FROM ${quoteIdentifier(schema.table)}${compiled.text}`, params: compiled.params };
}

/** `DELETE` of the rows matching `where`. */
export function compileDeleteMany(schema: EntitySchema, where: NormalizedWhere, dialect: SqlDialect, codec: RowCodec): CompiledSql {
  const compiled = compileWhere(where, dialect, codec);
  return { text: `DELETE FROM ${quoteIdentifier(schema.table)}${compiled.text}`, params: compiled.params };
}
