/** Keyset positions (`NormalizedQuery.after`) as row predicates, compiled once per query. */
import type { OrderTerm } from "../query/query.js";
import type { Row } from "../schema/entity-schema.js";
import type { RowPredicate } from "./compile-query.js";
import { compileOrder } from "./compile-query.js";

/**
 * A predicate true for the rows strictly after the position `after` (one value per term of `orderBy`) in
 * that ordering: the position is placed as if it were a row holding those values, so a null sorts first
 * ascending and last descending, exactly as {@link compileOrder} places rows. Terms after the primary key
 * decide nothing (it settles every tie), as in the SQL form: a later value changed on the position's own
 * row must not bring that row back.
 */
export function compileAfter(orderBy: readonly OrderTerm[], after: readonly unknown[]): RowPredicate {
  const key = orderBy.findIndex((t) => t.column.primary);
  const deciding = key < 0 ? orderBy : orderBy.slice(0, key + 1);
  const order = compileOrder(deciding);
  const position: Row = {};
  deciding.forEach((term, i) => {
    const v = after[i];
    position[term.column.property] = v === undefined ? null : v;
  });
  return (row) => order(row, position) > 0;
}
