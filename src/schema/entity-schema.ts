/** The backend-neutral description of an entity, read once from its TypeORM decorators. */
import { SchemaError } from "../errors.js";

/** The logical column types, identical on every backend. */
export const LOGICAL_TYPES = ["string", "integer", "number", "boolean", "datetime", "json"] as const;
export type LogicalType = (typeof LOGICAL_TYPES)[number];

/** True for one of the {@link LOGICAL_TYPES}. */
export function isLogicalType(type: unknown): type is LogicalType {
  return (LOGICAL_TYPES as readonly unknown[]).includes(type);
}

/** The name of a foreign key declared by a relation: the same on every backend. */
export function foreignKeyName(table: string, column: string): string {
  return `fk_${table}_${column}`;
}

/** The name of the index Strata adds under a foreign key no declared index starts with. */
export function foreignKeyIndexName(table: string, column: string): string {
  return `idx_${table}_${column}`;
}

/**
 * The name of a table's full-text index when none is given: `fts_<table>`, the same on every backend. It may
 * pass PostgreSQL's 63 bytes (a table name of 60 bytes or more): the PostgreSQL backend then fits the names
 * of the objects it makes for it (postgres-full-text.ts) and keeps this name in the index's declaration.
 */
export function defaultFullTextIndexName(table: string): string {
  return `fts_${table}`;
}

/**
 * The name of the unique index a `unique` column (or an unnamed `@Unique`) implies: the same on every
 * backend, so migrations and introspection agree on it.
 */
export function impliedUniqueIndexName(table: string, columns: readonly string[]): string {
  return `uq_${table}_${columns.join("_")}`;
}

/**
 * The end of the name of the companion index an SQL backend makes beside a single-column index on a string
 * column (`<index>__folded`, sql-table-statements.ts), which introspection hides and dropping the index drops.
 */
export const FOLDED_INDEX_SUFFIX = "__folded";

/**
 * Refuses an index name that ends as a folded companion's does: on SQLite and PostgreSQL such an index would
 * take the place of another index's companion, be hidden from introspection beside it and be dropped with
 * it. Refused on every backend, so that an entity or a migration is valid on one exactly when on another.
 */
export function checkIndexNameFree(name: string, table: string): string {
  if (name.endsWith(FOLDED_INDEX_SUFFIX)) {
    throw new SchemaError(
      `Index name "${name}" (table "${table}") ends with "${FOLDED_INDEX_SUFFIX}", which Strata keeps for the companion index of another index: give it another name`,
      { table },
    );
  }
  return name;
}

/**
 * Column names starting with this are Strata's own (PostgreSQL's full-text index keeps its documents in such
 * columns, and a search names its statistics and score with it): never an entity's, refused by the schema
 * reader, and left out by introspection.
 */
export const RESERVED_COLUMN_PREFIX = "__strata_";

/** What a column is for, beyond holding a value. */
export type ColumnRole = "version" | "createDate" | "updateDate";

export interface ColumnSchema {
  /** The entity property. Queries, entities and errors use this name. */
  readonly property: string;
  /** The column name in the database (TypeORM's `name` option, else the property). */
  readonly name: string;
  readonly type: LogicalType;
  readonly nullable: boolean;
  /** A literal default applied when a new entity leaves the field `undefined`. */
  readonly default?: unknown;
  readonly unique: boolean;
  readonly primary: boolean;
  readonly generated?: "uuid" | "increment";
  readonly role?: ColumnRole;
}

export interface IndexSchema {
  readonly name: string;
  /** Property names, in index order. */
  readonly properties: readonly string[];
  readonly unique: boolean;
}

/**
 * What deleting a referenced row does to the rows that point at it, the same on every backend:
 * `RESTRICT` refuses the delete (an `IntegrityError` naming the relation), `CASCADE` deletes them too (and
 * theirs, level after level), `SET NULL` empties their foreign key.
 */
export type OnDelete = "RESTRICT" | "CASCADE" | "SET NULL";

/**
 * A foreign key of a table: one column holding the primary key of a row of `referencedTable`, or null.
 * What every backend enforces, by column *property* like the rest of the schema.
 */
export interface ForeignKeySchema {
  /** The constraint's name, the same on every backend: `fk_<table>_<column>` unless a migration named it. */
  readonly name: string;
  /** The referencing column's property on this table. */
  readonly property: string;
  /** The referenced table; the referenced column is its primary key. */
  readonly referencedTable: string;
  /** The referenced table's primary key column (its name in the database), for DDL. */
  readonly referencedColumn: string;
  readonly onDelete: OnDelete;
  /** The relation it was declared by, for messages (`"Post.author"`); absent for a migration's foreign key. */
  readonly relation?: string;
}

/** The four relation decorators. */
export type RelationKind = "many-to-one" | "one-to-one" | "one-to-many" | "many-to-many";

/**
 * A relation of an entity, as `include` and relation filters use it. Rows pair by value: a row of the
 * target belongs to a row of this entity when `target[targetProperty] === this[sourceProperty]`; through
 * `joinTable` for many-to-many (`this[sourceProperty] === join[joinTable.sourceProperty]` and
 * `join[joinTable.targetProperty] === target[targetProperty]`).
 */
export interface RelationSchema {
  readonly property: string;
  readonly kind: RelationKind;
  /** One-to-many and many-to-many: loaded as an array (empty when no row pairs). To-one: an object or null. */
  readonly toMany: boolean;
  /** The related entity class; its schema is `readEntitySchema(target)`. */
  readonly target: Function;
  /** The owning to-one side: its foreign key column's property. Otherwise this entity's primary key. */
  readonly sourceProperty: string;
  /** The owning to-one side and many-to-many: the target's primary key. Otherwise the foreign key on the target. */
  readonly targetProperty: string;
  /** Many-to-many: the join table, and which of its columns holds this side's key and the target's. */
  readonly joinTable?: {
    readonly schema: EntitySchema;
    readonly sourceProperty: string;
    readonly targetProperty: string;
  };
}

export interface EntitySchema {
  /** The entity class name, for messages. */
  readonly entityName: string;
  /** The table name. */
  readonly table: string;
  /** The entity class; rows come back as instances of it. */
  readonly target: Function;
  readonly columns: readonly ColumnSchema[];
  readonly columnsByProperty: ReadonlyMap<string, ColumnSchema>;
  readonly primary: ColumnSchema;
  readonly version?: ColumnSchema;
  readonly createDate?: ColumnSchema;
  readonly updateDate?: ColumnSchema;
  /** Declared indexes, including one per `unique: true` column. */
  readonly indexes: readonly IndexSchema[];
  /** True when some column is json: copies of rows must then be deep. */
  readonly hasJson: boolean;
  /** The table's foreign keys (declared by relations, or by a migration), each backed by an index. */
  readonly foreignKeys: readonly ForeignKeySchema[];
  /** The entity's relations (empty for a table known only by its description). */
  readonly relations: readonly RelationSchema[];
  readonly relationsByProperty: ReadonlyMap<string, RelationSchema>;
  /** The entity's full-text index, when it declares one (`@Index({ fulltext: true })`). */
  readonly fullText?: FullTextSchema;
}

/**
 * An entity's full-text index: the string columns that together form one searchable document per row, in
 * this order (every `@Index({ fulltext: true })` of the entity adds its columns to the one index). Search
 * tokens, positions and BM25 document lengths run over the columns in this order, as over FTS5's columns.
 */
export interface FullTextSchema {
  /** `fts_<table>` unless the first fulltext `@Index` names it. */
  readonly name: string;
  /** Entity properties of string columns, at least one, none twice. */
  readonly properties: readonly string[];
}

/**
 * Whether two full-text indexes are the same index (the same name and properties, in order), or both absent.
 * A generated migration compares columns only, as for other indexes (diff-schema.ts): a rename is no change there.
 */
export function sameFullTextIndex(a: FullTextSchema | undefined, b: FullTextSchema | undefined): boolean {
  if (!a || !b) return a === b;
  return a.name === b.name && a.properties.length === b.properties.length && a.properties.every((p, i) => p === b.properties[i]);
}

/** What an {@link EntitySchema} is made of; {@link buildEntitySchema} derives the rest. */
export interface EntitySchemaParts {
  readonly entityName: string;
  readonly table: string;
  readonly target: Function;
  readonly columns: readonly ColumnSchema[];
  readonly indexes: readonly IndexSchema[];
  /** @default [] */
  readonly foreignKeys?: readonly ForeignKeySchema[];
  /** @default [] */
  readonly relations?: readonly RelationSchema[];
  readonly fullText?: FullTextSchema;
}

/**
 * The one way to make an {@link EntitySchema}, whether from an entity's decorators, a table description, the
 * file backend's catalog or a table reshaped by a migration: the lookups (`columnsByProperty`, `primary`, the
 * columns of each role, `hasJson`) are derived from the columns, so they can never disagree with them.
 * The caller checks what its source allows (one primary column, one column per role); here the first wins.
 */
export function buildEntitySchema(parts: EntitySchemaParts): EntitySchema {
  const { columns } = parts;
  const primary = columns.find((c) => c.primary);
  if (!primary) throw new SchemaError(`Table "${parts.table}" has no primary column`, { table: parts.table });
  const version = columns.find((c) => c.role === "version");
  const createDate = columns.find((c) => c.role === "createDate");
  const updateDate = columns.find((c) => c.role === "updateDate");
  return {
    entityName: parts.entityName,
    table: parts.table,
    target: parts.target,
    columns,
    columnsByProperty: new Map(columns.map((c) => [c.property, c])),
    primary,
    ...(version ? { version } : {}),
    ...(createDate ? { createDate } : {}),
    ...(updateDate ? { updateDate } : {}),
    indexes: parts.indexes,
    hasJson: columns.some((c) => c.type === "json"),
    foreignKeys: parts.foreignKeys ?? [],
    relations: parts.relations ?? [],
    relationsByProperty: new Map((parts.relations ?? []).map((r) => [r.property, r])),
    ...(parts.fullText ? { fullText: parts.fullText } : {}),
  };
}

/** A stored row: property name to logical value (`Date`, boolean, number, string, JSON value or null). */
export type Row = Record<string, unknown>;
