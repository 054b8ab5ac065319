/**
 * Property-based round trip of adversarial values through every backend: strings over all of UTF-16
 * (lone surrogates, NUL, line terminators, astral characters), numbers (-0, subnormals, the largest
 * doubles, integers around 2^53, NaN and infinities) and json (nested, with keys such as __proto__,
 * constructor and ""), as string and integer keys, string, integer and number columns and json.
 *
 * Each value either round-trips exactly (Object.is for numbers, -0 read back as 0; own __proto__ keys
 * checked; returned objects ordinary) or is a ValidationError naming the field. Which of the two is decided
 * here, independently of Strata's own checks, and every backend runs the same values (one fixed seed), so the
 * same input behaves the same everywhere. File, SQLite and PostgreSQL then reopen and read every row back.
 */
import "reflect-metadata";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { Column, Entity, PrimaryColumn } from "typeorm";
import { afterAll, beforeAll, describe, test } from "vitest";
import { createStorage, ValidationError } from "../../src/index.js";
import type { Storage } from "../../src/index.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "../postgres/pg-test-database.js";

@Entity("fault_values")
class FaultValue {
  @PrimaryColumn({ type: "string" }) id: string;
  @Column({ type: "string", nullable: true }) s: string | null;
  @Column({ type: "integer", nullable: true }) i: number | null;
  @Column({ type: "number", nullable: true }) n: number | null;
  @Column({ type: "simple-json", nullable: true }) j: unknown;
}

@Entity("fault_int_keys")
class FaultIntKey {
  @PrimaryColumn({ type: "integer" }) id: number;
  @Column({ type: "string" }) label: string;
}

const ENTITIES = [FaultValue, FaultIntKey];
/** Fixed, so that every backend gets the same values; printed by fast-check on failure and in each test name. */
const SEED = Number(process.env["STRATA_FAULT_SEED"] ?? 20_261_129);
const RUNS = 120;

// --- The oracle: what every backend must do with a value, written without Strata's code.

/** A string some backend cannot store exactly: a lone UTF-16 surrogate (for..of yields it alone), or NUL. */
function badString(text: string): boolean {
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp === 0 || (cp >= 0xd800 && cp <= 0xdfff)) return true;
  }
  return false;
}

/** The documented depth limit of json values (arrays and objects nested in each other). */
const MAX_JSON_DEPTH = 1000;

function badJson(value: unknown, depth = 0): boolean {
  if (typeof value === "string") return badString(value);
  if (typeof value === "number") return !Number.isFinite(value);
  if (value === null || typeof value !== "object") return false;
  if (depth === MAX_JSON_DEPTH) return true;
  if (Array.isArray(value)) return value.some((v) => badJson(v, depth + 1));
  return Object.keys(value).some((k) => badString(k) || badJson((value as Record<string, unknown>)[k], depth + 1));
}

/** `depth` arrays and objects around a leaf, alternating. */
function nested(depth: number, leaf: unknown): unknown {
  let v = leaf;
  for (let k = 0; k < depth; k++) v = k % 2 ? [v] : { [k % 4 ? "__proto__" : "k"]: v };
  return v;
}

/** Values as a backend must hand them back: -0 as 0, every object an ordinary one holding the same own keys. */
function expectedJson(value: unknown): unknown {
  if (typeof value === "number") return value === 0 ? 0 : value;
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(expectedJson);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value)) {
    Object.defineProperty(out, k, { value: expectedJson((value as Record<string, unknown>)[k]), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** Deep equality that sees own __proto__ keys, tells -0 from 0 and requires ordinary returned objects. */
function assertSameJson(actual: unknown, expected: unknown, at: string): void {
  if (expected === null || typeof expected !== "object") {
    const show = (v: unknown) => (Object.is(v, -0) ? "-0" : typeof v === "string" ? JSON.stringify(v) : String(v));
    assert.ok(Object.is(actual, expected), `${at}: expected ${show(expected)}, got ${show(actual)}`);
    return;
  }
  assert.ok(actual !== null && typeof actual === "object", `${at}: expected an object or array`);
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${at}: expected an array`);
    assert.equal(actual.length, expected.length, `${at}: length`);
    expected.forEach((v, k) => assertSameJson(actual[k], v, `${at}[${k}]`));
    return;
  }
  assert.equal(Object.getPrototypeOf(actual), Object.prototype, `${at}: a returned object is an ordinary object`);
  // jsonb orders keys its own way: compare them as sets.
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), `${at}: keys`);
  for (const k of Object.keys(expected)) {
    assertSameJson(Object.getOwnPropertyDescriptor(actual, k)!.value, Object.getOwnPropertyDescriptor(expected, k)!.value, `${at}.${JSON.stringify(k)}`);
  }
}

// --- The values.

const SPECIAL_CHARS = ["\u0000", "\u2028", "\u2029", "\u0085", "\r", "\n", "\r\n", "\u000b", "\u000c", "\ud800", "\udfff", "\udbff\udfff", "\u{1f600}", "\ufffd", "\ufeff", "\uffff", "\\", '"', "é", "e\u0301"];
const utf16Unit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const str = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: "binary", maxLength: 10 }) },
  { weight: 2, arbitrary: fc.string({ unit: utf16Unit, maxLength: 6 }) },
  { weight: 2, arbitrary: fc.string({ unit: fc.constantFrom(...SPECIAL_CHARS), maxLength: 4 }) },
  { weight: 1, arbitrary: fc.constantFrom("", "a", "__proto__", "constructor") },
);
const MAX = Number.MAX_SAFE_INTEGER;
const integer = fc.oneof(
  fc.integer(),
  fc.maxSafeInteger(),
  fc.constantFrom(MAX, MAX - 1, -MAX, 2 ** 53, -(2 ** 53), 2 ** 63, -0, 0, 1.5, Number.NaN),
);
const number = fc.oneof(
  { weight: 3, arbitrary: fc.double() },
  {
    weight: 1,
    arbitrary: fc.constantFrom(-0, 5e-324, -5e-324, 2.2250738585072014e-308, 2.225073858507201e-308, 1.7976931348623157e308, 0.1, 1 / 3, 2 ** 53 + 2, 123456789.12345679, 1e21, 1e-7, 4.35, 0.30000000000000004),
  },
);
const jsonKey = fc.oneof(str, fc.constantFrom("__proto__", "constructor", "prototype", "", "toString", "hasOwnProperty", "length", "0", "a.b", "\u{1f600}"));
const json = fc.letrec((tie) => ({
  value: fc.oneof(
    { maxDepth: 4, depthIdentifier: "json" },
    str,
    number,
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("value"), { maxLength: 3, depthIdentifier: "json" }),
    fc.dictionary(jsonKey, tie("value"), { maxKeys: 3, depthIdentifier: "json" }),
  ),
})).value;
// Around the depth limit: 1,000 levels round-trip everywhere, 1,001 are a ValidationError.
const deepJson = fc.tuple(fc.integer({ min: MAX_JSON_DEPTH - 2, max: MAX_JSON_DEPTH + 2 }), json).map(([depth, leaf]) => nested(depth, leaf));
const nullable = <V>(arb: fc.Arbitrary<V>) => fc.option(arb, { nil: null, freq: 5 });
const valueCase = fc.record({
  kind: fc.constant("row" as const),
  id: str,
  s: nullable(str),
  i: nullable(integer),
  n: nullable(number),
  j: nullable(fc.oneof({ weight: 12, arbitrary: json }, { weight: 1, arbitrary: deepJson })),
});
const intKeyCase = fc.record({ kind: fc.constant("intKey" as const), id: integer, label: str });
type Case = (typeof valueCase extends fc.Arbitrary<infer V> ? V : never) | (typeof intKeyCase extends fc.Arbitrary<infer V> ? V : never);
const cases = fc.array(fc.oneof({ weight: 3, arbitrary: valueCase }, { weight: 1, arbitrary: intKeyCase }), { minLength: 1, maxLength: 5 });

/** The fields a ValidationError may name (any one of them: the order of checks is not part of the contract); empty for a valid row. */
function invalidFields(c: Case): string[] {
  if (c.kind === "intKey") return [...(Number.isSafeInteger(c.id) ? [] : ["id"]), ...(badString(c.label) ? ["label"] : [])];
  const out: string[] = [];
  if (badString(c.id)) out.push("id");
  if (c.s !== null && badString(c.s)) out.push("s");
  if (c.i !== null && !Number.isSafeInteger(c.i)) out.push("i");
  if (c.n !== null && !Number.isFinite(c.n)) out.push("n");
  if (c.j !== null && badJson(c.j)) out.push("j");
  return out;
}

// --- The backends.

interface Target {
  readonly name: string;
  /** Opens the storage; `again` reopens the same data. */
  open(again: boolean): Promise<Storage>;
  readonly reopens: boolean;
  cleanup?(): Promise<void>;
}

const dirs: string[] = [];
const tempDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "strata-fault-values-"));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

const targets: Target[] = [
  { name: "memory", reopens: false, open: () => createStorage({ url: "memory:", entities: ENTITIES }) },
  (() => {
    let dir: string | undefined;
    // fsync off: this suite reopens in-process; the crash tests are elsewhere.
    return { name: "file", reopens: true, open: () => createStorage({ url: `file:${(dir ??= tempDir())}`, entities: ENTITIES, autoCreate: true, file: { fsync: "never" } }) };
  })(),
  (() => {
    let dir: string | undefined;
    return { name: "sqlite", reopens: true, open: () => createStorage({ url: `sqlite:${path.join((dir ??= tempDir()), "values.db")}`, entities: ENTITIES, autoCreate: true }) };
  })(),
];
const pgSkip = pgSkipReason();
let pgDb: PgTestDatabase | undefined;
if (!pgSkip) {
  let url: string | undefined;
  targets.push({
    name: "postgres",
    reopens: true,
    open: async () => {
      pgDb ??= await PgTestDatabase.create(PG_URL!);
      url ??= await pgDb.freshSchemaUrl();
      return createStorage({ url, entities: ENTITIES, autoCreate: true });
    },
    cleanup: async () => {
      await pgDb?.drop();
      pgDb = undefined;
    },
  });
} else {
  describe("postgres: value round trip", () => test.skip(pgSkip, () => {}));
}

type Expected = Map<unknown, Record<string, unknown>>;

async function rejects(promise: Promise<unknown>, fields: readonly string[], what: string): Promise<void> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ValidationError, `${what}: expected a ValidationError, got ${(error as Error)?.constructor?.name}: ${(error as Error)?.message}`);
    assert.ok(fields.includes(error.field!), `${what}: the error names ${error.field}, expected one of ${fields.join(", ")}`);
    return;
  }
  assert.fail(`${what}: expected a ValidationError naming ${fields.join(" or ")}, but the call succeeded`);
}

for (const target of targets) {
  describe(`${target.name}: value round trip`, () => {
    let storage: Storage;
    const rows: Expected = new Map();
    const intKeys: Expected = new Map();
    const tried = { values: 0, rejected: 0 };

    beforeAll(async () => {
      storage = await target.open(false);
    });
    afterAll(async () => {
      await storage?.close();
      await target.cleanup?.();
      console.log(`${target.name}: value round trip tried ${tried.values} values (${tried.rejected} ValidationErrors), seed ${SEED}`);
    });

    test(`${RUNS} runs of random values round-trip exactly or are ValidationErrors naming the field (seed ${SEED})`, async () => {
      const values = storage.repository(FaultValue);
      const keyed = storage.repository(FaultIntKey);
      await fc.assert(
        fc.asyncProperty(cases, async (batch) => {
          for (const c of batch) {
            tried.values += c.kind === "row" ? 5 : 2;
            const fields = invalidFields(c);
            const what = `${c.kind} ${JSON.stringify(c)}`;
            if (c.kind === "row") {
              const before = badString(c.id) ? undefined : rows.get(c.id);
              if (fields.length > 0) {
                tried.rejected++;
                await rejects(values.save(Object.assign(new FaultValue(), c, { kind: undefined })), fields, what);
                // Nothing stored is changed by a rejected value; a key no backend can store is never looked up.
                if (fields.includes("id")) await rejects(values.findById(c.id), ["id"], `findById of ${what}`);
                else assertRow(await values.findById(c.id), before, what);
                continue;
              }
              const expected = { id: c.id, s: c.s, i: c.i === null ? null : c.i + 0, n: c.n === null ? null : c.n + 0, j: expectedJson(c.j) };
              assertRow(await values.save(Object.assign(new FaultValue(), c, { kind: undefined })), expected, `save of ${what}`);
              rows.set(c.id, expected);
              assertRow(await values.findById(c.id), expected, `findById of ${what}`);
              // Equality on every scalar column finds it (strings, integers and doubles compare exactly).
              const found = await values.findAll({ where: { id: c.id, s: c.s, i: c.i, n: c.n } });
              assert.deepEqual(found.map((r) => r.id), [c.id], `where of ${what}`);
              if (c.s !== null) assert.ok((await values.count({ s: { $like: c.s.replace(/[%_]/g, "_") } })) >= 1, `$like of ${what}`);
            } else {
              if (fields.length > 0) {
                tried.rejected++;
                await rejects(keyed.save({ id: c.id, label: c.label }), fields, what);
                continue;
              }
              const expected = { id: c.id + 0, label: c.label };
              assertRow(await keyed.save({ id: c.id, label: c.label }), expected, `save of ${what}`);
              intKeys.set(expected.id, expected);
              assertRow(await keyed.findById(c.id), expected, `findById of ${what}`);
            }
          }
        }),
        { numRuns: RUNS, seed: SEED },
      );
      assert.equal(await values.count(), rows.size);
      assert.equal(await keyed.count(), intKeys.size);
    }, 60_000);

    if (target.reopens) {
      test("every value reads back the same after a reopen", async () => {
        await storage.close();
        storage = await target.open(true);
        const values = storage.repository(FaultValue);
        const keyed = storage.repository(FaultIntKey);
        assert.ok(rows.size > 0);
        for (const [id, expected] of rows) assertRow(await values.findById(id as string), expected, `reopened ${JSON.stringify(id)}`);
        for (const [id, expected] of intKeys) assertRow(await keyed.findById(id as number), expected, `reopened ${String(id)}`);
        assert.equal(await values.count(), rows.size);
        assert.equal(await keyed.count(), intKeys.size);
        const all = await values.findAll();
        assert.equal(all.length, rows.size);
        for (const row of all) assertRow(row, rows.get(row.id), `findAll after reopen, ${JSON.stringify(row.id)}`);
      });
    }
  });
}

function assertRow(actual: object | null, expected: Record<string, unknown> | undefined, what: string): void {
  if (expected === undefined) {
    assert.equal(actual, null, `${what}: no row`);
    return;
  }
  assert.ok(actual !== null, `${what}: the row is missing`);
  const got = actual as Record<string, unknown>;
  assert.deepEqual(Object.keys(got).sort(), Object.keys(expected).sort(), `${what}: fields`);
  for (const k of Object.keys(expected)) assertSameJson(got[k], expected[k], `${what}: ${k}`);
}
