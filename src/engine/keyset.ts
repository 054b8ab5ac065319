/**
 * The keyset position of a query (`NormalizedQuery.after`) as a row predicate: a row passes when it sorts
 * strictly after the position under the query's ordering (nulls smallest: first ascending, last
 * descending; strings by code point; the primary key settles every tie).
 *
 * This is the plain filter that lets memory and file answer `after` correctly now: it tests every
 * matching row once, O(n) per page, where an ordered index would seek. It is kept apart from the engine's
 * find path, behind this one signature, so that an index-backed seek can replace it without touching
 * callers.
 */
import type { OrderTerm } from "../query/query.js";
import { comparatorFor } from "./compare-values.js";
import type { RowPredicate } from "./compile-query.js";

/** Rows strictly after the position `after` (one value per `orderBy` term) in the order `orderBy`. */
export function compileAfter(orderBy: readonly OrderTerm[], after: readonly unknown[]): RowPredicate {
  // Decided once per query: property, direction, comparator and the position's value of each term. Terms
  // after the primary key decide nothing (it settles every tie), as in the SQL form: a later value changed
  // on the position's own row must not bring that row back.
  const deciding = orderBy.findIndex((t) => t.column.primary);
  const terms = (deciding < 0 ? orderBy : orderBy.slice(0, deciding + 1)).map((t, i) => {
    const value = after[i];
    return { p: t.column.property, sign: t.direction === "asc" ? 1 : -1, compare: comparatorFor(t.column.type), value, valueNull: value === null || value === undefined };
  });
  return (row) => {
    for (const { p, sign, compare, value, valueNull } of terms) {
      const x = row[p];
      const xNull = x === null || x === undefined;
      let c: number;
      if (xNull || valueNull) {
        if (xNull && valueNull) continue;
        // null is the smallest value: a null row sorts before a non-null position ascending, after it descending.
        c = xNull ? -sign : sign;
      } else {
        c = compare(x, value) * sign;
      }
      if (c !== 0) return c > 0;
    }
    return false; // equal on every term: the position's own row, not after it
  };
}
