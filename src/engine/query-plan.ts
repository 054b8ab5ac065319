/**
 * The engine's planner: for one AND-group, picks the ordered index that narrows it most (equality on a
 * prefix of its columns first, then a range on the next column, then whether it serves the query's order)
 * and turns the group's conditions on it into ranges of that index. Conditions the ranges do not decide
 * are left to the compiled predicate (`residual`).
 *
 * A range is a pair of monotone tests over the index order (see {@link Before}): `lo` is true before the
 * range's first entry, `hi` before the entry after its last. They hold for every index whatever its types,
 * so a `$like` prefix (a code-point prefix range: strings with one UTF-16 prefix are contiguous in code-point
 * order) and an `$ilike` prefix (one prefix range per ASCII case variant) are ranges like any other.
 */
import type { Condition, OrderTerm, WhereTerm } from "../query/query.js";
import { isRelationCondition } from "../query/query.js";
import type { Row } from "../schema/entity-schema.js";
import type { RelatedRows, RowPredicate } from "./compile-query.js";
import { compileWhere } from "./compile-query.js";
import { comparatorFor, compareStrings } from "./compare-values.js";
import type { Before, OrderedIndex, ValueOrder } from "./ordered-index.js";

/** One range of an index: entries `e` with `!lo(e) && hi(e)`. */
export interface IndexRange {
  readonly lo: Before;
  readonly hi: Before;
}

/** How an index walk yields the query's order. */
export interface OrderService {
  /** Walk the index backwards (the order's index columns are descending). */
  readonly reverse: boolean;
  /**
   * Compares rows on the index columns the order uses (those after the equality prefix): rows it finds
   * equal come out of the walk as one run, sorted by the query's full order before they are used.
   * Undefined when the walk is already in the query's full order.
   */
  readonly sameRun: ((a: Row, b: Row) => number) | undefined;
  /**
   * A run comes out of the walk in exactly the reverse of the query's order: the index serves every order
   * term and holds no column past them, so a run's entries are in primary-key order, and the query's
   * tie-breaker runs the other way (`population desc, id asc` walked backwards over `population, id`).
   * Reversing such a run gives what sorting it would, with no comparison.
   */
  readonly runsReversed: boolean;
  /**
   * Set when the index holds no column past the served terms and the order's next term is the primary key:
   * inside a run the index is in key order, so a keyset position is one place in the index, and a seek
   * can start right after it instead of at its run. The key's property and order.
   */
  readonly key: { readonly property: string; readonly compare: (a: unknown, b: unknown) => number } | undefined;
  /** The order terms, after the equality-bound ones, that the index serves (a keyset seek uses them). */
  readonly terms: readonly OrderTerm[];
  /** Order terms dropped because the equality prefix fixes them: their column and the fixed value. */
  readonly fixed: ReadonlyMap<string, unknown>;
}

export interface IndexPlan {
  readonly index: OrderedIndex;
  /** Disjoint ranges, in index order. */
  readonly ranges: readonly IndexRange[];
  /** The group's conditions the ranges do not decide; undefined when they decide all. */
  readonly residual: RowPredicate | undefined;
  /** Set when walking the ranges yields the order (see {@link OrderService}). */
  readonly order: OrderService | undefined;
  /** Compares a row's equality-prefix columns with the prefix's values (0: the row is in it). */
  readonly inPrefix: (row: Row) => number;
}

/** An `$ilike` prefix with more ASCII letters than this is cut before the next one (2^5 = 32 ranges at most). */
const MAX_FOLDED_LETTERS = 5;

const isRangeOp = (op: string) => op === "gt" || op === "gte" || op === "lt" || op === "lte";

/** The literal start of a like pattern (up to the first wildcard), and whether the pattern is that start then `%`. */
function literalPrefix(pattern: string): { prefix: string; exact: boolean } {
  let i = 0;
  while (i < pattern.length && pattern[i] !== "%" && pattern[i] !== "_") i++;
  return { prefix: pattern.slice(0, i), exact: i === pattern.length - 1 && pattern[i] === "%" };
}

/**
 * The ASCII-case variants of a prefix, cut to at most {@link MAX_FOLDED_LETTERS} letters, in code-point order;
 * `whole`: nothing was cut (the variants' prefix ranges then hold exactly the strings the prefix matches).
 */
function caseVariants(prefix: string): { variants: string[]; whole: boolean } {
  let variants = [""];
  let letters = 0;
  let whole = true;
  for (const ch of prefix) {
    const lower = ch >= "A" && ch <= "Z" ? String.fromCharCode(ch.charCodeAt(0) + 32) : ch;
    if (lower >= "a" && lower <= "z") {
      if (++letters > MAX_FOLDED_LETTERS) {
        whole = false;
        break;
      }
      const upper = String.fromCharCode(lower.charCodeAt(0) - 32);
      variants = variants.flatMap((v) => [v + upper, v + lower]);
    } else variants = variants.map((v) => v + ch);
  }
  return { variants: variants[0] === "" ? [] : variants.sort(compareStrings), whole };
}

/** What one index offers a group: its score and how to build the plan. */
interface Candidate {
  readonly score: number;
  readonly build: () => IndexPlan;
}

/**
 * The best index plan for `group` ordered by `orderBy`, or undefined when no index narrows the group or
 * serves its order. `wantsOrder`: the query keeps only a page (a walk in order can stop early).
 * Relation conditions never narrow an index: they stay in the residual, compiled with `related`.
 */
export function planGroup(
  indexes: readonly OrderedIndex[],
  group: readonly WhereTerm[],
  orderBy: readonly OrderTerm[],
  wantsOrder: boolean,
  related?: RelatedRows,
): IndexPlan | undefined {
  const fields = group.filter((term): term is Condition => !isRelationCondition(term));
  let best: Candidate | undefined;
  for (const index of indexes) {
    const candidate = consider(index, fields, group, orderBy, wantsOrder, related);
    if (candidate && (!best || candidate.score > best.score)) best = candidate;
  }
  return best?.build();
}

function consider(
  index: OrderedIndex,
  group: readonly Condition[],
  whole: readonly WhereTerm[],
  orderBy: readonly OrderTerm[],
  wantsOrder: boolean,
  related: RelatedRows | undefined,
): Candidate | undefined {
  const columns = index.columns;
  // The equality prefix.
  const eqValues: unknown[] = [];
  const used = new Set<Condition>();
  for (const column of columns) {
    const eq = group.find((c) => c.op === "eq" && c.column.property === column.property && c.column.type !== "json");
    if (!eq) break;
    eqValues.push(eq.value);
    used.add(eq);
  }
  const e = eqValues.length;
  // The next column: `$in` points, a range, or a like prefix.
  const next = columns[e];
  let points: unknown[] | undefined;
  let bounds: { lower?: Condition; upper?: Condition } | undefined;
  let prefixes: string[] | undefined;
  if (next && next.type !== "json") {
    const on = group.filter((c) => c.column.property === next.property);
    const inCondition = on.find((c) => c.op === "in" && !c.orNull);
    if (inCondition) {
      const order = index.orders[e]!;
      // Sorted and without repeats (two Dates of one instant would be one point): the ranges must be disjoint.
      points = (inCondition.value as unknown[]).slice().sort(order).filter((v, i, all) => i === 0 || order(all[i - 1], v) !== 0);
      used.add(inCondition);
    } else if (on.some((c) => isRangeOp(c.op))) {
      bounds = {};
      const order = index.orders[e]!;
      for (const c of on) {
        if (c.op === "gt" || c.op === "gte") {
          const l = bounds.lower;
          const cmp = l ? order(c.value, l.value) : 1;
          if (!l || cmp > 0 || (cmp === 0 && c.op === "gt")) bounds.lower = c;
        } else if (c.op === "lt" || c.op === "lte") {
          const u = bounds.upper;
          const cmp = u ? order(c.value, u.value) : -1;
          if (!u || cmp < 0 || (cmp === 0 && c.op === "lt")) bounds.upper = c;
        } else continue;
        used.add(c);
      }
    } else if (next.type === "string") {
      const like = on.find((c) => c.op === "like" && literalPrefix(c.value as string).prefix !== "");
      const ilike = on.find((c) => c.op === "ilike" && caseVariants(literalPrefix(c.value as string).prefix).variants.length > 0);
      if (like) {
        const { prefix, exact } = literalPrefix(like.value as string);
        prefixes = [prefix];
        if (exact) used.add(like);
      } else if (ilike) {
        const { prefix, exact } = literalPrefix(ilike.value as string);
        const { variants, whole } = caseVariants(prefix);
        prefixes = variants;
        // `prefix%` with every letter folded: the ranges hold exactly its matches, no row is tested again.
        if (exact && whole) used.add(ilike);
      }
    }
  }
  const ranged = points !== undefined || bounds !== undefined || prefixes !== undefined;
  const order = orderService(index, e, eqValues, orderBy);
  if (e === 0 && !ranged && !(order && wantsOrder)) return undefined;
  // Equality on a prefix first, then a range on the next column, then the order.
  const score = e * 4 + (ranged ? 2 : 0) + (order ? 1 : 0);
  return {
    score,
    build: () => {
      const prefixBefore = eqPrefixOrder(index, eqValues);
      const ranges: IndexRange[] = [];
      const nextOrder = index.orders[e];
      const p = next?.property;
      // A bound's test of the next column's value, for rows in the equality prefix: a row before the
      // prefix is before every bound, one after it before none.
      const within =
        (test: (value: unknown) => boolean): Before =>
        (row) => {
          const c = prefixBefore(row);
          return c !== 0 ? c < 0 : test(row[p!]);
        };
      if (points) {
        for (const point of points) {
          ranges.push({ lo: within((v) => nextOrder!(v, point) < 0), hi: within((v) => nextOrder!(v, point) <= 0) });
        }
      } else if (bounds) {
        const { lower, upper } = bounds;
        const isNull = (v: unknown) => v === null || v === undefined;
        ranges.push({
          lo: within((v) => {
            // Range conditions never match null, and nulls come first.
            if (isNull(v)) return true;
            if (!lower) return false;
            const d = nextOrder!(v, lower.value);
            return lower.op === "gt" ? d <= 0 : d < 0;
          }),
          hi: within((v) => {
            if (isNull(v) || !upper) return true;
            const d = nextOrder!(v, upper.value);
            return upper.op === "lt" ? d < 0 : d <= 0;
          }),
        });
      } else if (prefixes) {
        for (const prefix of prefixes) {
          ranges.push({
            lo: within((v) => typeof v !== "string" || compareStrings(v, prefix) < 0),
            hi: within((v) => typeof v !== "string" || compareStrings(v, prefix) < 0 || v.startsWith(prefix)),
          });
        }
      } else {
        ranges.push({ lo: (row) => prefixBefore(row) < 0, hi: (row) => prefixBefore(row) <= 0 });
      }
      const rest = whole.filter((c) => !used.has(c as Condition));
      return { index, ranges, residual: rest.length === 0 ? undefined : compileWhere([rest], related), order, inPrefix: prefixBefore };
    },
  };
}

/** Compares a row's first `values.length` index columns with `values` (0: the row is in the prefix). */
function eqPrefixOrder(index: OrderedIndex, values: readonly unknown[]): (row: Row) => number {
  return compareWithValues(
    index.columns.slice(0, values.length).map((c) => c.property),
    index.orders.slice(0, values.length),
    values,
  );
}

/** Compares a row's `props` (each by its order in `orders`) with `values`, term by term (0: equal on all). */
export function compareWithValues(props: readonly string[], orders: readonly ValueOrder[], values: readonly unknown[]): (row: Row) => number {
  if (props.length === 0) return () => 0;
  return (row) => {
    for (let i = 0; i < props.length; i++) {
      const c = orders[i]!(row[props[i]!], values[i]);
      if (c !== 0) return c;
    }
    return 0;
  };
}

/**
 * Whether walking `index` (its first `e` columns fixed by equality) yields `orderBy`: the order's terms, once
 * the fixed ones are dropped, must start with the next index columns, all in one direction. Rows the index
 * cannot order among themselves (equal on those columns) are sorted run by run.
 */
function orderService(index: OrderedIndex, e: number, eqValues: readonly unknown[], orderBy: readonly OrderTerm[]): OrderService | undefined {
  const fixed = new Map<string, unknown>();
  index.columns.slice(0, e).forEach((c, i) => fixed.set(c.property, eqValues[i]));
  const terms: OrderTerm[] = [];
  let pkTerm: OrderTerm | undefined;
  for (const term of orderBy) {
    if (term.column.primary) {
      pkTerm = term;
      break;
    }
    if (!fixed.has(term.column.property)) terms.push(term);
  }
  let served = 0;
  while (served < terms.length && e + served < index.columns.length && terms[served]!.column.property === index.columns[e + served]!.property) {
    if (terms[served]!.direction !== terms[0]!.direction) break;
    served++;
  }
  if (served === 0) return undefined;
  const direction = terms[0]!.direction;
  const byKey = served === terms.length && e + served === index.columns.length;
  const exact = byKey && (pkTerm?.direction ?? "asc") === direction;
  const props = index.columns.slice(e, e + served).map((c) => c.property);
  const orders = index.orders.slice(e, e + served);
  const sameRun = exact
    ? undefined
    : (a: Row, b: Row) => {
        for (let i = 0; i < props.length; i++) {
          const c = orders[i]!(a[props[i]!], b[props[i]!]);
          if (c !== 0) return c;
        }
        return 0;
      };
  const key = byKey && pkTerm ? { property: pkTerm.column.property, compare: comparatorFor(pkTerm.column.type) } : undefined;
  return { reverse: direction === "desc", sameRun, runsReversed: key !== undefined && pkTerm!.direction !== direction, key, terms: terms.slice(0, served), fixed };
}
