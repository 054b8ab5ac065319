/**
 * The `SchemaError`s of a schema change that names a table, column or index that is missing, or one that
 * already exists: one wording, used by the migration context (which checks before every change, for every
 * backend) and by the engine's schema editor (which refuses a change that would corrupt or silently replace
 * one of its tables, as a SQL database does, when called through the SPI without the context in front).
 */
import { SchemaError } from "../errors.js";

/** Creating (or renaming onto) a table that exists. */
export function tableExistsError(table: string): SchemaError {
  return new SchemaError(`Table "${table}" already exists`, { table });
}

/** A change to a table that does not exist. */
export function tableMissingError(table: string): SchemaError {
  return new SchemaError(`Table "${table}" does not exist`, { table });
}

/** Renaming table `from` onto the existing table `to`. */
export function renameTableExistsError(from: string, to: string): SchemaError {
  return new SchemaError(`Cannot rename table "${from}": table "${to}" already exists`, { table: to });
}

/** A column of `table` that does not exist. */
export function columnMissingError(table: string, column: string): SchemaError {
  return new SchemaError(`Table "${table}" has no column "${column}"`, { table, field: column });
}

/** Adding a column that `table` already has. */
export function columnExistsError(table: string, column: string): SchemaError {
  return new SchemaError(`Table "${table}" already has a column "${column}"`, { table, field: column });
}

/** Adding a primary column: a table's key is set when it is created. */
export function primaryColumnAddedError(table: string, column: string): SchemaError {
  return new SchemaError(`Cannot add primary column "${column}" to table "${table}": a table's primary key is set when it is created`, { table, field: column });
}

/** Dropping the primary column. */
export function primaryColumnDroppedError(table: string, column: string): SchemaError {
  return new SchemaError(`Cannot drop the primary column "${column}" of table "${table}"`, { table, field: column });
}

/** Renaming column `from` of `table` onto its existing column `to`. */
export function renameColumnExistsError(table: string, from: string, to: string): SchemaError {
  return new SchemaError(`Cannot rename column "${from}" of table "${table}": column "${to}" already exists`, { table, field: to });
}

/** Dropping an index that `table` does not have. */
export function indexMissingError(table: string, index: string): SchemaError {
  return new SchemaError(`Table "${table}" has no index "${index}"`, { table });
}
