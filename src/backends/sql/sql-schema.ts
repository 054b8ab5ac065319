/**
 * DDL from the entity schema: `CREATE TABLE IF NOT EXISTS` and `CREATE [UNIQUE] INDEX IF NOT EXISTS`.
 * autoCreate only ever adds what is missing; it never drops or alters a column.
 */
import type { EntitySchema } from "../../schema/entity-schema.js";
import type { SqlDialect } from "./sql-dialect.js";
import { quoteIdentifier } from "./sql-dialect.js";

/** The statements that create an entity's table and indexes when missing, in order. */
export function createTableStatements(schema: EntitySchema, dialect: SqlDialect, incrementPrimaryKey: string): string[] {
  const columns = schema.columns.map((c) => {
    const name = quoteIdentifier(c.name);
    if (c.primary && c.generated === "increment") return `${name} ${incrementPrimaryKey}`;
    return `${name} ${dialect.columnType(c)}${c.primary ? " PRIMARY KEY" : c.nullable ? "" : " NOT NULL"}`;
  });
  const out = [`CREATE TABLE IF NOT EXISTS ${quoteIdentifier(schema.table)} (${columns.join(", ")})`];
  for (const index of schema.indexes) {
    const names = index.properties.map((p) => quoteIdentifier(schema.columnsByProperty.get(p)!.name)).join(", ");
    out.push(`CREATE ${index.unique ? "UNIQUE " : ""}INDEX IF NOT EXISTS ${quoteIdentifier(index.name)} ON ${quoteIdentifier(schema.table)} (${names})`);
  }
  return out;
}

/** Entity properties of the columns named `names` (database column names), for error messages. */
export function propertiesOf(schema: EntitySchema, names: readonly string[]): string[] {
  return names.map((n) => schema.columns.find((c) => c.name === n)?.property ?? n);
}
