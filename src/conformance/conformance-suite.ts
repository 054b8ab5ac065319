/**
 * The conformance suite: every behaviour of repositories and transactions (README, "Repositories", "Queries", "Transactions"), run against one backend.
 * Test functions are injected (vitest, jest, node:test...) and assertions use node:assert, so the
 * author of a backend (given to `createStorage` as a factory or instance, or added with `registerBackend`)
 * can run the same suite, beside the SPI-level one (`runSpiSuite`):
 *
 * @example
 * import { describe, test, beforeAll, afterAll, beforeEach } from "vitest";
 * import { runConformanceSuite } from "stratastore/conformance";
 * runConformanceSuite({ describe, test, beforeAll, afterAll, beforeEach }, {
 *   name: "mystore",
 *   open: (entities) => createStorage({ backend: myStore({ region: "eu" }), entities, autoCreate: true }),
 * });
 */
import assert from "node:assert/strict";
import type { BackendCapabilities } from "../spi/index.js";
import {
  CapacityError,
  ConcurrencyError,
  IntegrityError,
  NotFoundError,
  QueryError,
  StorageError,
  TransactionError,
  ValidationError,
} from "../errors.js";
import type { Storage } from "../storage.js";
import { CONFORMANCE_ENTITIES, ConfCounter, ConfItem, ConfSequenced, ConfValue } from "./conformance-entities.js";
import { FOREIGN_KEY_ENTITIES, registerForeignKeyTests, resetForeignKeyTables } from "./foreign-key-tests.js";
import { registerKeysetTests } from "./keyset-tests.js";
import { PARTIAL_SAVE_ENTITIES, registerPartialSaveTests, resetPartialSaveTables } from "./partial-save-tests.js";
import { registerPropertyTests } from "./property-tests.js";
import { registerRelationFilterTests } from "./relation-filter-tests.js";
import { selectTests } from "./select-tests.js";

type Hook = (fn: () => Promise<void> | void, timeout?: number) => void;

/** The test functions the suite needs; vitest's and jest's fit as they are. */
export interface TestApi {
  describe(name: string, fn: () => void): void;
  test(name: string, fn: () => Promise<void> | void, timeout?: number): void;
  beforeAll: Hook;
  afterAll: Hook;
  beforeEach: Hook;
}

/** The backend under test. */
export interface ConformanceTarget {
  /** The label of every group, e.g. `"sqlite"`. */
  name: string;
  /** Opens a storage whose tables for `entities` exist and are empty. Called once per group. */
  open(entities: Function[]): Promise<Storage>;
  /** Called after each group's storage is closed (drop the database, remove the directory...). */
  cleanup?(): Promise<void>;
  /** How many random runs the property test makes. @default 200 */
  propertyRuns?: number;
}

const only = (process.env["BACKENDS"] ?? "").split(",").map((s) => s.trim()).filter(Boolean);

/** Registers the whole suite for `target`. Honours `BACKENDS=memory,sqlite` (other backends are skipped). */
export function runConformanceSuite(api: TestApi, target: ConformanceTarget): void {
  if (only.length > 0 && !only.includes(target.name)) {
    api.describe(`${target.name}: conformance`, () => api.test.call(undefined, `skipped (BACKENDS=${only.join(",")})`, () => {}));
    return;
  }
  const emptyAll = async (storage: Storage) => {
    for (const entity of CONFORMANCE_ENTITIES) await storage.repository(entity as typeof ConfItem).deleteMany({});
  };
  /** A group on a storage of `entities`, emptied by `reset` before each case. */
  const group = (title: string, body: (ctx: SuiteContext) => void, entities = CONFORMANCE_ENTITIES, reset = emptyAll) => {
    api.describe(`${target.name}: ${title}`, () => {
      const ctx = new SuiteContext();
      api.beforeAll(async () => {
        ctx.storage = await target.open(entities);
      });
      api.afterAll(async () => {
        await ctx.storage?.close();
        await target.cleanup?.();
      });
      api.beforeEach(async () => {
        await reset(ctx.storage);
      });
      body(ctx);
    });
  };
  const t = api.test;
  group("repository", (ctx) => repositoryTests(t, ctx));
  group("queries", (ctx) => queryTests(t, ctx));
  group("values", (ctx) => valueTests(t, ctx));
  group("integrity and optimistic locking", (ctx) => integrityTests(t, ctx));
  group("transactions", (ctx) => transactionTests(t, ctx));
  group("batches", (ctx) => batchTests(t, ctx));
  group("partial saves", (ctx) => registerPartialSaveTests(t, () => ctx.storage), PARTIAL_SAVE_ENTITIES, resetPartialSaveTables);
  group("select (projections)", (ctx) => selectTests(t, ctx));
  group("keyset: iterate and findPage", (ctx) => registerKeysetTests(t, () => ctx.storage));
  group("foreign keys", (ctx) => registerForeignKeyTests(t, () => ctx.storage), FOREIGN_KEY_ENTITIES, resetForeignKeyTables);
  group("property: random operations against a reference model", (ctx) => registerPropertyTests(t, () => ctx.storage, target.propertyRuns ?? 200));
  // Its own storage, of entities with relations (rf_ tables).
  registerRelationFilterTests(api, target, Math.max(5, Math.round((target.propertyRuns ?? 200) / 10)));
}

class SuiteContext {
  storage!: Storage;
  get items() {
    return this.storage.repository(ConfItem);
  }
  get counters() {
    return this.storage.repository(ConfCounter);
  }
  get sequenced() {
    return this.storage.repository(ConfSequenced);
  }
  get values() {
    return this.storage.repository(ConfValue);
  }
  get capabilities(): Readonly<BackendCapabilities> {
    return this.storage.capabilities;
  }
}

type T = TestApi["test"];

function item(fields: Partial<ConfItem> = {}): ConfItem {
  return Object.assign(new ConfItem(), { name: "item", ...fields });
}

async function rejectsWith(promise: Promise<unknown>, type: new (...args: never[]) => StorageError, mentions?: string): Promise<StorageError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof type, `expected ${type.name}, got ${(error as Error)?.constructor?.name}: ${(error as Error)?.message}`);
    if (mentions) assert.match((error as Error).message, new RegExp(mentions.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
    return error as StorageError;
  }
  assert.fail(`expected ${type.name}, but the call succeeded`);
}

function repositoryTests(test: T, ctx: SuiteContext): void {
  test("save inserts with a generated uuid, version 1 and timestamps, and findById returns it", async () => {
    const before = Date.now();
    const saved = await ctx.items.save(item({ name: "first", quantity: 3 }));
    assert.match(saved.id, /^[0-9a-f-]{36}$/);
    assert.equal(saved.version, 1);
    assert.ok(saved.createdAt instanceof Date && saved.createdAt.getTime() >= before - 1000);
    assert.ok(saved.updatedAt instanceof Date);
    assert.equal(saved.active, false, "the column default applies");
    assert.ok(saved instanceof ConfItem, "entities come back as instances of their class");
    const found = await ctx.items.findById(saved.id);
    assert.deepEqual({ ...found }, { ...saved });
  });

  test("save of an existing key replaces it, keeps createdAt and bumps the version", async () => {
    const saved = await ctx.items.save(item({ name: "a", quantity: 1 }));
    const again = await ctx.items.save({ ...saved, name: "b" });
    assert.equal(again.name, "b");
    assert.equal(again.version, 2);
    assert.equal(again.createdAt.getTime(), saved.createdAt.getTime());
    assert.equal(await ctx.items.count(), 1);
  });

  test("increment keys are generated in ascending order", async () => {
    const a = await ctx.sequenced.save(Object.assign(new ConfSequenced(), { label: "a" }));
    const b = await ctx.sequenced.insert(Object.assign(new ConfSequenced(), { label: "b" }));
    assert.equal(typeof a.id, "number");
    assert.ok(b.id > a.id);
    assert.equal((await ctx.sequenced.findById(b.id))?.label, "b");
  });

  test("a key given explicitly to an increment table is never generated again, also inside a transaction", async () => {
    await ctx.storage.transaction(async () => {
      const first = await ctx.sequenced.save(Object.assign(new ConfSequenced(), { label: "generated" }));
      await ctx.sequenced.save(Object.assign(new ConfSequenced(), { id: first.id + 1, label: "explicit" }));
      const next = await ctx.sequenced.save(Object.assign(new ConfSequenced(), { label: "generated again" }));
      assert.ok(next.id > first.id + 1);
    });
    assert.equal(await ctx.sequenced.count(), 3);
  });

  test("insert refuses an existing key with IntegrityError and changes nothing", async () => {
    await ctx.counters.insert({ id: "c", value: 1 });
    await rejectsWith(ctx.counters.insert({ id: "c", value: 2 }), IntegrityError);
    assert.equal((await ctx.counters.findById("c"))?.value, 1);
  });

  test("update changes only the given fields and returns the stored entity", async () => {
    const saved = await ctx.items.save(item({ name: "x", quantity: 5, category: "k" }));
    const updated = await ctx.items.update(saved.id, { quantity: 6 });
    assert.equal(updated.quantity, 6);
    assert.equal(updated.name, "x");
    assert.equal(updated.category, "k");
    assert.equal(updated.version, 2);
    assert.ok(updated.updatedAt.getTime() >= saved.updatedAt.getTime());
    assert.equal((await ctx.items.findById(saved.id))?.quantity, 6);
  });

  test("update of a missing id is a NotFoundError naming the table", async () => {
    await rejectsWith(ctx.counters.update("nope", { value: 1 }), NotFoundError, "conf_counters");
  });

  test("delete returns whether a row was deleted", async () => {
    await ctx.counters.insert({ id: "d", value: 1 });
    assert.equal(await ctx.counters.delete("d"), true);
    assert.equal(await ctx.counters.delete("d"), false);
    assert.equal(await ctx.counters.findById("d"), null);
    assert.equal(await ctx.counters.exists("d"), false);
  });

  test("findByIds returns the entities found in the order of the ids", async () => {
    for (const id of ["a", "b", "c"]) await ctx.counters.insert({ id, value: id.charCodeAt(0) });
    const found = await ctx.counters.findByIds(["c", "missing", "a", "b"]);
    assert.deepEqual(found.map((c) => c.id), ["c", "a", "b"]);
    assert.deepEqual(await ctx.counters.findByIds([]), []);
  });

  test("exists and count", async () => {
    await ctx.counters.insert({ id: "e", value: 1 });
    await ctx.counters.insert({ id: "f", value: 2 });
    assert.equal(await ctx.counters.exists("e"), true);
    assert.equal(await ctx.counters.count(), 2);
    assert.equal(await ctx.counters.count({ value: { $gt: 1 } }), 1);
  });

  test("an id of the wrong type is a ValidationError", async () => {
    await rejectsWith(ctx.counters.findById(42 as unknown as string), ValidationError, "id");
    await rejectsWith(ctx.sequenced.findById("1" as unknown as number), ValidationError, "id");
  });
}

async function seedForQueries(ctx: SuiteContext): Promise<void> {
  const rows: Array<Partial<ConfItem>> = [
    { name: "apple", category: "fruit", quantity: 5, price: 1.5, active: true },
    { name: "Banana", category: "fruit", quantity: 12, price: 0.25, active: false },
    { name: "carrot", category: "vegetable", quantity: null, price: 0.1, active: true },
    { name: "date", category: null, quantity: 7, price: null, active: false },
    { name: "éclair", category: "pastry", quantity: 0, price: 3, active: true },
    { name: "a_b%c", category: "odd", quantity: -2, price: -1, active: false },
  ];
  for (const r of rows) await ctx.items.save(item(r));
}

function queryTests(test: T, ctx: SuiteContext): void {
  const names = (rows: ConfItem[]) => rows.map((r) => r.name);
  const sorted = (rows: ConfItem[]) => names(rows).sort();

  test("equality, null and $isNull", async () => {
    await seedForQueries(ctx);
    assert.deepEqual(sorted(await ctx.items.findAll({ where: { category: "fruit" } })), ["Banana", "apple"]);
    assert.deepEqual(names(await ctx.items.findAll({ where: { category: null } })), ["date"]);
    assert.deepEqual(names(await ctx.items.findAll({ where: { quantity: { $isNull: true } } })), ["carrot"]);
    assert.equal(await ctx.items.count({ quantity: { $isNull: false } }), 5);
    assert.deepEqual(names(await ctx.items.findAll({ where: { category: { $eq: null } } })), ["date"]);
  });

  test("$ne and $nin match null; comparisons never do", async () => {
    await seedForQueries(ctx);
    assert.deepEqual(sorted(await ctx.items.findAll({ where: { category: { $ne: "fruit" } } })), ["a_b%c", "carrot", "date", "éclair"]);
    assert.deepEqual(sorted(await ctx.items.findAll({ where: { category: { $nin: ["fruit", "odd"] } } })), ["carrot", "date", "éclair"]);
    assert.deepEqual(sorted(await ctx.items.findAll({ where: { category: { $nin: ["fruit", null] } } })), ["a_b%c", "carrot", "éclair"]);
    assert.deepEqual(sorted(await ctx.items.findAll({ where: { quantity: { $lt: 100 } } })), ["Banana", "a_b%c", "apple", "date", "éclair"]);
    assert.deepEqual(sorted(await ctx.items.findAll({ where: { quantity: { $gte: 5, $lte: 7 } } })), ["apple", "date"]);
    assert.deepEqual(sorted(await ctx.items.findAll({ where: { price: { $gt: 0.2 } } })), ["Banana", "apple", "éclair"]);
    assert.deepEqual(sorted(await ctx.items.findAll({ where: { category: { $in: ["pastry", null] } } })), ["date", "éclair"]);
  });

  test("a value repeated in $in or $nin returns each row once (primary key, indexed and plain columns)", async () => {
    await seedForQueries(ctx);
    const apple = (await ctx.items.findOne({ where: { name: "apple" } }))!;
    assert.deepEqual(names(await ctx.items.findAll({ where: { id: { $in: [apple.id, apple.id] } } })), ["apple"]);
    assert.deepEqual(sorted(await ctx.items.findAll({ where: { category: { $in: ["fruit", "fruit", "pastry"] } } })), ["Banana", "apple", "éclair"]);
    assert.deepEqual(names(await ctx.items.findAll({ where: { quantity: { $in: [5, 5] } } })), ["apple"]);
    assert.equal(await ctx.items.count({ category: { $in: ["fruit", "fruit"] } }), 2);
    assert.deepEqual(sorted(await ctx.items.findAll({ where: { category: { $nin: ["fruit", "fruit", "odd", null] } } })), ["carrot", "éclair"]);
  });

  test("$like is case-sensitive with % and _; $ilike folds ASCII letters only", async () => {
    await seedForQueries(ctx);
    assert.deepEqual(names(await ctx.items.findAll({ where: { name: { $like: "B%" } } })), ["Banana"]);
    assert.deepEqual(names(await ctx.items.findAll({ where: { name: { $like: "b%" } } })), []);
    assert.deepEqual(sorted(await ctx.items.findAll({ where: { name: { $ilike: "b%" } } })), ["Banana"]);
    assert.deepEqual(sorted(await ctx.items.findAll({ where: { name: { $like: "_ate" } } })), ["date"]);
    assert.deepEqual(sorted(await ctx.items.findAll({ where: { name: { $like: "%a%" } } })), ["Banana", "a_b%c", "apple", "carrot", "date", "éclair"]);
    assert.deepEqual(names(await ctx.items.findAll({ where: { name: { $ilike: "ÉCLAIR" } } })), [], "É is not an ASCII letter");
    assert.deepEqual(names(await ctx.items.findAll({ where: { name: { $like: "_clair" } } })), ["éclair"], "_ matches one character");
    assert.deepEqual(names(await ctx.items.findAll({ where: { category: { $like: "%" } } })).includes("date"), false, "$like never matches null");
  });

  test("pattern characters other than % and _ are literal", async () => {
    const texts = ["2024-01-05", "2024-02-01", "a.b", "axb", "a+b", "(x)", "[y]", "a\\b", "a*b", "a?b", "^$"];
    for (const [k, s] of texts.entries()) await ctx.values.insert(value(`p${k}`, { s }));
    const like = async (pattern: string) => (await ctx.values.findAll({ where: { s: { $like: pattern } }, orderBy: { s: "asc" } })).map((r) => r.s);
    assert.deepEqual(await like("2024-01-%"), ["2024-01-05"]);
    assert.deepEqual(await like("a.b"), ["a.b"]);
    assert.deepEqual(await like("a+b"), ["a+b"]);
    assert.deepEqual(await like("(x)"), ["(x)"]);
    assert.deepEqual(await like("[y]"), ["[y]"]);
    assert.deepEqual(await like("a\\b"), ["a\\b"]);
    assert.deepEqual(await like("a*b"), ["a*b"]);
    assert.deepEqual(await like("a?b"), ["a?b"]);
    assert.deepEqual(await like("^$"), ["^$"]);
    assert.deepEqual((await ctx.values.findAll({ where: { s: { $ilike: "A_B" } }, orderBy: { s: "asc" } })).map((r) => r.s), ["a*b", "a+b", "a.b", "a?b", "a\\b", "axb"]);
  });

  test("an array is OR of its elements; keys inside one object are AND; [] matches nothing", async () => {
    await seedForQueries(ctx);
    const rows = await ctx.items.findAll({ where: [{ category: "fruit", active: true }, { quantity: 0 }] });
    assert.deepEqual(sorted(rows), ["apple", "éclair"]);
    assert.deepEqual(await ctx.items.findAll({ where: [] }), []);
    assert.equal(await ctx.items.count([{ category: "fruit" }, { category: "fruit" }]), 2, "a row matching two elements comes once");
  });

  test("strings sort by code point, nulls first ascending and last descending", async () => {
    await seedForQueries(ctx);
    assert.deepEqual(names(await ctx.items.findAll({ orderBy: { name: "asc" } })), ["Banana", "a_b%c", "apple", "carrot", "date", "éclair"]);
    const byQuantity = await ctx.items.findAll({ orderBy: { quantity: "asc" } });
    assert.deepEqual(names(byQuantity), ["carrot", "a_b%c", "éclair", "apple", "date", "Banana"]);
    const byQuantityDesc = await ctx.items.findAll({ orderBy: { quantity: "desc" } });
    assert.deepEqual(names(byQuantityDesc), ["Banana", "date", "apple", "éclair", "a_b%c", "carrot"]);
    const byCategory = await ctx.items.findAll({ orderBy: { category: "desc", name: "asc" } });
    assert.deepEqual(names(byCategory), ["carrot", "éclair", "a_b%c", "Banana", "apple", "date"]);
  });

  test("characters beyond U+FFFF sort after U+E000-U+FFFF (code point order)", async () => {
    for (const [id, s] of [["1", "\u{1F600}"], ["2", "\uFF21"], ["3", "z"]] as const) await ctx.values.insert(value(id, { s }));
    const rows = await ctx.values.findAll({ orderBy: { s: "asc" } });
    assert.deepEqual(rows.map((r) => r.id), ["3", "2", "1"]);
  });

  test("limit and offset page through ties without overlap, the primary key breaking ties", async () => {
    for (let i = 0; i < 25; i++) await ctx.counters.insert({ id: `k${String(i).padStart(2, "0")}`, value: i % 3 });
    const seen: string[] = [];
    for (let offset = 0; offset < 25; offset += 4) {
      const page = await ctx.counters.findAll({ orderBy: { value: "asc" }, limit: 4, offset });
      seen.push(...page.map((c) => c.id));
    }
    assert.equal(seen.length, 25);
    assert.equal(new Set(seen).size, 25);
    const all = await ctx.counters.findAll({ orderBy: { value: "asc" } });
    assert.deepEqual(seen, all.map((c) => c.id));
    const ties = all.filter((c) => c.value === 0).map((c) => c.id);
    assert.deepEqual(ties, [...ties].sort());
  });

  test("findOne returns the first match or null", async () => {
    await seedForQueries(ctx);
    assert.equal((await ctx.items.findOne({ where: { category: "fruit" }, orderBy: { name: "desc" } }))?.name, "apple");
    assert.equal(await ctx.items.findOne({ where: { name: "nothing" } }), null);
  });

  test("iterate yields every match in order, a page at a time", async () => {
    for (let i = 0; i < 23; i++) await ctx.counters.insert({ id: `i${String(i).padStart(2, "0")}`, value: i });
    const out: number[] = [];
    for await (const c of ctx.counters.iterate({ where: { value: { $gte: 3 } }, orderBy: { value: "desc" } }, { pageSize: 5 })) out.push(c.value);
    assert.deepEqual(out, Array.from({ length: 20 }, (_, i) => 22 - i));
  });

  test("unknown fields and bad operators are QueryErrors naming them", async () => {
    await rejectsWith(ctx.items.findAll({ where: { nope: 1 } as never }), QueryError, "nope");
    await rejectsWith(ctx.items.findAll({ orderBy: { nope: "asc" } as never }), QueryError, "nope");
    await rejectsWith(ctx.items.findAll({ where: { quantity: { $between: 1 } } as never }), QueryError, "$between");
    await rejectsWith(ctx.items.findAll({ where: { quantity: "many" } as never }), QueryError, "quantity");
    await rejectsWith(ctx.items.findAll({ where: { quantity: undefined } }), QueryError, "quantity");
    await rejectsWith(ctx.items.findAll({ limit: -1 }), QueryError, "limit");
    await rejectsWith(ctx.items.findAll({ orderBy: { name: "up" as "asc" } }), QueryError, "name");
  });

  test("a value that looks like SQL is only ever a value", async () => {
    const evil = "x'); DROP TABLE conf_items; --";
    await ctx.items.save(item({ name: evil }));
    assert.equal((await ctx.items.findOne({ where: { name: evil } }))?.name, evil);
    assert.equal(await ctx.items.count({ name: { $like: "%DROP%" } }), 1);
  });
}

function value(id: string, fields: Partial<ConfValue> = {}): ConfValue {
  return Object.assign(new ConfValue(), { id, s: null, i: null, n: null, b: null, d: null, j: null, ...fields });
}

function valueTests(test: T, ctx: SuiteContext): void {
  test("values round-trip exactly", async () => {
    const d = new Date(Date.UTC(2024, 1, 29, 23, 59, 58, 123));
    const j = { a: [1, "two", { three: true, four: null }], nested: { n: 1.25 }, empty: {}, s: "" };
    await ctx.values.insert(value("all", { s: "", i: -42, n: 0.1 + 0.2, b: false, d, j }));
    const back = (await ctx.values.findById("all"))!;
    assert.equal(back.s, "");
    assert.equal(back.i, -42);
    assert.equal(back.n, 0.1 + 0.2);
    assert.equal(back.b, false);
    assert.ok(back.d instanceof Date);
    assert.equal(back.d.getTime(), d.getTime());
    assert.deepEqual(back.j, j);
    await ctx.values.insert(value("nulls"));
    const nulls = (await ctx.values.findById("nulls"))!;
    assert.deepEqual([nulls.s, nulls.i, nulls.n, nulls.b, nulls.d, nulls.j], [null, null, null, null, null, null]);
    assert.equal(await ctx.values.count({ s: "" }), 1, '"" stays distinct from null');
    assert.equal(await ctx.values.count({ s: null }), 1);
    for (const scalar of [0, "text", true, [1, 2]]) {
      await ctx.values.save(value("scalar", { j: scalar }));
      assert.deepEqual((await ctx.values.findById("scalar"))!.j, scalar);
    }
    await ctx.values.insert(value("big", { i: Number.MAX_SAFE_INTEGER, n: -1e-300 }));
    const big = (await ctx.values.findById("big"))!;
    assert.equal(big.i, Number.MAX_SAFE_INTEGER);
    assert.equal(big.n, -1e-300);
  });

  test("dates compare and sort by instant", async () => {
    const base = Date.UTC(2030, 0, 1);
    for (let k = 0; k < 4; k++) await ctx.values.insert(value(`d${k}`, { d: new Date(base + (3 - k) * 1000) }));
    const rows = await ctx.values.findAll({ where: { d: { $gte: new Date(base + 1000) } }, orderBy: { d: "asc" } });
    assert.deepEqual(rows.map((r) => r.id), ["d2", "d1", "d0"]);
    assert.equal(await ctx.values.count({ d: new Date(base + 2000) }), 1);
  });

  test("returned entities share no object with storage", async () => {
    const saved = await ctx.values.save(value("iso", { d: new Date(0), j: { list: [1] } }));
    (saved.j as { list: number[] }).list.push(2);
    saved.d!.setTime(1);
    const first = (await ctx.values.findById("iso"))!;
    assert.deepEqual(first.j, { list: [1] });
    assert.equal(first.d!.getTime(), 0);
    (first.j as { list: number[] }).list.push(3);
    first.s = "changed";
    const second = (await ctx.values.findById("iso"))!;
    assert.deepEqual(second.j, { list: [1] });
    assert.equal(second.s, null);
    const input = value("input", { j: { k: 1 } });
    await ctx.values.insert(input);
    (input.j as { k: number }).k = 2;
    assert.deepEqual((await ctx.values.findById("input"))!.j, { k: 1 });
    const [a, b] = await ctx.values.findByIds(["iso", "iso"]);
    (a!.j as { list: number[] }).list.push(9);
    assert.deepEqual(b!.j, { list: [1] });
    // A repeated id gets its own copy of every value, Dates included, and each stays a Date.
    assert.ok(a!.d instanceof Date && b!.d instanceof Date, "findByIds([id, id]) returns Dates");
    a!.d!.setTime(5);
    assert.equal(b!.d!.getTime(), 0);
  });

  test("values of the wrong type are ValidationErrors naming the field, and nothing is written", async () => {
    await ctx.values.insert(value("keep", { i: 1 }));
    const cases: Array<[Partial<ConfValue>, string]> = [
      [{ i: "1" as unknown as number }, "i"],
      [{ i: 1.5 }, "i"],
      [{ n: Number.NaN }, "n"],
      [{ n: Infinity }, "n"],
      [{ b: 1 as unknown as boolean }, "b"],
      [{ d: "2024-01-01" as unknown as Date }, "d"],
      [{ d: new Date(Number.NaN) }, "d"],
      [{ d: new Date("+010000-01-01T00:00:00Z") }, "d"],
      [{ d: new Date("-000001-06-01T00:00:00Z") }, "d"],
      [{ s: 5 as unknown as string }, "s"],
      [{ j: { f: () => 1 } }, "j"],
      [{ j: new Map() }, "j"],
      [{ j: Number.NaN }, "j"],
    ];
    for (const [fields, field] of cases) {
      const error = await rejectsWith(ctx.values.save(value("keep", fields)), ValidationError, field);
      assert.equal(error.field, field);
      await rejectsWith(ctx.values.update("keep", fields), ValidationError, field);
    }
    // A json problem names where it is inside the value.
    await rejectsWith(ctx.values.save(value("keep", { j: { list: [1, { deep: Number.NaN }] } })), ValidationError, "got NaN at .list[1].deep");
    await rejectsWith(ctx.values.save(value("keep", { j: [{ ok: "\u0000" }] })), ValidationError, "(\\u0000 at index 0), which PostgreSQL cannot store at [0].ok");
    assert.deepEqual({ ...(await ctx.values.findById("keep")) }, { ...value("keep", { i: 1 }) });
  });

  test("a string no backend can hold alike (lone surrogate, NUL) is a ValidationError naming the field, in keys, strings and json", async () => {
    await ctx.values.insert(value("keep", { s: "kept", j: { k: "kept" } }));
    for (const bad of ["\uD800", "a\uDC00b", "\uDBFF", "x\u0000y", "\u0000"]) {
      const cases: Array<[ConfValue, string]> = [
        [value(bad), "id"],
        [value("keep", { s: bad }), "s"],
        [value("keep", { j: bad }), "j"],
        [value("keep", { j: { nested: [1, { deep: bad }] } }), "j"],
        [value("keep", { j: { [bad]: 1 } }), "j"],
        [value("keep", { j: [{ ok: 1 }, { [`k${bad}`]: { x: 1 } }] }), "j"],
      ];
      for (const [entity, field] of cases) {
        const error = await rejectsWith(ctx.values.save(entity), ValidationError, field);
        assert.equal(error.field, field);
        assert.equal(error.table, "conf_values");
        if (field !== "id") await rejectsWith(ctx.values.update("keep", { [field]: entity[field as "s"] }), ValidationError, field);
      }
      // A key that no backend can store is never found: looking it up is refused as any invalid key is.
      await rejectsWith(ctx.values.findById(bad), ValidationError, "id");
      await rejectsWith(ctx.values.findByIds(["keep", bad]), ValidationError, "id");
      await rejectsWith(ctx.values.delete(bad), ValidationError, "id");
      await rejectsWith(ctx.values.findAll({ where: { s: bad } }), QueryError, "s");
      await rejectsWith(ctx.values.findAll({ where: { id: { $in: ["keep", bad] } } }), QueryError, "id");
      await rejectsWith(ctx.values.count({ s: { $like: `%${bad}%` } }), QueryError, "s");
    }
    // Well-formed pairs, other control characters and line terminators are fine everywhere.
    const fine = "\uD83D\uDE00 \u0001\u2028\u2029\u0085\r\n\uFFFF\uFFFE";
    await ctx.values.insert(value(fine, { s: fine, j: { [fine]: [fine] } }));
    const back = (await ctx.values.findById(fine))!;
    assert.equal(back.s, fine);
    assert.deepEqual(back.j, { [fine]: [fine] });
    assert.equal(await ctx.values.count({ s: fine }), 1);
    assert.deepEqual({ ...(await ctx.values.findById("keep")) }, { ...value("keep", { s: "kept", j: { k: "kept" } }) });
    assert.equal(await ctx.values.count(), 2);
  });

  test("cyclic json and json nested past the depth limit are ValidationErrors naming the field; the limit itself round-trips", async () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic["self"] = cyclic;
    const cyclicArray: unknown[] = [1];
    cyclicArray.push([cyclicArray]);
    const nest = (depth: number) => {
      let v: unknown = "leaf";
      for (let k = 0; k < depth; k++) v = k % 2 ? { k: v } : [v];
      return v;
    };
    for (const [bad, mentions] of [[cyclic, "cyclic"], [cyclicArray, "cyclic"], [nest(1001), "1000 levels"], [nest(10_000), "1000 levels"]] as const) {
      const error = await rejectsWith(ctx.values.save(value("deep", { j: bad })), ValidationError, mentions);
      assert.equal(error.field, "j");
    }
    assert.equal(await ctx.values.count(), 0);
    const deepest = nest(1000);
    await ctx.values.insert(value("deep", { j: deepest }));
    assert.deepEqual((await ctx.values.findById("deep"))!.j, deepest);
  });

  test("an own __proto__ key in json round-trips, and Object.prototype stays untouched", async () => {
    const j = JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}, "list": [{"__proto__": [1]}]}') as Record<string, unknown>;
    const saved = await ctx.values.save(value("proto", { j }));
    for (const got of [saved.j, (await ctx.values.findById("proto"))!.j, (await ctx.values.findAll({ where: { id: "proto" } }))[0]!.j, (await ctx.values.findByIds(["proto", "proto"]))[1]!.j]) {
      const o = got as Record<string, unknown>;
      assert.ok(Object.hasOwn(o, "__proto__"), "the own __proto__ key is kept");
      assert.equal(Object.getPrototypeOf(o), Object.prototype, "a returned object is an ordinary object");
      assert.deepEqual(Object.getOwnPropertyDescriptor(o, "__proto__")?.value, { polluted: true });
      assert.ok(Object.hasOwn((o["list"] as Array<Record<string, unknown>>)[0]!, "__proto__"));
      assert.deepEqual(o, j);
    }
    assert.equal(({} as Record<string, unknown>)["polluted"], undefined, "Object.prototype is not polluted");
    assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, "polluted"), false);
  });

  test("-0 is stored as 0 on every backend, in number and integer columns and inside json", async () => {
    const saved = await ctx.values.save(value("zero", { i: -0, n: -0, j: { z: -0, list: [-0] } }));
    const updated = await ctx.values.update("zero", { n: -0 });
    for (const got of [saved, updated, (await ctx.values.findById("zero"))!]) {
      assert.ok(Object.is(got.i, 0) && Object.is(got.n, 0), "-0 comes back as 0");
      assert.ok(Object.is((got.j as { z: number }).z, 0) && Object.is((got.j as { list: number[] }).list[0], 0));
    }
    assert.equal(await ctx.values.count({ n: -0 }), 1);
    assert.equal(await ctx.values.count({ n: 0 }), 1);
  });

  test("an increment key past Number.MAX_SAFE_INTEGER is a CapacityError naming table and column; no row gets an unsafe key", async () => {
    await ctx.sequenced.save(Object.assign(new ConfSequenced(), { id: Number.MAX_SAFE_INTEGER - 1, label: "explicit" }));
    const last = await ctx.sequenced.save(Object.assign(new ConfSequenced(), { label: "last safe" }));
    assert.equal(last.id, Number.MAX_SAFE_INTEGER);
    for (let k = 0; k < 2; k++) {
      const error = await rejectsWith(ctx.sequenced.save(Object.assign(new ConfSequenced(), { label: "past" })), CapacityError, "MAX_SAFE_INTEGER");
      assert.equal(error.table, "conf_sequenced");
      assert.equal(error.field, "id");
    }
    await rejectsWith(ctx.sequenced.saveMany([Object.assign(new ConfSequenced(), { label: "past" })]), CapacityError, "conf_sequenced");
    const rows = await ctx.sequenced.findAll();
    assert.deepEqual(rows.map((r) => [r.id, r.label]), [[Number.MAX_SAFE_INTEGER - 1, "explicit"], [Number.MAX_SAFE_INTEGER, "last safe"]]);
  });

  test("null into a non-nullable column, unknown fields and missing keys are ValidationErrors", async () => {
    await rejectsWith(ctx.counters.save({ id: "n", value: null as unknown as number }), ValidationError, "value");
    await rejectsWith(ctx.counters.save({ id: "n" } as ConfCounter), ValidationError, "value");
    await rejectsWith(ctx.counters.save({ id: "n", value: 1, extra: 2 } as ConfCounter), ValidationError, "extra");
    await rejectsWith(ctx.counters.save({ value: 1 } as ConfCounter), ValidationError, "id");
    await rejectsWith(ctx.counters.update("n", { nope: 1 } as never), ValidationError, "nope");
    await rejectsWith(ctx.counters.save(null as unknown as ConfCounter), ValidationError);
    assert.equal(await ctx.counters.count(), 0);
  });
}

function integrityTests(test: T, ctx: SuiteContext): void {
  test("a duplicate unique value is an IntegrityError and changes nothing", async () => {
    const a = await ctx.items.save(item({ name: "a", code: "X1" }));
    await rejectsWith(ctx.items.save(item({ name: "b", code: "X1" })), IntegrityError);
    assert.equal((await ctx.items.update(a.id, { code: "X1" })).code, "X1", "a row may keep its own unique value");
    const b = await ctx.items.save(item({ name: "b", code: "X2" }));
    await rejectsWith(ctx.items.update(b.id, { code: "X1" }), IntegrityError);
    assert.equal((await ctx.items.findById(b.id))?.code, "X2");
    assert.equal(await ctx.items.count(), 2);
    await ctx.items.save(item({ name: "c", code: null }));
    await ctx.items.save(item({ name: "d", code: null }));
    assert.equal(await ctx.items.count({ code: null }), 2, "unique allows many nulls");
  });

  test("a unique value freed by a delete can be reused", async () => {
    const a = await ctx.items.save(item({ name: "a", code: "R" }));
    await ctx.items.delete(a.id);
    await ctx.items.save(item({ name: "b", code: "R" }));
    assert.equal(await ctx.items.count({ code: "R" }), 1);
  });

  test("saving a stale version is a ConcurrencyError and writes nothing", async () => {
    const read1 = await ctx.items.save(item({ name: "v1" }));
    const read2 = (await ctx.items.findById(read1.id))!;
    const winner = await ctx.items.save({ ...read1, name: "winner" });
    assert.equal(winner.version, 2);
    const error = await rejectsWith(ctx.items.save({ ...read2, name: "loser" }), ConcurrencyError, "ConfItem");
    assert.equal(error.table, "conf_items");
    await rejectsWith(ctx.items.update(read1.id, { name: "loser", version: 1 }), ConcurrencyError);
    const stored = (await ctx.items.findById(read1.id))!;
    assert.equal(stored.name, "winner");
    assert.equal(stored.version, 2);
    const ok = await ctx.items.update(read1.id, { name: "next", version: 2 });
    assert.equal(ok.version, 3);
  });
}

function transactionTests(test: T, ctx: SuiteContext): void {
  test("commits when the callback resolves and returns its value", async () => {
    const result = await ctx.storage.transaction(async (tx) => {
      await ctx.counters.insert({ id: "t1", value: 1 });
      await tx.repository(ConfCounter).insert({ id: "t2", value: 2 });
      return "done";
    });
    assert.equal(result, "done");
    assert.equal(await ctx.counters.count(), 2);
  });

  test("rolls back and rethrows the original error", async () => {
    const original = new Error("boom");
    await assert.rejects(
      ctx.storage.transaction(async () => {
        await ctx.counters.insert({ id: "r1", value: 1 });
        await ctx.counters.insert({ id: "r2", value: 2 });
        throw original;
      }),
      (e) => e === original,
    );
    assert.equal(await ctx.counters.count(), 0);
  });

  test("repositories join after awaits, timers and Promise.all", async () => {
    await assert.rejects(
      ctx.storage.transaction(async () => {
        await new Promise((r) => setTimeout(r, 5));
        await Promise.all([ctx.counters.insert({ id: "p1", value: 1 }), ctx.counters.insert({ id: "p2", value: 2 })]);
        await new Promise<void>((resolve, reject) => setTimeout(() => ctx.counters.insert({ id: "p3", value: 3 }).then(() => resolve(), reject), 1));
        assert.equal(await ctx.counters.count(), 3, "reads inside see the transaction's writes");
        throw new Error("undo");
      }),
      /undo/,
    );
    assert.equal(await ctx.counters.count(), 0);
  });

  test("nothing written inside is visible outside before commit", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let inserted!: () => void;
    const insertedSignal = new Promise<void>((r) => (inserted = r));
    const tx = ctx.storage.transaction(async () => {
      await ctx.counters.insert({ id: "hidden", value: 1 });
      inserted();
      await gate;
    });
    await insertedSignal;
    // This code is outside the transaction's async flow, as another request would be.
    assert.equal(await ctx.counters.findById("hidden"), null);
    assert.equal(await ctx.counters.count(), 0);
    release();
    await tx;
    assert.equal((await ctx.counters.findById("hidden"))?.value, 1);
  });

  test("a nested transaction is a savepoint: its throw undoes only its own writes", async () => {
    if (!ctx.capabilities.supportsSavepoints) return;
    await ctx.storage.transaction(async () => {
      await ctx.counters.insert({ id: "outer", value: 1 });
      await assert.rejects(
        ctx.storage.transaction(async () => {
          await ctx.counters.insert({ id: "inner", value: 2 });
          await ctx.counters.update("outer", { value: 99 });
          throw new Error("inner fails");
        }),
        /inner fails/,
      );
      await ctx.storage.transaction(async () => {
        await ctx.counters.insert({ id: "inner2", value: 3 });
      });
    });
    const rows = await ctx.counters.findAll({ orderBy: { id: "asc" } });
    assert.deepEqual(rows.map((r) => [r.id, r.value]), [["inner2", 3], ["outer", 1]]);
  });

  test("a write beside a failing nested transaction (in Promise.all) is kept", async () => {
    if (!ctx.capabilities.supportsSavepoints) return;
    let signal!: () => void;
    const innerWrote = new Promise<void>((resolve) => (signal = resolve));
    await ctx.storage.transaction(async () => {
      const results = await Promise.allSettled([
        ctx.storage.transaction(async () => {
          await ctx.counters.insert({ id: "inner", value: 1 });
          signal();
          // Give the sibling time to issue its write while this savepoint is still open.
          await new Promise((r) => setTimeout(r, 20));
          throw new Error("inner fails");
        }),
        innerWrote.then(() => ctx.counters.insert({ id: "outer", value: 2 })),
      ]);
      assert.deepEqual(results.map((r) => r.status), ["rejected", "fulfilled"]);
    });
    assert.deepEqual((await ctx.counters.findAll()).map((c) => c.id), ["outer"]);
  });

  test("100 concurrent read-increment-write transactions end at exactly +100", async () => {
    await ctx.counters.insert({ id: "n", value: 0 });
    await Promise.all(
      Array.from({ length: 100 }, () =>
        ctx.storage.transaction(async () => {
          const c = (await ctx.counters.findById("n"))!;
          await new Promise((r) => setImmediate(r));
          await ctx.counters.update("n", { value: c.value + 1 });
        }),
      ),
    );
    assert.equal((await ctx.counters.findById("n"))?.value, 100);
  });

  test("a transaction running past timeoutMs rolls back with TransactionError", async () => {
    let later: Promise<unknown> | undefined;
    await rejectsWith(
      ctx.storage.transaction(
        async () => {
          await ctx.counters.insert({ id: "slow", value: 1 });
          await new Promise((r) => setTimeout(r, 200));
          later = ctx.counters.insert({ id: "after", value: 2 });
          await later;
        },
        { timeoutMs: 50 },
      ),
      TransactionError,
      "timeout",
    );
    await new Promise((r) => setTimeout(r, 250));
    if (later) await rejectsWith(later, TransactionError);
    assert.equal(await ctx.counters.count(), 0);
    await ctx.counters.insert({ id: "fine", value: 1 });
    assert.equal(await ctx.counters.count(), 1, "the storage is usable after a timeout");
  });

  test("commit listeners hear of writes after commit only, never of a rollback", async () => {
    const heard: string[] = [];
    ctx.storage.onCommit((writes) => {
      for (const [table, keys] of writes) if (table === "conf_counters") heard.push(keys === "all" ? "all" : [...keys].join(","));
    });
    await ctx.storage.transaction(async () => {
      await ctx.counters.insert({ id: "h1", value: 1 });
      assert.deepEqual(heard, [], "nothing is announced before commit");
    });
    assert.deepEqual(heard, ["h1"]);
    await assert.rejects(
      ctx.storage.transaction(async () => {
        await ctx.counters.insert({ id: "h2", value: 1 });
        throw new Error("no");
      }),
    );
    assert.deepEqual(heard, ["h1"]);
    await ctx.counters.update("h1", { value: 2 });
    assert.deepEqual(heard, ["h1", "h1"]);
  });
}

function batchTests(test: T, ctx: SuiteContext): void {
  test("saveMany writes every entity in chunks and reports progress", async () => {
    const progress: Array<[number, number]> = [];
    const result = await ctx.counters.saveMany(
      Array.from({ length: 23 }, (_, i) => ({ id: `s${i}`, value: i })),
      { chunkSize: 10, onProgress: (done, total) => progress.push([done, total]) },
    );
    assert.deepEqual(result, { total: 23, succeeded: 23, failed: 0, errors: [] });
    assert.deepEqual(progress, [[10, 23], [20, 23], [23, 23]]);
    assert.equal(await ctx.counters.count(), 23);
    const again = await ctx.counters.saveMany(Array.from({ length: 5 }, (_, i) => ({ id: `s${i}`, value: 100 })));
    assert.equal(again.succeeded, 5);
    assert.equal(await ctx.counters.count({ value: 100 }), 5, "saveMany updates existing keys");
  });

  test("atomic saveMany writes nothing when one entity fails, and names it", async () => {
    await ctx.items.save(item({ name: "taken", code: "U" }));
    const batch = [item({ name: "ok1" }), item({ name: "ok2" }), item({ name: "dup", code: "U" }), item({ name: "ok3" })];
    const error = await rejectsWith(ctx.items.saveMany(batch, { chunkSize: 2 }), IntegrityError);
    assert.match(error.message, /item 2|index 2/);
    const invalid = [item({ name: "ok" }), item({ name: 5 as unknown as string })];
    await rejectsWith(ctx.items.saveMany(invalid), ValidationError, "item 1");
    assert.equal(await ctx.items.count(), 1);
  });

  test("non-atomic saveMany keeps the good entities and reports each failure", async () => {
    await ctx.items.save(item({ name: "taken", code: "U" }));
    const batch = [item({ name: "ok1" }), item({ name: 7 as unknown as string }), item({ name: "dup", code: "U" }), item({ name: "ok2" })];
    const result = await ctx.items.saveMany(batch, { atomic: false, chunkSize: 2 });
    assert.equal(result.total, 4);
    assert.equal(result.succeeded, 2);
    assert.equal(result.failed, 2);
    assert.deepEqual(result.errors.map((e) => [e.index, e.error.constructor.name]), [[1, "ValidationError"], [2, "IntegrityError"]]);
    assert.deepEqual((await ctx.items.findAll({ orderBy: { name: "asc" } })).map((i) => i.name), ["ok1", "ok2", "taken"]);
  });

  test("saveMany of versioned entities: version 1 when new; when replacing, the stored version + 1 and the stored create date", async () => {
    const stored = await ctx.items.save(item({ name: "old", createdAt: new Date(Date.UTC(2020, 0, 1)) }));
    const replacing = { ...stored, name: "new", createdAt: new Date(Date.UTC(2025, 0, 1)), version: undefined as unknown as number };
    await ctx.items.saveMany([item({ name: "fresh" }), replacing]);
    const replaced = await ctx.items.findById(stored.id);
    assert.deepEqual([replaced?.name, replaced?.version, replaced?.createdAt], ["new", 2, new Date(Date.UTC(2020, 0, 1))]);
    assert.equal((await ctx.items.findOne({ where: { name: "fresh" } }))?.version, 1);
  });

  test("atomic saveMany checks every entity before writing any, and again when its chunk is written", async () => {
    const progress: number[] = [];
    const late = [item({ name: "a" }), item({ name: "b" }), item({ name: "c" }), item({ name: 5 as unknown as string })];
    await rejectsWith(ctx.items.saveMany(late, { chunkSize: 2, onProgress: (done) => progress.push(done) }), ValidationError, "item 3");
    assert.deepEqual(progress, [], "nothing was written before the invalid entity was found");
    // An entity its caller changes while earlier chunks are written is refused too, and the batch undone.
    const changed = [item({ name: "a" }), item({ name: "b" }), item({ name: "c" }), item({ name: "d" })];
    const mutate = (done: number) => {
      if (done === 2) (changed[3] as { name: unknown }).name = 5;
    };
    await rejectsWith(ctx.items.saveMany(changed, { chunkSize: 2, onProgress: mutate }), ValidationError, "item 3");
    assert.equal(await ctx.items.count(), 0);
  });

  test("saveMany joins an ambient transaction", async () => {
    await assert.rejects(
      ctx.storage.transaction(async () => {
        await ctx.counters.saveMany([{ id: "m1", value: 1 }, { id: "m2", value: 2 }]);
        throw new Error("undo");
      }),
    );
    assert.equal(await ctx.counters.count(), 0);
  });

  test("deleteMany deletes the matches and returns how many; it needs a where", async () => {
    await ctx.counters.saveMany(Array.from({ length: 10 }, (_, i) => ({ id: `x${i}`, value: i })));
    assert.equal(await ctx.counters.deleteMany({ value: { $lt: 4 } }), 4);
    assert.equal(await ctx.counters.count(), 6);
    assert.equal(await ctx.counters.deleteMany([{ value: 9 }, { id: "x8" }]), 2);
    await rejectsWith(ctx.counters.deleteMany(undefined as never), ValidationError);
    assert.equal(await ctx.counters.deleteMany({}), 4);
    assert.equal(await ctx.counters.count(), 0);
  });
}
