/** The public query language (README, "Queries") and its normalized form that backends compile. */
import type { ColumnSchema, EntitySchema } from "../schema/entity-schema.js";

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

/**
 * Conditions on an entity's fields; keys are AND. A bare value means equality, `null` means "is null".
 * A relation may be named too (see {@link RelationWhere}): `{ author: { name: "Ada" } }`,
 * `{ comments: { $some: { approved: true } } }`.
 */
export type Where<T> = { [K in keyof T]?: FieldWhere<T[K]> };

/** What one key of a {@link Where} takes: a relation filter for a relation property, else a value or operators. */
type FieldWhere<V> = [NonNullable<V>] extends [readonly (infer E)[]]
  ? E extends object
    ? ToManyWhere<E> | null | Operators<NonNullable<V>>
    : V | null | Operators<NonNullable<V>>
  : [NonNullable<V>] extends [Date]
    ? V | null | Operators<NonNullable<V>>
    : NonNullable<V> extends object
      ? ToOneWhere<NonNullable<V>> | Operators<NonNullable<V>>
      : V | null | Operators<NonNullable<V>>;

/**
 * A filter on a to-one relation: the related row exists and matches (an array is OR of its elements,
 * `{}` only asks that it exists); `null`: no related row.
 */
export type ToOneWhere<E> = Where<E> | Where<E>[] | null;

/**
 * A filter on a to-many (or many-to-many) relation: `$some` (at least one related row matches), `$none`
 * (no related row matches), `$every` (every related row matches: true when there is none). Keys together
 * are AND. Inside, conditions behave as a top-level `where` (`$ne` matches null...), nested relations included.
 */
export interface ToManyWhere<E> {
  $some?: Where<E> | Where<E>[];
  $none?: Where<E> | Where<E>[];
  $every?: Where<E> | Where<E>[];
}

/** The relation filters a {@link Where} accepts, by relation kind (README, "Relations"). */
export type RelationWhere<E> = ToOneWhere<E> | ToManyWhere<E>;

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
  /** Absent (or `"field"`): what tells a condition from a {@link RelationCondition}. */
  readonly kind?: "field";
  readonly column: ColumnSchema;
  readonly op: ConditionOp;
  readonly value?: unknown;
  readonly orNull?: boolean;
}

/** How a {@link RelationCondition} counts the related rows that match its `where`. */
export type RelationQuantifier = "some" | "none" | "every";

/**
 * A normalized relation filter: a test of the rows related to this one. The related rows of a row `r` are
 * the rows `t` of `target` with `t[targetColumn] = r[sourceColumn]` (none when `r[sourceColumn]` is null);
 * with `through` (many-to-many), those whose `targetColumn` equals the `through.targetColumn` of a row `j` of
 * the join table with `j[through.sourceColumn] = r[sourceColumn]`. `some`: at least one related row matches
 * `where`; `none`: none does; `every`: none fails it (true with no related row). `where` is normalized
 * against `target` (it may hold relation conditions itself) and is two-valued as a top-level where is: a
 * related row matches it or it does not, nulls included (`ne` matches null).
 *
 * A to-one filter `{ author: {...} }` is `some`; `{ author: null }` is `none` with the where `[[]]`.
 */
export interface RelationCondition {
  readonly kind: "relation";
  /** The relation's property on this entity (`"comments"`), for messages and keys. */
  readonly relation: string;
  readonly quantifier: RelationQuantifier;
  /** This table's pairing column: the owning side's foreign key, else the primary key. */
  readonly sourceColumn: ColumnSchema;
  /** The related table. */
  readonly target: EntitySchema;
  /** The target's pairing column: its primary key (owning to-one, many-to-many) or its foreign key (to-many). */
  readonly targetColumn: ColumnSchema;
  /** Many-to-many: the join table, its column holding this side's key and its column holding the target's. */
  readonly through?: {
    readonly schema: EntitySchema;
    readonly sourceColumn: ColumnSchema;
    readonly targetColumn: ColumnSchema;
  };
  /** The test of each related row, normalized against `target`. */
  readonly where: NormalizedWhere;
}

/** One term of an AND-group: a condition on a field of the row, or on its related rows. */
export type WhereTerm = Condition | RelationCondition;

/** True for a relation filter. */
export function isRelationCondition(term: WhereTerm): term is RelationCondition {
  return term.kind === "relation";
}

/** OR of AND-groups. `[[]]` matches every row; `[]` matches none. */
export type NormalizedWhere = readonly (readonly WhereTerm[])[];

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
