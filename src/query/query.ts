/** The public query language (README, "Queries") and its normalized form that backends compile. */
import type { ColumnSchema } from "../schema/entity-schema.js";

/** Comparison operators on one field. Keys inside one object are AND. */
export interface Operators<V> {
  $eq?: V | null;
  /** Matches null too: `{ f: { $ne: "x" } }` returns rows where f is null. */
  $ne?: V | null;
  $gt?: V;
  $gte?: V;
  $lt?: V;
  $lte?: V;
  $in?: readonly (V | null)[];
  /** Matches null too, unless the list contains null. */
  $nin?: readonly (V | null)[];
  /** `%` any run, `_` one character; case-sensitive. Never matches null. */
  $like?: string;
  /** As `$like`, ignoring the case of ASCII letters. */
  $ilike?: string;
  $isNull?: boolean;
}

/** Conditions on an entity's fields; keys are AND. A bare value means equality, `null` means "is null". */
export type Where<T> = { [K in keyof T]?: T[K] | null | Operators<NonNullable<T[K]>> };

/** Sort direction per field; key order is sort order. The primary key is always the last tie-breaker. */
export type OrderBy<T> = { [K in keyof T]?: "asc" | "desc" };

/**
 * The names of an entity's fields: its properties that are not methods. A getter or a property without a
 * column decorator is one too, as far as types can tell; naming it in `select` is a `QueryError` at run time.
 */
export type Field<T> = { [K in keyof T]-?: T[K] extends (...args: never[]) => unknown ? never : K }[keyof T] & string;

/**
 * The relation properties of an entity, as far as types can tell: properties holding an object (not a
 * `Date`) or an array of objects. A json column typed as an object is one too for the compiler; naming it
 * in `include` is a `QueryError` at run time.
 */
export type RelationProperty<T> = {
  [K in keyof T]-?: T[K] extends (...args: never[]) => unknown
    ? never
    : NonNullable<T[K]> extends Date
      ? never
      : NonNullable<T[K]> extends readonly (infer E)[]
        ? E extends object ? K : never
        : NonNullable<T[K]> extends object ? K : never;
}[keyof T] & string;

/** The entity a relation property holds: the element type of a to-many, the object type of a to-one. */
export type Related<V> = NonNullable<V> extends readonly (infer E)[] ? E : NonNullable<V>;

/**
 * How one included relation is loaded: `true` for all of it, or options. `where` and `select` apply to
 * every relation; `orderBy` and `limit` to a to-many one (a `QueryError` on a to-one); `include` loads the
 * related entities' own relations, one more backend query per relation and level.
 */
export interface IncludeOptions<R> {
  /** Only related entities matching it (a to-one that does not match comes back as null). */
  where?: Where<R> | Where<R>[];
  /** The order of a to-many array; the related entity's primary key ends it. @default { <primary key>: "asc" } */
  orderBy?: OrderBy<R>;
  /** At most this many related entities per parent (a to-many relation), the first in its order. */
  limit?: number;
  /** Only these fields of each related entity: plain objects, as {@link Query.select} gives them. */
  select?: readonly Field<R>[];
  /** The related entities' own relations to load. */
  include?: Include<R>;
}

/**
 * The relations to load with a query's results (README, "Relations"): each key a relation property, its
 * value `true` or {@link IncludeOptions}. Each included relation costs one backend query for the whole
 * result (a many-to-many two: its join table, then the related table); a to-many relation comes back as an
 * array ([] when empty), a to-one as an object or null. A name that is not a relation is a `QueryError`.
 *
 * @example
 * await posts.findAll({ include: { author: true, comments: { orderBy: { id: "desc" }, limit: 3, include: { author: true } } } });
 */
export type Include<T> = { [K in RelationProperty<T>]?: boolean | IncludeOptions<Related<T[K]>> };

/**
 * A query on entities `T`. `S` is the fields a projection may list: none by default, so that a variable
 * typed `Query<T>` holds no `select` and `findAll` of it returns whole entities; a query with a projection
 * is written inline (its fields are then inferred), or typed `SelectQuery<T, "id" | "title">`.
 */
export interface Query<T, S extends Field<T> = never> {
  /** An object is AND of its keys; an array is OR of its elements (an empty array matches nothing). */
  where?: Where<T> | Where<T>[];
  orderBy?: OrderBy<T>;
  limit?: number;
  offset?: number;
  /** Cache this query's result until a write to the table (or for `ttlMs`). */
  cache?: boolean | { ttlMs: number };
  /**
   * Return only these fields: each result is a plain object holding exactly them (`Pick<T, ...>`, no entity
   * prototype; the primary key only when listed), and the backend reads no other column but the primary
   * key. `where` and `orderBy` may use any field, selected or not. A name that is not a column is a
   * `QueryError`.
   *
   * @example
   * const titles = await posts.findAll({ select: ["id", "title"], orderBy: { createdAt: "desc" } });
   * // titles: Pick<Post, "id" | "title">[]
   */
  select?: readonly S[];
  /** Relations to load with each result (see {@link Include}). */
  include?: Include<T>;
}

/** A query with a projection on the fields `S`: `findAll`, `findOne` and `iterate` return `Pick<T, S>` for it. */
export type SelectQuery<T, S extends Field<T>> = Query<T, S> & { select: readonly S[] };

/** The operators of a normalized condition. */
export type ConditionOp =
  | "eq" | "ne" | "gt" | "gte" | "lt" | "lte" | "in" | "nin" | "like" | "ilike" | "isNull" | "notNull";

/**
 * One normalized condition. `value` is a logical value (never null) for eq/ne/gt/gte/lt/lte, a string
 * for like/ilike, an array of non-null values for in/nin, and absent for isNull/notNull.
 * `orNull` on `in` means "or the field is null"; on `nin` it means "and the field is not null".
 */
export interface Condition {
  readonly column: ColumnSchema;
  readonly op: ConditionOp;
  readonly value?: unknown;
  readonly orNull?: boolean;
}

/** OR of AND-groups. `[[]]` matches every row; `[]` matches none. */
export type NormalizedWhere = readonly (readonly Condition[])[];

export interface OrderTerm {
  readonly column: ColumnSchema;
  readonly direction: "asc" | "desc";
}

export interface NormalizedQuery {
  readonly where: NormalizedWhere;
  /** Always ends with the primary key, so that pages never overlap or skip. */
  readonly orderBy: readonly OrderTerm[];
  readonly limit?: number;
  readonly offset: number;
  /**
   * A keyset position: one value per `orderBy` term (the last one the primary key), taken from the row the
   * page starts after. Only rows strictly after that position in the query's order are returned (nulls
   * placed as the ordering places them); `offset` and `limit` then apply to those. Absent: from the start.
   */
  readonly after?: readonly unknown[];
  /**
   * A projection: the columns to return, in no particular order, always including the primary key.
   * Returned rows hold exactly these properties. Absent: every column.
   */
  readonly select?: readonly ColumnSchema[];
}
