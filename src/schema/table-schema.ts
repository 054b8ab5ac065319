/**
 * Tables seen without an entity: migrations, introspection and `strata copy` address tables by name,
 * and this module turns a {@link TableDescription} into the neutral {@link EntitySchema} that the data
 * SPI takes (each property named after its column), and back.
 */
import type { TableColumn, TableDescription, TableForeignKey, TableIndex } from "../spi/index.js";
import { SchemaError } from "../errors.js";
import type { ColumnSchema, EntitySchema, ForeignKeySchema, IndexSchema } from "./entity-schema.js";
import { buildEntitySchema, impliedUniqueIndexName } from "./entity-schema.js";
import { heldForeignKey } from "./foreign-key-graph.js";

/**
 * The `target` of every schema built from a table description: a table whose schema has this target is
 * not bound to any entity class (it was created or last altered by a migration).
 */
export function MigrationTable(): void {}

/** Column and table names a migration may use: letters, digits and underscores, not starting with a digit. */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** Throws a {@link SchemaError} unless `name` is a plain identifier (never spliced unchecked into DDL). */
export function checkIdentifier(name: unknown, what: string, table?: string): string {
  if (typeof name !== "string" || !IDENTIFIER.test(name)) {
    throw new SchemaError(
      `${what} ${JSON.stringify(name)}${table ? ` (table "${table}")` : ""} is not a valid name: use letters, digits and underscores, starting with a letter or underscore, at most 63 characters`,
      table === undefined ? {} : { table },
    );
  }
  return name;
}

/** The neutral schema of a table known only by its description. */
export function schemaOfTable(table: TableDescription): EntitySchema {
  const primaries = table.columns.filter((c) => c.primary);
  if (primaries.length !== 1) {
    throw new SchemaError(`Table "${table.name}" needs exactly one primary column, got ${primaries.length}`, { table: table.name });
  }
  const columns: ColumnSchema[] = table.columns.map((c) => ({
    property: c.name,
    name: c.name,
    type: c.type,
    nullable: c.nullable,
    ...(c.default !== undefined ? { default: c.default } : {}),
    unique: c.unique,
    primary: c.primary,
    ...(c.generated ? { generated: c.generated } : {}),
  }));
  const indexes: IndexSchema[] = table.indexes.map((i) => ({ name: i.name, properties: [...i.columns], unique: i.unique }));
  for (const c of table.columns) {
    if (c.unique && !c.primary && !indexes.some((i) => i.unique && i.properties.length === 1 && i.properties[0] === c.name)) {
      indexes.push({ name: impliedUniqueIndexName(table.name, [c.name]), properties: [c.name], unique: true });
    }
  }
  const foreignKeys: ForeignKeySchema[] = (table.foreignKeys ?? []).map((f) => heldForeignKey(f));
  // Properties are named after their columns here, so the table's full-text index reads as it is.
  const fullText = table.fullText ? { fullText: { name: table.fullText.name, properties: [...table.fullText.properties] } } : {};
  return buildEntitySchema({ entityName: table.name, table: table.name, target: MigrationTable, columns, indexes, foreignKeys, ...fullText });
}

/** The description of a table as an entity (or a table schema) declares it, by column names. */
export function describeSchema(schema: EntitySchema): TableDescription {
  const nameOf = (property: string): string => schema.columnsByProperty.get(property)?.name ?? property;
  const columns: TableColumn[] = schema.columns.map((c) => ({
    name: c.name,
    type: c.type,
    nullable: c.nullable,
    ...(c.default !== undefined ? { default: c.default } : {}),
    primary: c.primary,
    unique: c.unique,
    ...(c.generated ? { generated: c.generated } : {}),
  }));
  const indexes: TableIndex[] = schema.indexes.map((i) => ({ name: i.name, columns: i.properties.map(nameOf), unique: i.unique }));
  const foreignKeys: TableForeignKey[] = schema.foreignKeys.map((f) => ({
    name: f.name,
    column: nameOf(f.property),
    referencedTable: f.referencedTable,
    referencedColumn: f.referencedColumn,
    onDelete: f.onDelete,
  }));
  const fullText = schema.fullText ? { fullText: { name: schema.fullText.name, properties: schema.fullText.properties.map(nameOf) } } : {};
  return { name: schema.table, columns, indexes, ...(foreignKeys.length > 0 ? { foreignKeys } : {}), ...fullText };
}
