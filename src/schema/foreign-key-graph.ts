/**
 * Which foreign keys point at a table: the one map the engine, the SQL error explainer and the cache walk; and
 * the foreign keys a backend holds (`Backend.readForeignKeys`) merged into those the entities declare.
 */
import type { TableForeignKey } from "../spi/index.js";
import type { EntitySchema, ForeignKeySchema } from "./entity-schema.js";

/** A table with its foreign keys: an {@link EntitySchema}, or a table known only by the keys its backend holds. */
export interface ForeignKeyHolder {
  readonly table: string;
  readonly foreignKeys: readonly ForeignKeySchema[];
}

/** A foreign key with the schema of the (child) table that holds it. */
export interface ReferencingKey<T extends ForeignKeyHolder = EntitySchema> {
  readonly child: T;
  readonly fk: ForeignKeySchema;
}

/** Referenced table -> the foreign keys of `schemas` that reference it (a self-reference included). */
export function referencingKeys<T extends ForeignKeyHolder>(schemas: Iterable<T>): Map<string, ReferencingKey<T>[]> {
  const referencing = new Map<string, ReferencingKey<T>[]>();
  for (const child of schemas) {
    for (const fk of child.foreignKeys) {
      let list = referencing.get(fk.referencedTable);
      if (!list) referencing.set(fk.referencedTable, (list = []));
      list.push({ child, fk });
    }
  }
  return referencing;
}

/**
 * A foreign key as the backend holds it, in the terms of `schema` (the table's entity, when one declares the
 * table): its column as that entity's property, else the column's own name. No relation declared it, so
 * messages name it `table.column`.
 */
export function heldForeignKey(fk: TableForeignKey, schema?: EntitySchema): ForeignKeySchema {
  const property = schema?.columns.find((c) => c.name === fk.column)?.property ?? fk.column;
  return { name: fk.name, property, referencedTable: fk.referencedTable, referencedColumn: fk.referencedColumn, onDelete: fk.onDelete };
}

/**
 * `declared` (the entities' and join tables' schemas), each with the foreign keys `held` lists for its table
 * that it does not declare itself (by constraint name), followed by `undeclared(table, keys)` for each table
 * of `held` no schema declares (left out when it gives undefined). A key both declare keeps the declared
 * form: its relation names it in messages.
 */
export function withHeldForeignKeys<T extends ForeignKeyHolder>(
  declared: readonly EntitySchema[],
  held: ReadonlyMap<string, readonly TableForeignKey[]>,
  undeclared: (table: string, keys: ForeignKeySchema[]) => T | undefined,
): Array<EntitySchema | T> {
  const out: Array<EntitySchema | T> = [];
  const tables = new Set<string>();
  for (const schema of declared) {
    tables.add(schema.table);
    const names = new Set(schema.foreignKeys.map((f) => f.name));
    const extra = (held.get(schema.table) ?? []).filter((f) => !names.has(f.name)).map((f) => heldForeignKey(f, schema));
    // A spread keeps every derived lookup: only the foreign keys differ, and no lookup derives from them.
    out.push(extra.length === 0 ? schema : { ...schema, foreignKeys: [...schema.foreignKeys, ...extra] });
  }
  for (const [table, keys] of held) {
    if (tables.has(table) || keys.length === 0) continue;
    const holder = undeclared(table, keys.map((f) => heldForeignKey(f)));
    if (holder) out.push(holder);
  }
  return out;
}
