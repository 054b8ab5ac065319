/**
 * The tables a normalized query reads besides its own: the related and join tables of its relation filters,
 * nested ones included. A cached query is keyed by the write generation of each (src/cache/table-cache.ts),
 * so that a write to any table it read makes it unreachable, as a write to its own table does.
 */
import type { EntitySchema } from "../schema/entity-schema.js";
import type { NormalizedWhere } from "./query.js";
import { isRelationCondition } from "./query.js";

/** The other tables `where` reads (related tables, then join tables), each once, in the order first met. */
export function tablesRead(where: NormalizedWhere): EntitySchema[] {
  const found = new Map<string, EntitySchema>();
  const visit = (w: NormalizedWhere): void => {
    for (const group of w) {
      for (const term of group) {
        if (!isRelationCondition(term)) continue;
        if (term.through && !found.has(term.through.schema.table)) found.set(term.through.schema.table, term.through.schema);
        if (!found.has(term.target.table)) found.set(term.target.table, term.target);
        visit(term.where);
      }
    }
  };
  visit(where);
  return [...found.values()];
}

/** True when `where` holds a relation filter. */
export function hasRelationFilter(where: NormalizedWhere): boolean {
  return where.some((group) => group.some(isRelationCondition));
}
