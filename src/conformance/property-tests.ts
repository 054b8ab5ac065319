/**
 * Model-based property test: random sequences of saves (of whole and of partial entities), updates,
 * deletes and queries, applied to the backend and to a plain reference model written independently of
 * the engine, must give equal answers.
 */
import assert from "node:assert/strict";
import { NotFoundError } from "../errors.js";
import type { Storage } from "../storage.js";
import { ConfValue } from "./conformance-entities.js";

type Field = "s" | "i" | "n" | "b" | "d";
type Op = "eq" | "ne" | "gt" | "gte" | "lt" | "lte" | "in" | "nin" | "like" | "ilike" | "null" | "notNull";
type Cond = { field: Field; op: Op; value: unknown };
type ModelRow = { id: string; s: string | null; i: number | null; n: number | null; b: boolean | null; d: number | null };

const IDS = ["a", "b", "c", "d", "e", "f", "g", "h"];
// Line terminators, CR/LF, astral and the last BMP characters too: every one must store, compare and sort alike.
const STRINGS = ["", "a", "A", "ab", "aB", "b", "B", "a_", "%", "é", "\u{1F600}", "\uFF21", "a\u2028", "\u2029", "a\r\nb", "\u0085", "\uFFFF"];
const INTS = [-5, -1, 0, 1, 2, 7, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER];
const NUMS = [-2.5, -0.1, 0, -0, 0.1, 1e3, 5e-324, -1.7976931348623157e308, 0.30000000000000004];
const DATES = [0, 1_000, 86_400_000, 1_700_000_000_123];
const PATTERNS = ["%", "a%", "A%", "%b", "_", "__", "a_", "%\u{1F600}%", "", "é", "a%b", "%\u2028", "_\u2029", "\r%"];

function cmpCodePoints(a: string, b: string): number {
  const x = [...a].map((c) => c.codePointAt(0)!);
  const y = [...b].map((c) => c.codePointAt(0)!);
  for (let k = 0; k < Math.min(x.length, y.length); k++) if (x[k] !== y[k]) return x[k]! - y[k]!;
  return x.length - y.length;
}

function cmp(a: unknown, b: unknown): number {
  if (typeof a === "string") return cmpCodePoints(a, b as string);
  if (typeof a === "boolean") return Number(a) - Number(b);
  return (a as number) - (b as number);
}

/** `$like` as a regular expression; `$ilike` folds both sides with {@link lowerAscii} first. */
function likeToRegExp(pattern: string): RegExp {
  let src = "";
  for (const ch of pattern) src += ch === "%" ? ".*" : ch === "_" ? "." : ch.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^${src}$`, "su");
}
const lowerAscii = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

function modelMatch(row: ModelRow, c: Cond): boolean {
  const v = row[c.field];
  switch (c.op) {
    case "null":
      return v === null;
    case "notNull":
      return v !== null;
    case "eq":
      return v !== null && cmp(v, c.value) === 0;
    case "ne":
      return v === null || cmp(v, c.value) !== 0;
    case "gt":
      return v !== null && cmp(v, c.value) > 0;
    case "gte":
      return v !== null && cmp(v, c.value) >= 0;
    case "lt":
      return v !== null && cmp(v, c.value) < 0;
    case "lte":
      return v !== null && cmp(v, c.value) <= 0;
    case "in":
      return v !== null && (c.value as unknown[]).some((x) => cmp(v, x) === 0);
    case "nin":
      return v === null || !(c.value as unknown[]).some((x) => cmp(v, x) === 0);
    case "like":
      return typeof v === "string" && likeToRegExp(c.value as string).test(v);
    case "ilike":
      return typeof v === "string" && likeToRegExp(lowerAscii(c.value as string)).test(lowerAscii(v));
  }
}

function toWhere(c: Cond): Record<string, unknown> {
  const value = c.field === "d" && c.value !== undefined ? (Array.isArray(c.value) ? c.value.map((t) => new Date(t as number)) : new Date(c.value as number)) : c.value;
  if (c.op === "null") return { [c.field]: null };
  if (c.op === "notNull") return { [c.field]: { $isNull: false } };
  if (c.op === "eq") return { [c.field]: value };
  return { [c.field]: { [`$${c.op}`]: value } };
}

/** Every backend stores -0 as 0 (README, Entities). */
function unsignedZeros(row: ModelRow): ModelRow {
  return { ...row, i: row.i === 0 ? 0 : row.i, n: row.n === 0 ? 0 : row.n };
}

function toModel(v: ConfValue): ModelRow {
  return { id: v.id, s: v.s, i: v.i, n: v.n, b: v.b, d: v.d ? v.d.getTime() : null };
}

/**
 * The model's answer to a where (OR of AND-groups) and an ordering: nulls first ascending and last
 * descending, strings by code point, the id as the last tie-breaker (ascending unless ordered).
 */
function modelFind(model: Map<string, ModelRow>, groups: readonly (readonly Cond[])[], orderBy: Record<string, "asc" | "desc">): ModelRow[] {
  return [...model.values()]
    .filter((row) => groups.some((g) => g.every((cond) => modelMatch(row, cond))))
    .sort((x, y) => {
      for (const [f, dir] of Object.entries(orderBy) as Array<[Field | "id", "asc" | "desc"]>) {
        const a = x[f];
        const b = y[f];
        if (a === null && b === null) continue;
        const sign = dir === "asc" ? 1 : -1;
        if (a === null) return -sign;
        if (b === null) return sign;
        const r = cmp(a, b);
        if (r !== 0) return r * sign;
      }
      return cmpCodePoints(x.id, y.id);
    });
}

/** The where groups the model applies for `where` (two conditions on one field in a group: the later wins, as in the object). */
function modelGroups(conds: readonly (readonly Cond[])[], where: readonly Record<string, unknown>[]): Cond[][] {
  return where.map((w, g) => Object.keys(w).map((k) => conds[g]!.filter((cond) => cond.field === k).at(-1)!));
}

export function registerPropertyTests(test: (name: string, fn: () => Promise<void>, timeout?: number) => void, storage: () => Storage, runs: number): void {
  test(`${runs} random runs agree with the reference model`, async () => {
    const fc = await import("fast-check");
    const values: Record<Field, unknown[]> = { s: STRINGS, i: INTS, n: NUMS, b: [true, false], d: DATES };
    const field = fc.constantFrom<Field>("s", "i", "n", "b", "d");
    const nullable = <V>(arb: import("fast-check").Arbitrary<V>) => fc.option(arb, { nil: null, freq: 4 });
    const rowArb = fc.record({
      s: nullable(fc.constantFrom(...STRINGS)),
      i: nullable(fc.constantFrom(...INTS)),
      n: nullable(fc.constantFrom(...NUMS)),
      b: nullable(fc.boolean()),
      d: nullable(fc.constantFrom(...DATES)),
    });
    // A partial entity: each field absent, undefined, null or a value. On an existing row, absent and
    // undefined keep the stored value; on a new one, they are null (every ConfValue field is nullable).
    const partialArb = fc.record(
      {
        s: fc.option(nullable(fc.constantFrom(...STRINGS)), { nil: undefined }),
        i: fc.option(nullable(fc.constantFrom(...INTS)), { nil: undefined }),
        n: fc.option(nullable(fc.constantFrom(...NUMS)), { nil: undefined }),
        b: fc.option(nullable(fc.boolean()), { nil: undefined }),
        d: fc.option(nullable(fc.constantFrom(...DATES)), { nil: undefined }),
      },
      { requiredKeys: [] },
    );
    const condArb: import("fast-check").Arbitrary<Cond> = field.chain((f) => {
      const val = fc.constantFrom(...values[f]);
      const ops: import("fast-check").Arbitrary<Cond>[] = [
        fc.constantFrom<Op>("eq", "ne", "gt", "gte", "lt", "lte").chain((op) => val.map((value) => ({ field: f, op, value }))),
        fc.constantFrom<Op>("in", "nin").chain((op) => fc.array(val, { maxLength: 3 }).map((value) => ({ field: f, op, value }))),
        fc.constantFrom<Op>("null", "notNull").map((op) => ({ field: f, op, value: undefined })),
      ];
      if (f === "s") ops.push(fc.constantFrom<Op>("like", "ilike").chain((op) => fc.constantFrom(...PATTERNS).map((value) => ({ field: f, op, value }))));
      return fc.oneof(...ops);
    });
    const command = fc.oneof(
      { weight: 4, arbitrary: fc.record({ kind: fc.constant("save" as const), id: fc.constantFrom(...IDS), row: rowArb }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant("partialSave" as const), id: fc.constantFrom(...IDS), row: partialArb }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant("update" as const), id: fc.constantFrom(...IDS), field, row: rowArb }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant("delete" as const), id: fc.constantFrom(...IDS) }) },
      {
        weight: 3,
        arbitrary: fc.record({
          kind: fc.constant("query" as const),
          where: fc.array(fc.array(condArb, { minLength: 0, maxLength: 2 }), { minLength: 1, maxLength: 2 }),
          order: fc.array(fc.record({ field, dir: fc.constantFrom<"asc" | "desc">("asc", "desc") }), { maxLength: 2 }),
          limit: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }),
          offset: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }),
        }),
      },
      {
        // A keyset walk: iterate (limit, offset, pageSize) and findPage (first), both against the model's order.
        weight: 2,
        arbitrary: fc.record({
          kind: fc.constant("walk" as const),
          where: fc.array(fc.array(condArb, { minLength: 0, maxLength: 2 }), { minLength: 1, maxLength: 2 }),
          order: fc.array(fc.record({ field: fc.constantFrom<Field | "id">("s", "i", "n", "b", "d", "id"), dir: fc.constantFrom<"asc" | "desc">("asc", "desc") }), { maxLength: 3 }),
          limit: fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }),
          offset: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }),
          pageSize: fc.integer({ min: 1, max: 4 }),
          first: fc.integer({ min: 1, max: 4 }),
        }),
      },
    );

    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 15 }), async (commands) => {
        const repo = storage().repository(ConfValue);
        await repo.deleteMany({});
        const model = new Map<string, ModelRow>();
        for (const c of commands) {
          if (c.kind === "save") {
            const d = c.row.d === null ? null : new Date(c.row.d);
            await repo.save(Object.assign(new ConfValue(), { id: c.id, ...c.row, d, j: null }));
            model.set(c.id, unsignedZeros({ id: c.id, ...c.row }));
          } else if (c.kind === "partialSave") {
            const entity: Record<string, unknown> = { id: c.id };
            const kept = model.get(c.id) ?? { id: c.id, s: null, i: null, n: null, b: null, d: null };
            const expected: ModelRow = { ...kept };
            for (const [f, v] of Object.entries(c.row) as Array<[Field, unknown]>) {
              entity[f] = f === "d" && typeof v === "number" ? new Date(v) : v;
              if (v !== undefined) (expected as Record<string, unknown>)[f] = v;
            }
            const saved = await repo.save(entity);
            model.set(c.id, unsignedZeros(expected));
            assert.deepEqual(toModel(saved), model.get(c.id), `partial save ${JSON.stringify(c.row)}`);
            assert.deepEqual(toModel((await repo.findById(c.id))!), model.get(c.id));
          } else if (c.kind === "update") {
            const patch = { [c.field]: c.field === "d" && c.row.d !== null ? new Date(c.row.d) : c.row[c.field] };
            const exists = model.has(c.id);
            try {
              const updated = await repo.update(c.id, patch);
              assert.ok(exists, `update of missing ${c.id} succeeded`);
              model.set(c.id, unsignedZeros({ ...model.get(c.id)!, [c.field]: c.row[c.field] }));
              assert.deepEqual(toModel(updated), model.get(c.id));
            } catch (error) {
              if (!(error instanceof NotFoundError) || exists) throw error;
            }
          } else if (c.kind === "delete") {
            assert.equal(await repo.delete(c.id), model.delete(c.id));
          } else if (c.kind === "walk") {
            const where = c.where.map((group) => Object.assign({}, ...group.map(toWhere)) as Record<string, unknown>);
            const orderBy: Record<string, "asc" | "desc"> = {};
            for (const o of c.order) if (!(o.field in orderBy)) orderBy[o.field] = o.dir;
            const expected = modelFind(model, modelGroups(c.where, where), orderBy);
            const offset = c.offset ?? 0;
            const query = { where, orderBy, ...(c.limit !== undefined ? { limit: c.limit } : {}), ...(c.offset !== undefined ? { offset: c.offset } : {}) };
            const iterated: ModelRow[] = [];
            for await (const v of repo.iterate(query as never, { pageSize: c.pageSize })) iterated.push(toModel(v));
            const page = expected.slice(offset, c.limit === undefined ? undefined : offset + c.limit);
            assert.deepEqual(iterated, page, `iterate ${JSON.stringify(query)} pageSize ${c.pageSize}`);
            const walked: ModelRow[] = [];
            let after: string | null = null;
            do {
              const result: { items: ConfValue[]; nextCursor: string | null } = await repo.findPage({ where, orderBy, first: c.first, after } as never);
              walked.push(...result.items.map(toModel));
              after = result.nextCursor;
            } while (after !== null && walked.length <= expected.length);
            assert.deepEqual(walked, expected, `findPage ${JSON.stringify({ where, orderBy })} first ${c.first}`);
          } else {
            const where = c.where.map((group) => Object.assign({}, ...group.map(toWhere)) as Record<string, unknown>);
            const orderBy: Record<string, "asc" | "desc"> = {};
            for (const o of c.order) if (!(o.field in orderBy)) orderBy[o.field] = o.dir;
            const query = { where, orderBy, ...(c.limit !== undefined ? { limit: c.limit } : {}), ...(c.offset !== undefined ? { offset: c.offset } : {}) };
            const groups = modelGroups(c.where, where);
            const expected = modelFind(model, groups, orderBy);
            const page = expected.slice(c.offset ?? 0, c.limit === undefined ? undefined : (c.offset ?? 0) + c.limit);
            const actual = await repo.findAll(query as never);
            assert.deepEqual(actual.map(toModel), page, `query ${JSON.stringify(query)}`);
            assert.equal(await repo.count(where as never), expected.length, `count ${JSON.stringify(where)}`);
          }
        }
      }),
      { numRuns: runs },
    );
  }, 120_000);
}
