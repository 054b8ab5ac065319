/**
 * `CREATE TABLE` and `CREATE INDEX` from a table description, written once for every dialect: the schema
 * editor's `createTable` (a migration) and autoCreate (the entity schemas, when the storage opens) both
 * use it. autoCreate only ever adds what is missing; it never drops or alters a column.
 */
import type { TableColumn, TableDescription, TableIndex } from "../../spi/index.js";
import { SchemaError } from "../../errors.js";
import type { EntitySchema } from "../../schema/entity-schema.js";
import { describeSchema } from "../../schema/table-schema.js";
import type { SqlDialect } from "./sql-dialect.js";
import { quoteIdentifier } from "./sql-dialect.js";

/**
 * How a table is created. A migration's table must not exist yet and gets its columns' defaults; autoCreate
 * uses `IF NOT EXISTS` and no defaults (the repository fills them, and a default DDL cannot spell must not
 * stop a storage from opening).
 */
export type CreateMode = "migration" | "autoCreate";

/** A column's definition in `CREATE TABLE` or `ADD COLUMN`. */
export function columnDefinition(dialect: SqlDialect, table: string, column: TableColumn, mode: CreateMode = "migration"): string {
  const name = quoteIdentifier(column.name);
  if (column.primary && column.generated === "increment") return `${name} ${dialect.incrementPrimaryKey}`;
  let text = `${name} ${dialect.columnTypes[column.type]}`;
  if (column.primary) text += " PRIMARY KEY";
  else if (!column.nullable) text += " NOT NULL";
  if (mode === "migration" && column.default !== undefined && column.default !== null) text += ` DEFAULT ${literal(dialect, table, column)}`;
  return text;
}

function literal(dialect: SqlDialect, table: string, column: TableColumn): string {
  try {
    return dialect.literal(column.type, column.default);
  } catch (error) {
    throw new SchemaError(`The default of column "${column.name}" of table "${table}" cannot be stored: ${(error as Error).message}`, { table, field: column.name, cause: error });
  }
}

/** `CREATE [UNIQUE] INDEX` of `index` on `table`. */
export function indexStatement(table: string, index: TableIndex, mode: CreateMode = "migration"): string {
  const columns = index.columns.map(quoteIdentifier).join(", ");
  return `CREATE ${index.unique ? "UNIQUE " : ""}INDEX ${mode === "autoCreate" ? "IF NOT EXISTS " : ""}${quoteIdentifier(index.name)} ON ${quoteIdentifier(table)} (${columns})`;
}

/** The statements that create `table` and its indexes, in order. */
export function createTableStatements(dialect: SqlDialect, table: TableDescription, mode: CreateMode): string[] {
  const columns = table.columns.map((c) => columnDefinition(dialect, table.name, c, mode));
  const out = [`CREATE TABLE ${mode === "autoCreate" ? "IF NOT EXISTS " : ""}${quoteIdentifier(table.name)} (${columns.join(", ")})`];
  for (const index of table.indexes) out.push(indexStatement(table.name, index, mode));
  return out;
}

/** autoCreate's statements for every entity, in order: each table, then its indexes. */
export function autoCreateStatements(dialect: SqlDialect, schemas: readonly EntitySchema[]): string[] {
  return schemas.flatMap((schema) => createTableStatements(dialect, describeSchema(schema), "autoCreate"));
}
