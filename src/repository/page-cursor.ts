/**
 * The opaque cursors of `Repository.findPage`: a keyset position (the sort-key values of the last row of a
 * page) bound to the query it came from.
 *
 * Format, version 1: base64url of the JSON `{ "v": 1, "q": <query mark>, "k": [<values>], "h": <check> }`.
 * - `q`: a hash of the table, the normalized where (conditions and `$in`/`$nin` lists in a canonical
 *   order, so `{ a, b }` and `{ b, a }` agree; a relation filter as its relation, quantifier and where) and the ordering (fields and directions, the primary-key tie-breaker included). A
 *   cursor is accepted only by a query with the same mark.
 * - `k`: one value per ordering term, typed by its column: strings, integers, numbers and booleans as JSON
 *   values, dates as epoch milliseconds, null as null. JSON holds each exactly (a finite double prints in
 *   its shortest round-tripping form; `-0` becomes `0`, which every backend stores it as anyway).
 * - `h`: a hash over `q` and `k`, so that a cursor altered by hand or cut short is told apart from one of
 *   another query. It is a check, not a signature: a cursor only chooses where in the rows this query can
 *   already read a page starts, so a forged one reveals nothing a query could not.
 *
 * Anything else (not base64url, not this JSON, another version, a value that does not fit its column) is
 * a `QueryError` naming `after`.
 */
import { hash as digest } from "node:crypto";
import { QueryError } from "../errors.js";
import type { NormalizedQuery, NormalizedWhere, OrderTerm, WhereTerm } from "../query/query.js";
import { isRelationCondition } from "../query/query.js";
import type { EntitySchema, Row } from "../schema/entity-schema.js";
import { describeValue, valueProblem } from "../schema/row-values.js";

const VERSION = 1;
/** Characters of base64url kept from each sha1: 96 bits, ample to tell queries (and edits) apart. */
const MARK_LENGTH = 16;

function hash(text: string): string {
  // The one-shot digest: a createHash object per call cost more than hashing these few bytes.
  return digest("sha1", text, "base64url").slice(0, MARK_LENGTH);
}

/** A JSON value a condition value is written as in the mark: Dates by instant, apart from strings. */
function markValue(value: unknown): unknown {
  if (value instanceof Date) return { $date: value.getTime() };
  if (Array.isArray(value)) return value.map(markValue);
  return value;
}

function conditionMark(c: WhereTerm): string {
  // A relation filter: the relation, how it counts, and its where marked as a query's is.
  if (isRelationCondition(c)) return JSON.stringify([c.relation, c.quantifier, whereMark(c.where)]);
  let value = markValue(c.value) ?? null;
  // An $in/$nin list is a set: in another order it is the same query, and its cursors must stay valid.
  if (Array.isArray(value)) value = value.map((v) => JSON.stringify(v)).sort();
  return JSON.stringify([c.column.property, c.op, value, c.orNull === true]);
}

/** The mark of a query's where and ordering (limit, offset and the position are not part of it). */
export function queryMark(schema: EntitySchema, query: NormalizedQuery): string {
  const where = whereMark(query.where);
  const order = query.orderBy.map((t) => [t.column.property, t.direction]);
  return hash(JSON.stringify([schema.table, where, order]));
}

/** A where's groups, each a sorted list of its conditions' marks, sorted: the order of keys and groups is no part of it. */
function whereMark(where: NormalizedWhere): string[] {
  return where.map((group) => group.map(conditionMark).sort()).map((group) => JSON.stringify(group)).sort();
}

/** The sort-key values of `row` under `orderBy`: one per term, Dates copied (the row's go out to the caller). */
export function sortKeyOf(orderBy: readonly OrderTerm[], row: Row): unknown[] {
  return orderBy.map((t) => {
    const value = row[t.column.property];
    if (value === undefined || value === null) return null;
    return value instanceof Date ? new Date(value.getTime()) : value;
  });
}

interface CursorJson {
  v: number;
  q: string;
  k: unknown[];
  h: string;
}

/** The cursors of one normalized query: built from a row, read back to a keyset position. */
export class PageCursors {
  private readonly mark: string;

  constructor(
    private readonly schema: EntitySchema,
    private readonly query: NormalizedQuery,
  ) {
    this.mark = queryMark(schema, query);
  }

  /** The cursor of the position just after `row`. */
  encode(row: Row): string {
    // Dates as epoch milliseconds (the format above); the rest as sortKeyOf reads them.
    const k = sortKeyOf(this.query.orderBy, row).map((value) => (value instanceof Date ? value.getTime() : value));
    const json: CursorJson = { v: VERSION, q: this.mark, k, h: hash(JSON.stringify([this.mark, k])) };
    return Buffer.from(JSON.stringify(json), "utf8").toString("base64url");
  }

  /** The keyset position a cursor holds, checked against this query; `QueryError` naming `after` otherwise. */
  decode(cursor: unknown): unknown[] {
    if (typeof cursor !== "string") this.reject(`expected a cursor string from an earlier page's nextCursor, got ${describeValue(cursor)}`);
    const json = this.parse(cursor);
    if (json.q !== this.mark) {
      this.reject("the cursor comes from another query (a different table, where or orderBy); pass the nextCursor of this query's own previous page");
    }
    if (json.h !== hash(JSON.stringify([json.q, json.k]))) this.reject("the cursor was altered or cut short; pass a nextCursor as findPage returned it");
    const terms = this.query.orderBy;
    if (json.k.length !== terms.length) this.reject(`the cursor holds ${json.k.length} sort values where this query orders by ${terms.length}`);
    return terms.map((term, i) => {
      const raw = json.k[i];
      if (raw === null) {
        // Any other column may hold null (even one the entity declares NOT NULL, after a migration); the key never does.
        if (term.column.primary) this.reject(`the cursor's value for ${term.column.property} does not fit the column: a primary key is never null`);
        return null;
      }
      const value = term.column.type === "datetime" && typeof raw === "number" ? new Date(raw) : raw;
      const problem = valueProblem(term.column, value, true);
      if (problem) this.reject(`the cursor's value for ${term.column.property} does not fit the column: ${problem}`);
      return value;
    });
  }

  private parse(cursor: string): CursorJson {
    let json: unknown;
    try {
      if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw new Error("not base64url");
      json = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    } catch {
      this.reject("not a cursor (expected the nextCursor string of an earlier findPage)");
    }
    const c = json as Partial<CursorJson> | null;
    if (typeof c !== "object" || c === null || Array.isArray(c) || typeof c.q !== "string" || typeof c.h !== "string" || !Array.isArray(c.k)) {
      this.reject("not a cursor (expected the nextCursor string of an earlier findPage)");
    }
    if (c.v !== VERSION) this.reject(`a cursor of format version ${typeof c.v === "number" ? c.v : describeValue(c.v)}, this Strata reads version ${VERSION}`);
    return c as CursorJson;
  }

  private reject(problem: string): never {
    throw new QueryError(`${this.schema.entityName}: findPage after: ${problem}`, { table: this.schema.table, field: "after" });
  }
}

/**
 * `query` with its sort columns added to its projection (when it has one), so that the last row of each page
 * holds the position of the next; the repository hands out only the fields the caller listed.
 */
export function withSortColumns(query: NormalizedQuery): NormalizedQuery {
  const select = query.select;
  if (select === undefined) return query;
  const missing = query.orderBy.filter((t) => !select.includes(t.column)).map((t) => t.column);
  return missing.length === 0 ? query : { ...query, select: [...select, ...missing] };
}
