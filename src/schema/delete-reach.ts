/**
 * Which tables a delete reaches through foreign keys: the cache must forget their rows too once the delete
 * commits, since the backend changed them without a repository write to announce it.
 */
import type { ForeignKeyHolder } from "./foreign-key-graph.js";
import { referencingKeys } from "./foreign-key-graph.js";

/**
 * The tables whose rows, besides the ones deleted, a delete from `table` may change: those with a `CASCADE` foreign
 * key to it (their rows are deleted, and the delete goes on from them, level after level) or a `SET NULL`
 * one (their foreign keys are emptied; nothing goes on from them). `RESTRICT` refuses the delete, changing
 * nothing. `table` itself is among them when it references itself, directly or through a cycle. `schemas`: every
 * table of the storage with its foreign keys, join tables and those only its backend holds included.
 */
export function tablesReachedByDelete(table: string, schemas: Iterable<ForeignKeyHolder>): string[] {
  const referencing = referencingKeys(schemas);
  const reached = new Set<string>();
  const deletedFrom = new Set<string>([table]);
  const pending = [table];
  while (pending.length > 0) {
    for (const { child, fk } of referencing.get(pending.pop()!) ?? []) {
      if (fk.onDelete === "RESTRICT") continue;
      reached.add(child.table);
      if (fk.onDelete === "CASCADE" && !deletedFrom.has(child.table)) {
        deletedFrom.add(child.table);
        pending.push(child.table);
      }
    }
  }
  return [...reached];
}
