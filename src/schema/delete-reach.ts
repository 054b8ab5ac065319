/**
 * Which tables a delete reaches through foreign keys: the cache must forget their rows too once the delete
 * commits, since the backend changed them without a repository write to announce it.
 */
import type { EntitySchema } from "./entity-schema.js";

/**
 * The tables whose rows, besides the ones deleted, a delete from `table` may change: those with a `CASCADE` foreign
 * key to it (their rows are deleted, and the delete goes on from them, level after level) or a `SET NULL`
 * one (their foreign keys are emptied; nothing goes on from them). `RESTRICT` refuses the delete, changing
 * nothing. `table` itself is among them when it references itself, directly or through a cycle. `schemas`: every
 * table of the storage, join tables included.
 */
export function tablesReachedByDelete(table: string, schemas: Iterable<EntitySchema>): string[] {
  const referencing = new Map<string, Array<{ table: string; cascade: boolean }>>();
  for (const schema of schemas) {
    for (const fk of schema.foreignKeys) {
      if (fk.onDelete === "RESTRICT") continue;
      const list = referencing.get(fk.referencedTable) ?? [];
      list.push({ table: schema.table, cascade: fk.onDelete === "CASCADE" });
      referencing.set(fk.referencedTable, list);
    }
  }
  const reached = new Set<string>();
  const deletedFrom = new Set<string>([table]);
  const pending = [table];
  while (pending.length > 0) {
    for (const child of referencing.get(pending.pop()!) ?? []) {
      reached.add(child.table);
      if (child.cascade && !deletedFrom.has(child.table)) {
        deletedFrom.add(child.table);
        pending.push(child.table);
      }
    }
  }
  return [...reached];
}
