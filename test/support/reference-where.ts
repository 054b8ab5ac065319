/**
 * A plain evaluator of normalized conditions that shares no code with the engine's compiler
 * (src/engine/compile-query.ts) or its matchers: the reference its model and property tests compare with.
 * Written for clarity, not speed: strings compared as arrays of code points, `$like` by dynamic programming.
 */
import { isRelationCondition } from "../../src/query/query.js";
import type { Condition, NormalizedWhere } from "../../src/query/query.js";
import type { LogicalType, Row } from "../../src/schema/entity-schema.js";

const codePoints = (text: string): number[] => Array.from(text, (ch) => ch.codePointAt(0)!);

/** Compares two non-null values of one type, as the contract orders them. */
function compare(type: LogicalType, a: unknown, b: unknown): number {
  if (type === "string") {
    const x = codePoints(a as string);
    const y = codePoints(b as string);
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
    return Math.sign(x.length - y.length);
  }
  if (type === "datetime") return Math.sign((a as Date).getTime() - (b as Date).getTime());
  if (type === "boolean") return Number(a) - Number(b);
  return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
}

/** Folds ASCII letters only, as `$ilike` does on every backend. */
const fold = (c: number): number => (c >= 65 && c <= 90 ? c + 32 : c);

/** Whether `text` matches a like pattern (`%` any run, `_` one code point), by dynamic programming. */
export function referenceLike(pattern: string, text: string, ignoreAsciiCase: boolean): boolean {
  const p = codePoints(pattern);
  const t = codePoints(text);
  const same = (a: number, b: number) => (ignoreAsciiCase ? fold(a) === fold(b) : a === b);
  // matches[j]: the pattern so far matches the first j code points of the text.
  let matches = t.map(() => false).concat(false);
  matches[0] = true;
  for (const c of p) {
    const next = matches.map(() => false);
    for (let j = 0; j <= t.length; j++) {
      if (c === 37) next[j] = matches[j]! || (j > 0 && next[j - 1]!);
      else if (j > 0) next[j] = matches[j - 1]! && (c === 95 || same(c, t[j - 1]!));
    }
    matches = next;
  }
  return matches[t.length]!;
}

function holds(condition: Condition, row: Row): boolean {
  const raw = row[condition.column.property];
  const x = raw === undefined ? null : raw;
  const type = condition.column.type;
  const v = condition.value;
  const cmp = () => compare(type, x, v);
  switch (condition.op) {
    case "isNull":
      return x === null;
    case "notNull":
      return x !== null;
    case "eq":
      return x !== null && cmp() === 0;
    case "ne":
      return x === null || cmp() !== 0;
    case "gt":
      return x !== null && cmp() > 0;
    case "gte":
      return x !== null && cmp() >= 0;
    case "lt":
      return x !== null && cmp() < 0;
    case "lte":
      return x !== null && cmp() <= 0;
    case "in":
      return x === null ? condition.orNull === true : (v as unknown[]).some((w) => compare(type, x, w) === 0);
    case "nin":
      return x === null ? condition.orNull !== true : !(v as unknown[]).some((w) => compare(type, x, w) === 0);
    case "like":
    case "ilike":
      return typeof x === "string" && referenceLike(v as string, x, condition.op === "ilike");
  }
}

/** The reference predicate of an OR of AND-groups of field conditions (relation conditions have their own tests). */
export function referenceWhere(where: NormalizedWhere): (row: Row) => boolean {
  return (row) =>
    where.some((group) =>
      group.every((c) => {
        if (isRelationCondition(c)) throw new Error("referenceWhere: relation conditions are not modelled here");
        return holds(c, row);
      }),
    );
}
