/** The backend-neutral description of an entity, read once from its TypeORM decorators. */
import { SchemaError } from "../errors.js";

/** The logical column types, identical on every backend. */
export const LOGICAL_TYPES = ["string", "integer", "number", "boolean", "datetime", "json"] as const;
export type LogicalType = (typeof LOGICAL_TYPES)[number];

/** True for one of the {@link LOGICAL_TYPES}. */
export function isLogicalType(type: unknown): type is LogicalType {
  return (LOGICAL_TYPES as readonly unknown[]).includes(type);
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
}

/** What an {@link EntitySchema} is made of; {@link buildEntitySchema} derives the rest. */
export interface EntitySchemaParts {
  readonly entityName: string;
  readonly table: string;
  readonly target: Function;
  readonly columns: readonly ColumnSchema[];
  readonly indexes: readonly IndexSchema[];
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
  };
}

/** A stored row: property name to logical value (`Date`, boolean, number, string, JSON value or null). */
export type Row = Record<string, unknown>;
