/** Strata errors built from SQL driver errors, shared by every dialect's error mapper (`<name>-errors.ts`). */
import { IntegrityError, SchemaError, StorageError } from "../../errors.js";
import type { EntitySchema, ForeignKeySchema } from "../../schema/entity-schema.js";

/** A unique or primary-key violation on `schema`, naming the columns when the driver said which. */
export function uniqueViolation(schema: EntitySchema, properties: readonly string[], cause: unknown): IntegrityError {
  const what = properties.length > 0 ? properties.join(", ") : "a unique column";
  const isKey = properties.length === 1 && properties[0] === schema.primary.property;
  const message = isKey
    ? `${schema.entityName}: a row with this ${schema.primary.property} already exists in table "${schema.table}"`
    : `${schema.entityName}: ${what} must be unique; the value is already used in table "${schema.table}"`;
  return new IntegrityError(message, { table: schema.table, ...(properties[0] ? { field: properties[0] } : {}), cause });
}

/** The table of `schema` does not exist and autoCreate did not create it. */
export function missingTable(schema: EntitySchema, cause: unknown): SchemaError {
  return new SchemaError(
    `Table "${schema.table}" of ${schema.entityName} does not exist: run the migrations that create it, or set autoCreate: true`,
    { table: schema.table, cause },
  );
}

/**
 * The table of `schema` lacks a column the entity declares (the schema moved on, or a migration is
 * missing): a SchemaError naming both, whichever column the driver named.
 */
export function missingColumn(schema: EntitySchema, column: string | undefined, cause: unknown): SchemaError {
  const declared = column === undefined ? undefined : schema.columns.find((c) => c.name === column);
  const field = declared?.property ?? column;
  return new SchemaError(
    `Table "${schema.table}" has no column ${column === undefined ? "that" : `"${column}", which`} ${schema.entityName}${field ? `.${field}` : ""} declares: add it with a migration (m.addColumn)`,
    { table: schema.table, ...(field ? { field } : {}), cause },
  );
}

/**
 * A write whose foreign key value names no row of the referenced table (README, "Relations": the words are
 * the same on every backend). `table` is the writing (child) table, `fk` its foreign key.
 */
export function missingParent(table: string, fk: ForeignKeySchema, value: unknown, cause: unknown): IntegrityError {
  return new IntegrityError(`${fk.relation ?? `${table}.${fk.property}`}: no ${fk.referencedTable} row has ${fk.referencedColumn} ${JSON.stringify(value)}`, {
    table,
    field: fk.property,
    cause,
  });
}

/**
 * A delete (or a cascade it started) of the `fk.referencedTable` row with key `key`, which a row of `child`
 * still references through the RESTRICT foreign key `fk`: nothing was deleted.
 */
export function stillReferenced(fk: ForeignKeySchema, key: unknown, child: string, cause: unknown): IntegrityError {
  return new IntegrityError(
    `${fk.referencedTable} row ${JSON.stringify(key)} is still referenced by ${child} (${fk.relation ?? `${child}.${fk.property}`}, onDelete RESTRICT)`,
    { table: fk.referencedTable, cause },
  );
}

export { keyExhausted } from "../../schema/row-values.js";

/** Entity properties of the columns named `names` (database column names), for error messages. */
export function propertiesOf(schema: EntitySchema, names: readonly string[]): string[] {
  return names.map((n) => schema.columns.find((c) => c.name === n)?.property ?? n);
}

/** Any other driver failure, kept as `cause`. */
export function driverFailure(backend: string, schema: EntitySchema | undefined, error: unknown): StorageError {
  if (error instanceof StorageError) return error;
  const message = (error as Error)?.message ?? String(error);
  return new StorageError(`${backend}${schema ? ` (table "${schema.table}")` : ""}: ${message}`, { ...(schema ? { table: schema.table } : {}), cause: error });
}
