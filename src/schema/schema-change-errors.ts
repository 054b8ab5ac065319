/**
 * The `SchemaError`s of a schema change that names a table, column or index that is missing, or one that
 * already exists: one wording, used by the migration context (which checks before every change, for every
 * backend) and by the engine's schema editor (which refuses a change that would corrupt or silently replace
 * one of its tables, as a SQL database does, when called through the SPI without the context in front).
 * Foreign keys have theirs too, and the IntegrityError of one added over rows that break it.
 */
import { IntegrityError, SchemaError } from "../errors.js";

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

/** A foreign key that `table` does not have. */
export function foreignKeyMissingError(table: string, name: string): SchemaError {
  return new SchemaError(`Table "${table}" has no foreign key "${name}"`, { table });
}

/** Adding a foreign key whose name `table` already uses. */
export function foreignKeyExistsError(table: string, name: string): SchemaError {
  return new SchemaError(`Table "${table}" already has a foreign key "${name}"`, { table });
}

/**
 * Adding a foreign key to a table holding a row whose value names no row of the referenced table: nothing
 * is changed. The same words on every backend.
 */
export function foreignKeyViolatedError(table: string, fk: { name: string; column: string; referencedTable: string; referencedColumn: string }, value: unknown): IntegrityError {
  return new IntegrityError(
    `Cannot add foreign key "${fk.name}" to table "${table}": a row has ${fk.column} ${JSON.stringify(value)}, which no ${fk.referencedTable} row has as ${fk.referencedColumn}; fix or delete such rows first`,
    { table, field: fk.column },
  );
}

/** Dropping (or dropping the key of) a table that another table's foreign key references. */
export function referencedTableError(table: string, child: string, name: string): SchemaError {
  return new SchemaError(`Cannot drop table "${table}": foreign key "${name}" of table "${child}" references it; drop that foreign key first (m.dropForeignKey)`, { table });
}
