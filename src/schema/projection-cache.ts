/**
 * What is decided once per projection (a `select` column list): a row copier, a SQL column list and its
 * decoder. Keyed by the columns' properties, names and types, so that a list a migration retyped never gets
 * the work decided for its old shape.
 */
import type { ColumnSchema } from "./entity-schema.js";

/**
 * At most this many projections per owner. Code writes a handful of select lists; a program that builds
 * them from input could write any number, and must not grow memory without bound.
 */
export const MAX_PROJECTIONS = 64;

/** A small bounded map from a column list to what was built for it; the oldest entry leaves first. */
export class ProjectionCache<V> {
  private readonly entries = new Map<string, V>();

  constructor(private readonly max = MAX_PROJECTIONS) {}

  /** The value built for `columns`, building it with `build` on first use. */
  get(columns: readonly ColumnSchema[], build: (columns: readonly ColumnSchema[]) => V): V {
    let key = "";
    for (const c of columns) key += `${c.property}\u0001${c.name}\u0001${c.type}\u0000`;
    let value = this.entries.get(key);
    if (value === undefined) {
      if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!);
      value = build(columns);
      this.entries.set(key, value);
    }
    return value;
  }

  /** How many projections are held (for tests). */
  get size(): number {
    return this.entries.size;
  }
}
