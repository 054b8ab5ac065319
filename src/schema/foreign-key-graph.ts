/** Which foreign keys point at a table: the one map the engine, the SQL error explainer and the cache walk. */
import type { EntitySchema, ForeignKeySchema } from "./entity-schema.js";

/** A foreign key with the schema of the (child) table that holds it. */
export interface ReferencingKey {
  readonly child: EntitySchema;
  readonly fk: ForeignKeySchema;
}

/** Referenced table -> the foreign keys of `schemas` that reference it (a self-reference included). */
export function referencingKeys(schemas: Iterable<EntitySchema>): Map<string, ReferencingKey[]> {
  const referencing = new Map<string, ReferencingKey[]>();
  for (const child of schemas) {
    for (const fk of child.foreignKeys) {
      let list = referencing.get(fk.referencedTable);
      if (!list) referencing.set(fk.referencedTable, (list = []));
      list.push({ child, fk });
    }
  }
  return referencing;
}
