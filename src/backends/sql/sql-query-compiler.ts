/**
 * Compiles normalized queries (src/query/query.ts) to SQL text and bound parameters. Identifiers come from
 * the entity schema, quoted; every value is a parameter. The semantics match the memory engine:
 * `ne`/`nin` match null, comparisons and patterns never do, nulls sort first ascending and last
 * descending, strings by code point, and the primary key is the last tie-breaker (normalization adds it).
 *
 * Relation conditions are correlated subqueries: `EXISTS (SELECT 1 FROM "comments" AS "strata_r1" WHERE
 * "strata_r1"."postId" = "posts"."id" AND ...)`, the related table aliased by its depth (the query's own
 * table keeps its bare name, so the SQL of a query without relations is unchanged). Columns inside a
 * subquery are written unqualified: SQL resolves them in the innermost table, the related one. A
 * many-to-many nests two, the join table's and the target's, so that no column name is ambiguous.
 */
import type { Condition, NormalizedQuery, NormalizedWhere, OrderTerm, RelationCondition, WhereTerm } from "../../query/query.js";
import { isRelationCondition } from "../../query/query.js";
import { QueryError } from "../../errors.js";
import type { ColumnSchema, EntitySchema } from "../../schema/entity-schema.js";
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
  /** `before`: parameters the statement binds ahead of these (their placeholders are numbered after them). */
  constructor(
    private readonly dialect: SqlDialect,
    private readonly before = 0,
  ) {}
  add(value: unknown): string {
    this.values.push(value);
    return this.dialect.placeholder(this.before + this.values.length);
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
    case "ilike": {
      const pattern = c.value as string;
      const prefixRange = dialect.ilikePrefixRange;
      const range = prefixRange ? foldedPrefixRange(pattern) : undefined;
      // The range first: its parameters come before the pattern's, in the order the text reads.
      const ranged = prefixRange && range ? `${prefixRange(col, params.add(range.low), range.high === undefined ? undefined : params.add(range.high))} AND ` : "";
      return `${ranged}${dialect.ilike(col, params.add(pattern))}`;
    }
  }
}

/** Where a where clause is compiled: the quoted name (or alias) of the table its columns belong to, and its nesting depth. */
interface Scope {
  readonly table: string;
  readonly depth: number;
}

/** A where as one boolean expression: `undefined` when it matches every row. */
function whereExpression(where: NormalizedWhere, dialect: SqlDialect, codec: RowCodec, params: ParamList, scope: Scope): string | undefined {
  if (where.length === 0) return "1 = 0";
  if (where.some((group) => group.length === 0)) return undefined;
  const groups = mergeEqualityGroups(where).map((group) => joinBalanced(group.map((c) => compileTerm(c, dialect, codec, params, scope)), " AND ", false));
  return groups.length === 1 ? groups[0]! : joinBalanced(groups, " OR ", true);
}

function compileTerm(term: WhereTerm, dialect: SqlDialect, codec: RowCodec, params: ParamList, scope: Scope): string {
  return isRelationCondition(term) ? compileRelation(term, dialect, codec, params, scope) : compileCondition(term, dialect, codec, params);
}

/**
 * A relation condition as `EXISTS` / `NOT EXISTS` over the related rows. `every` is "no related row fails
 * the where": `NOT COALESCE((where), FALSE)`, so that a related row for which the where is unknown (a null
 * compared) counts as failing, as it does in the engine, where a where is two-valued.
 */
function compileRelation(c: RelationCondition, dialect: SqlDialect, codec: RowCodec, params: ParamList, scope: Scope): string {
  const depth = scope.depth + 1;
  const alias = quoteIdentifier(`strata_r${depth}`);
  const source = `${scope.table}.${quoteIdentifier(c.sourceColumn.name)}`;
  const through = c.through;
  const pairing = through ? `${quoteIdentifier(`strata_j${depth}`)}.${quoteIdentifier(through.targetColumn.name)}` : source;
  // Parameters go in text order: the join table's part holds none, the target's where follows.
  const inner = whereExpression(c.where, dialect, codec, params, { table: alias, depth });
  const test = inner === undefined ? "" : c.quantifier === "every" ? ` AND NOT COALESCE((${inner}), FALSE)` : ` AND (${inner})`;
  let exists = `EXISTS (SELECT 1 FROM ${quoteIdentifier(c.target.table)} AS ${alias} WHERE ${alias}.${quoteIdentifier(c.targetColumn.name)} = ${pairing}${test})`;
  if (through) {
    const join = quoteIdentifier(`strata_j${depth}`);
    exists = `EXISTS (SELECT 1 FROM ${quoteIdentifier(through.schema.table)} AS ${join} WHERE ${join}.${quoteIdentifier(through.sourceColumn.name)} = ${source} AND ${exists})`;
  }
  if (c.quantifier === "some") return exists;
  // every with a where that matches every row: no related row can fail it.
  if (c.quantifier === "every" && inner === undefined) return "1 = 1";
  return `NOT ${exists}`;
}

/** ASCII letters folded to lower case, as `$ilike` compares (data-session.ts): no other letter. */
function foldAscii(text: string): string {
  return text.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
}

/**
 * The range of folded values an `$ilike` pattern's literal prefix (what comes before its first `%` or `_`)
 * allows, in code-point order: from the folded prefix up to, not including, the least string greater than
 * every string that starts with it (the prefix with its last code point raised by one; a last U+10FFFF is
 * dropped first, and when nothing is left there is no upper bound). Undefined when the pattern starts with
 * a wildcard: then no range narrows the scan.
 */
function foldedPrefixRange(pattern: string): { low: string; high: string | undefined } | undefined {
  const end = pattern.search(/[%_]/);
  const low = foldAscii(end === -1 ? pattern : pattern.slice(0, end));
  if (low === "") return undefined;
  const points = [...low];
  while (points.length > 0) {
    const last = points.pop()!.codePointAt(0)!;
    if (last < 0x10ffff) {
      // No string holds a surrogate code point: past U+D7FF comes U+E000.
      const next = last + 1 >= 0xd800 && last + 1 <= 0xdfff ? 0xe000 : last + 1;
      return { low, high: points.join("") + String.fromCodePoint(next) };
    }
  }
  return { low, high: undefined };
}

/**
 * Up to this many operands are joined as a flat chain, exactly as a handful always were; longer lists
 * become a balanced tree of such chains. SQLite parses `a OR b OR c ...` into a tree as deep as the chain
 * and refuses one deeper than SQLITE_MAX_EXPR_DEPTH (1000): balanced, 5,000 OR groups are a tree about
 * 64 + log2(5000 / 64) deep. Both databases flatten nested ORs (ANDs) again when planning.
 */
const FLAT_CHAIN = 64;

/** `parts` joined by `op` (" OR " or " AND "), each part parenthesized when `wrap`. */
function joinBalanced(parts: readonly string[], op: string, wrap: boolean): string {
  if (parts.length <= FLAT_CHAIN) return wrap ? `(${parts.join(`)${op}(`)})` : parts.join(op);
  const middle = Math.ceil(parts.length / 2);
  return `(${joinBalanced(parts.slice(0, middle), op, wrap)})${op}(${joinBalanced(parts.slice(middle), op, wrap)})`;
}

/** Fewer OR groups than this are compiled one by one, so small queries keep their text and plans. */
const MERGE_FROM_GROUPS = FLAT_CHAIN;

/**
 * A long OR of single equalities (or `$in`, or `null`) on one column, e.g. `ids.map((id) => ({ id }))`,
 * as one `in` condition: one list parameter instead of one per group, so it never meets the parameter
 * limit, and one index probe per value. Other groups are kept as they are; the OR's meaning is unchanged.
 */
function mergeEqualityGroups(where: NormalizedWhere): NormalizedWhere {
  if (where.length < MERGE_FROM_GROUPS) return where;
  const byColumn = new Map<ColumnSchema, { values: unknown[]; orNull: boolean; groups: number }>();
  for (const group of where) {
    const c = mergeable(group);
    if (!c) continue;
    let merged = byColumn.get(c.column);
    if (!merged) byColumn.set(c.column, (merged = { values: [], orNull: false, groups: 0 }));
    merged.groups++;
    if (c.op === "eq") merged.values.push(c.value);
    else if (c.op === "isNull") merged.orNull = true;
    else {
      for (const v of c.value as unknown[]) merged.values.push(v);
      if (c.orNull) merged.orNull = true;
    }
  }
  const out: (readonly WhereTerm[])[] = [];
  for (const group of where) {
    const c = mergeable(group);
    if (!c || byColumn.get(c.column)!.groups < 2) out.push(group);
  }
  for (const [column, merged] of byColumn) {
    // An empty list compiles to `IS NULL` or to no match, as `$in: [null]` and `$in: []` do.
    if (merged.groups >= 2) out.push([{ column, op: "in", value: merged.values, orNull: merged.orNull }]);
  }
  return out;
}

/** The one condition of `group` when it is an equality, `$in` or `null` test that can join an `in` list. */
function mergeable(group: readonly WhereTerm[]): Condition | undefined {
  const c = group.length === 1 ? group[0]! : undefined;
  return c && !isRelationCondition(c) && (c.op === "eq" || c.op === "isNull" || c.op === "in") ? c : undefined;
}

/** The `WHERE` clause of `where` on `table` (quoted), with a leading space, or empty when every row matches. */
function compileWhereInto(where: NormalizedWhere, dialect: SqlDialect, codec: RowCodec, params: ParamList, table: string): string {
  // An empty AND-group matches every row, whatever the other groups say.
  const expression = whereExpression(where, dialect, codec, params, { table, depth: 0 });
  return expression === undefined ? "" : ` WHERE ${expression}`;
}

/**
 * Throws before anything runs when a statement would bind more parameters than the database accepts
 * (SQLite 32,766, PostgreSQL 65,535): PostgreSQL would otherwise fail with a misleading protocol error.
 */
function checkParams(schema: EntitySchema, params: readonly unknown[], dialect: SqlDialect): void {
  if (params.length <= dialect.maxParams) return;
  throw new QueryError(
    `${schema.entityName}: the query on table "${schema.table}" needs ${params.length} bound parameters, more than ${dialect.name} allows in one statement (${dialect.maxParams}): ` +
      `use $in lists (one parameter each, whatever their length) or split the where`,
    { table: schema.table },
  );
}

/** The `WHERE` clause of `where` on `schema`'s table (with a leading space, or empty when every row matches). */
export function compileWhere(schema: EntitySchema, where: NormalizedWhere, dialect: SqlDialect, codec: RowCodec): CompiledSql {
  const params = new ParamList(dialect);
  return { text: compileWhereInto(where, dialect, codec, params, quoteIdentifier(schema.table)), params: params.values };
}

/**
 * `where` on `schema`'s table as one boolean expression (no `WHERE`), its placeholders numbered from
 * `firstParam`, for a statement that binds other parameters before it (a search's query); undefined when
 * every row matches. Columns are unqualified, relation subqueries name the table by its quoted name.
 */
export function compileWhereExpression(schema: EntitySchema, where: NormalizedWhere, dialect: SqlDialect, codec: RowCodec, firstParam: number): CompiledSql | undefined {
  const params = new ParamList(dialect, firstParam - 1);
  const text = whereExpression(where, dialect, codec, params, { table: quoteIdentifier(schema.table), depth: 0 });
  if (text !== undefined) checkParams(schema, params.values, dialect);
  return text === undefined ? undefined : { text, params: params.values };
}

/** The column list of a select: the entity's columns in schema order, or `columns` (rows are decoded by position). */
export function selectList(schema: EntitySchema, columns: readonly ColumnSchema[] = schema.columns): string {
  return columns.map((c) => quoteIdentifier(c.name)).join(", ");
}

/** True when a row whose `column` is null matches no group of `where` (each has a condition on it that null fails). */
function excludesNull(where: NormalizedWhere, column: ColumnSchema): boolean {
  return where.length > 0 && where.every((group) => group.some((c) => !isRelationCondition(c) && c.column.name === column.name && rejectsNull(c)));
}

function rejectsNull(c: Condition): boolean {
  switch (c.op) {
    case "eq":
    case "gt":
    case "gte":
    case "lt":
    case "lte":
    case "like":
    case "ilike":
    case "notNull":
      return true;
    case "in":
      return c.orNull !== true;
    case "nin":
      return c.orNull === true;
    default: // ne and isNull match null
      return false;
  }
}

/** The column as compared and sorted: strings under the dialect's code-point collation. */
function sortExpression(column: ColumnSchema, dialect: SqlDialect): string {
  const col = quoteIdentifier(column.name);
  return column.type === "string" ? `${col}${dialect.stringCollation}` : col;
}

/** The terms that decide a keyset position: up to the primary key, which settles every tie (later terms never matter). */
function decidingTerms(orderBy: readonly OrderTerm[]): readonly OrderTerm[] {
  const pk = orderBy.findIndex((t) => t.column.primary);
  return pk < 0 ? orderBy : orderBy.slice(0, pk + 1);
}

/**
 * The keyset position `query.after` as a condition: the rows strictly after it in the query's order, nulls
 * smallest (first ascending, last descending), as the memory engine's `compileAfter` decides.
 *
 * When every term runs one way and no null can get in the way, it is the row-value comparison
 * `("k1", "id") > (?, ?)`, which PostgreSQL and SQLite both serve by seeking an index on those columns.
 * That holds ascending whenever the position holds no null: a row-value `>` is unknown (so false) as soon as
 * a row's value is null, and a null sorts before any value ascending, so such a row is before the position
 * anyway. Descending, a null sorts last (after the position), so the row form is used only where the where
 * lets no null through (or on the primary key).
 *
 * Otherwise (mixed directions, a null in the position, a nullable descending column) it is the expanded
 * form: `(k1 > ?) OR (k1 = ? AND k2 > ?) OR ...`, each "after" and "equal" spelled with its null cases. Its
 * first term's bound is repeated in front (`k1 >= ? AND (...)`) where it is a plain range, so an index on the
 * first column still narrows the scan.
 */
function compileAfter(query: NormalizedQuery, after: readonly unknown[], dialect: SqlDialect, codec: RowCodec, params: ParamList): string {
  const terms = decidingTerms(query.orderBy);
  const values = terms.map((_, i) => after[i] ?? null);
  const exprs = terms.map((t) => sortExpression(t.column, dialect));
  const nullFree = terms.map((t) => t.column.primary || excludesNull(query.where, t.column));
  const direction = terms[0]!.direction;
  const oneWay = terms.every((t) => t.direction === direction);
  if (oneWay && values.every((v) => v !== null) && (direction === "asc" || nullFree.every(Boolean))) {
    const op = direction === "asc" ? ">" : "<";
    const phs = terms.map((t, i) => params.add(codec.encodeValue(t.column, values[i])));
    return terms.length === 1 ? `${exprs[0]} ${op} ${phs[0]}` : `(${exprs.join(", ")}) ${op} (${phs.join(", ")})`;
  }
  // Parameters are added in the order their placeholders appear in the text (SQLite's `?` are positional).
  const first = values[0];
  let lead = "";
  if (terms.length > 1 && first !== null && (direction === "asc" || nullFree[0])) {
    lead = `${exprs[0]} ${direction === "asc" ? ">=" : "<="} ${params.add(codec.encodeValue(terms[0]!.column, first))} AND `;
  }
  const disjuncts: string[] = [];
  for (let i = 0; i < terms.length; i++) {
    const term = terms[i]!;
    const value = values[i];
    // Nothing sorts after null descending (null is last there): no row passes on this term.
    if (term.direction === "desc" && value === null) continue;
    const parts: string[] = [];
    for (let j = 0; j < i; j++) {
      parts.push(values[j] === null ? `${quoteIdentifier(terms[j]!.column.name)} IS NULL` : `${exprs[j]} = ${params.add(codec.encodeValue(terms[j]!.column, values[j]))}`);
    }
    const col = quoteIdentifier(term.column.name);
    if (value === null) parts.push(`${col} IS NOT NULL`); // ascending: every value sorts after null
    else if (term.direction === "asc") parts.push(`${exprs[i]} > ${params.add(codec.encodeValue(term.column, value))}`);
    else {
      const below = `${exprs[i]} < ${params.add(codec.encodeValue(term.column, value))}`;
      parts.push(nullFree[i] ? below : `(${below} OR ${col} IS NULL)`);
    }
    disjuncts.push(parts.join(" AND "));
  }
  if (disjuncts.length === 0) return "1 = 0";
  return `${lead}(${disjuncts.length === 1 ? disjuncts[0] : `(${disjuncts.join(") OR (")})`})`;
}

/**
 * A descending walk over a column that may hold nulls, from a position with a value there: the rows after
 * it are the smaller values, then every null (nulls sort last descending). No single index scan seeks to
 * that (a `k1 < ?` range stops before the nulls; `OR k1 IS NULL` makes the planner scan from the top), so
 * each page would read every row before its position. Split in two selects, each seeking: the non-null
 * rows after the position (a `notNull` added to the where lets the seek be a plain range on `k1`), and,
 * only when those do not fill the page, the null rows (every null follows a non-null position descending),
 * each limited to the window (limit + offset) and run one after the other (see {@link CompiledFind}).
 * Not in one statement: SQLite answers a UNION ALL of the two ordered parts by sorting each part again
 * (page 1,000 of the city bench cost about twice page 1 that way), and the second select runs only on the one
 * page where the values end. Only with a limit (a page), and without a row-lock suffix (PostgreSQL's
 * `FOR UPDATE`: a transaction's read stays one statement).
 */
function nullSplit(query: NormalizedQuery, suffix: string): { beforeNulls: NormalizedQuery; nulls: NormalizedQuery; window: number } | undefined {
  const first = query.orderBy[0];
  const after = query.after;
  if (!after || query.limit === undefined || suffix !== "" || !first || first.direction !== "desc" || first.column.primary) return undefined;
  if (after[0] === null || after[0] === undefined || excludesNull(query.where, first.column)) return undefined;
  const column = first.column;
  const window = query.limit + query.offset;
  const { after: _position, ...unpositioned } = query;
  return {
    // notNull on the column in every group lets the where prove it: the seek takes the row-value form.
    beforeNulls: { ...query, where: query.where.map((group) => [...group, { column, op: "notNull" as const }]), limit: window, offset: 0 },
    // Every null follows a non-null position descending: no position to test.
    nulls: { ...unpositioned, where: query.where.map((group) => [...group, { column, op: "isNull" as const }]), limit: window, offset: 0 },
    window,
  };
}

/** The `ORDER BY` terms of `query` (without the keyword). */
function orderText(query: NormalizedQuery, dialect: SqlDialect): string {
  return query.orderBy
    .map((t) => {
      const collated = sortExpression(t.column, dialect);
      // The contract's placement on every column but the primary key (never null, and indexed by the
      // database's own ascending key): Strata's indexes hold each column ascending with nulls first
      // (SqlDialect.indexColumnOrder), so a forward scan serves `ASC NULLS FIRST` and a backward scan
      // `DESC NULLS LAST`. The entity's NOT NULL is no proof that the table holds no null (a column a
      // migration added as nullable, or an older entity's: generate only warns), so it changes nothing here.
      if (t.column.primary) return t.direction === "asc" ? `${collated} ASC` : `${collated} DESC`;
      return t.direction === "asc" ? `${collated} ASC NULLS FIRST` : `${collated} DESC NULLS LAST`;
    })
    .join(", ");
}

/**
 * A limit or offset as SQL digits ({@link SqlDialect.literalPaging}): a non-negative integer, as
 * normalization checks, so nothing but digits reaches the text. A split page's window (limit + offset) may
 * pass 2^53: no table holds that many rows, so the largest safe integer limits alike.
 */
function integerLiteral(schema: EntitySchema, name: string, value: number): string {
  if (!Number.isInteger(value) || value < 0) {
    throw new QueryError(`${schema.entityName}: ${name} must be a non-negative integer, got ${String(value)}`, { table: schema.table });
  }
  return String(Math.min(value, Number.MAX_SAFE_INTEGER));
}

/**
 * One `SELECT` of `columns` for `query` (where, position, order, limit, offset), its parameters added to
 * `params` in text order.
 */
function selectText(schema: EntitySchema, query: NormalizedQuery, dialect: SqlDialect, codec: RowCodec, params: ParamList, columns: SelectColumns): string {
  let where = compileWhereInto(query.where, dialect, codec, params, quoteIdentifier(schema.table));
  const after = query.after;
  if (after !== undefined && query.orderBy.length > 0) {
    const seek = compileAfter(query, after, dialect, codec, params);
    where = where === "" ? ` WHERE ${seek}` : ` WHERE (${where.slice(" WHERE ".length)}) AND ${seek}`;
  }
  const order = orderText(query, dialect);
  const literal = dialect.literalPaging;
  const limitPh = query.limit !== undefined ? (literal ? integerLiteral(schema, "limit", query.limit) : params.add(query.limit)) : undefined;
  const offsetPh = query.offset > 0 ? (literal === "both" ? integerLiteral(schema, "offset", query.offset) : params.add(query.offset)) : undefined;
  return `SELECT ${sortedSelectList(columns, query.orderBy, dialect)} FROM ${quoteIdentifier(schema.table)}${where} ORDER BY ${order}${dialect.limitOffset(limitPh, offsetPh)}`;
}

/** The columns a select reads, and their select list as {@link selectList} gives it (made once per table or projection). */
export interface SelectColumns {
  readonly columns: readonly ColumnSchema[];
  readonly list: string;
}

/**
 * The select list, where the dialect collates strings ({@link SqlDialect.stringCollation}), with each string
 * column the order sorts by read as it is sorted: `"name" COLLATE "C" AS "name"`. The same values; but
 * PostgreSQL otherwise carries the sort expression as one more column of every row it reads and sorts (the
 * city bench's `ORDER BY "altName"`, whose nulls are one group of 100,000 rows to sort, took twice the time).
 */
function sortedSelectList(select: SelectColumns, orderBy: readonly OrderTerm[], dialect: SqlDialect): string {
  const collation = dialect.stringCollation;
  if (collation === "" || !orderBy.some((t) => t.column.type === "string")) return select.list;
  return select.columns
    .map((c) => {
      const name = quoteIdentifier(c.name);
      return c.type === "string" && orderBy.some((t) => t.column.name === c.name) ? `${name}${collation} AS ${name}` : name;
    })
    .join(", ");
}

/**
 * What `find` runs: one select, or for a page split at the nulls ({@link nullSplit}) the select of the
 * non-null rows after the position (`text`, `params`: at most `window` rows, from the start) and `nulls`, the
 * select of the null rows that follow them (at most `window` too). The caller runs `nulls` only when the
 * first returned fewer than `window` rows, appends its rows (less any the first returned: one set to null
 * in between), and keeps rows `offset` to `window`. A row inserted or deleted between the two selects
 * cannot make another repeat or vanish: the first returned every non-null row after the position, and the
 * nulls come after all of them.
 */
export interface CompiledFind extends CompiledSql {
  readonly nulls?: CompiledSql & { readonly window: number; readonly offset: number };
}

/**
 * The select(s) for `find`, with ordering, limit and offset; `suffix` is appended (e.g. `FOR UPDATE`).
 * `columns`: what it reads (a projection's, its list made once per projection); by default every column of the entity.
 */
export function compileFind(
  schema: EntitySchema,
  query: NormalizedQuery,
  dialect: SqlDialect,
  codec: RowCodec,
  suffix = "",
  columns: SelectColumns = { columns: schema.columns, list: selectList(schema) },
): CompiledFind {
  const split = nullSplit(query, suffix);
  if (split) {
    const values = new ParamList(dialect);
    const text = selectText(schema, split.beforeNulls, dialect, codec, values, columns);
    checkParams(schema, values.values, dialect);
    const nullParams = new ParamList(dialect);
    const nullText = selectText(schema, split.nulls, dialect, codec, nullParams, columns);
    checkParams(schema, nullParams.values, dialect);
    return { text, params: values.values, nulls: { text: nullText, params: nullParams.values, window: split.window, offset: query.offset } };
  }
  const params = new ParamList(dialect);
  const text = `${selectText(schema, query, dialect, codec, params, columns)}${suffix}`;
  checkParams(schema, params.values, dialect);
  return { text, params: params.values };
}

/** `SELECT COUNT(*)` of the rows matching `where`. */
export function compileCount(schema: EntitySchema, where: NormalizedWhere, dialect: SqlDialect, codec: RowCodec): CompiledSql {
  const compiled = compileWhere(schema, where, dialect, codec);
  checkParams(schema, compiled.params, dialect);
  return { text: `SELECT COUNT(*) FROM ${quoteIdentifier(schema.table)}${compiled.text}`, params: compiled.params };
}

/**
 * The parameters `c` binds: none for isNull/notNull and an empty list, one more per bound of an `$ilike`'s
 * prefix range, one for every other condition; a relation condition, those of its where.
 */
function boundParams(c: WhereTerm, dialect: SqlDialect): number {
  if (isRelationCondition(c)) {
    if (c.where.some((group) => group.length === 0)) return 0;
    return mergeEqualityGroups(c.where).reduce((n, group) => n + group.reduce((m, term) => m + boundParams(term, dialect), 0), 0);
  }
  if (c.op === "isNull" || c.op === "notNull" || (Array.isArray(c.value) && c.value.length === 0)) return 0;
  if (c.op !== "ilike" || !dialect.ilikePrefixRange) return 1;
  const range = foldedPrefixRange(c.value as string);
  return range === undefined ? 1 : range.high === undefined ? 2 : 3;
}

/** Parameters per statement when a deleteMany must be split. */
const DELETE_SLICE_PARAMS = 1000;

/**
 * `DELETE` of the rows matching `where`, as one statement or, when the where binds more parameters than
 * one statement may, as several over consecutive slices of its OR groups. Run in one transaction, the
 * slices delete exactly the rows the whole where matches, and their counts add up (a row deleted by one
 * slice is gone for the next).
 */
export function compileDeleteMany(schema: EntitySchema, where: NormalizedWhere, dialect: SqlDialect, codec: RowCodec): CompiledSql[] {
  const table = quoteIdentifier(schema.table);
  const whole = compileWhere(schema, where, dialect, codec);
  if (whole.params.length <= dialect.maxParams) return [{ text: `DELETE FROM ${table}${whole.text}`, params: whole.params }];
  // Slices well below the limit: SQLite's prepare time grows with the square of a statement's parameters.
  const sliceLimit = Math.min(dialect.maxParams, DELETE_SLICE_PARAMS);
  const merged = mergeEqualityGroups(where);
  const statements: CompiledSql[] = [];
  let slice: (readonly WhereTerm[])[] = [];
  let sliceParams = 0;
  const flush = () => {
    const compiled = compileWhere(schema, slice, dialect, codec);
    statements.push({ text: `DELETE FROM ${table}${compiled.text}`, params: compiled.params });
    slice = [];
    sliceParams = 0;
  };
  for (const group of merged) {
    const needed = group.reduce((n, c) => n + boundParams(c, dialect), 0);
    if (needed > dialect.maxParams) checkParams(schema, new Array(needed), dialect);
    if (slice.length > 0 && sliceParams + needed > sliceLimit) flush();
    slice.push(group);
    sliceParams += needed;
  }
  if (slice.length > 0) flush();
  return statements;
}
