/**
 * The SPI part of the conformance suite: a backend checked directly through its SPI, with no storage,
 * repository or cache in between (as keyv's `storageTestSuite` checks a store). It covers what the
 * repository-level suite ({@link runConformanceSuite}) reaches only indirectly: the row contract of each
 * {@link DataSession} method, the query semantics of `find`/`count`, {@link TransactionHandle} commit,
 * rollback and savepoints, the {@link SchemaEditor}, and the migration runner over the backend. Groups a
 * backend cannot run are switched by its capability flags and optional members.
 *
 * @example
 * import { describe, test, beforeAll, afterAll, beforeEach } from "vitest";
 * import { openBackend, runSpiSuite } from "stratastore/conformance";
 * import { myStore } from "my-strata-store";
 * runSpiSuite({ describe, test, beforeAll, afterAll, beforeEach }, {
 *   name: "mystore",
 *   open: (schemas) => openBackend({ backend: myStore({ region: "eu" }), autoCreate: true }, schemas),
 * });
 */
import assert from "node:assert/strict";
import type { StorageConfig } from "../config/storage-config.js";
import { resolveConfig } from "../config/storage-config.js";
import { IntegrityError, LockError, SchemaError, StorageError, TransactionError } from "../errors.js";
import { MIGRATIONS_TABLE } from "../migrations/applied-migration-store.js";
import { defineMigration } from "../migrations/migration.js";
import { normalizeQuery, normalizeWhere } from "../query/normalize-query.js";
import type { EntitySchema, Row } from "../schema/entity-schema.js";
import { readEntitySchema } from "../schema/read-entity-schema.js";
import { schemaOfTable } from "../schema/table-schema.js";
import { isKnownBackend, openBackend as openConfiguredBackend } from "../spi/backend-registry.js";
import { backupToDirectory } from "../copy/backup-to-directory.js";
import type { Backend, DataSession, SchemaEditor, TableDescription, TransactionHandle } from "../spi/index.js";
import { createStorage } from "../storage.js";
import { ConfCounter, ConfItem, ConfSequenced, ConfValue } from "./conformance-entities.js";
import type { TestApi } from "./conformance-suite.js";

/** The backend under test, opened bare (no storage around it). */
export interface SpiTarget {
  /** The label of every group, e.g. `"sqlite"`: groups are named `"<name>: spi ..."`. */
  name: string;
  /**
   * Opens a fresh backend whose tables for `schemas` exist and are empty, holding no other table but
   * Strata's own. Called once per group, and once more by each migration test (the storage that test
   * opens over the backend closes it).
   */
  open(schemas: readonly EntitySchema[]): Promise<Backend>;
  /** Called after each group's backend is closed (drop the database, remove the directory...). */
  cleanup?(): Promise<void>;
}

/**
 * Opens a backend as `createStorage` would (a name, a URL, a {@link BackendFactory} or an instance in
 * `config.backend`), without a storage around it: the usual `open` of an {@link SpiTarget}.
 * @example open: (schemas) => openBackend({ url: "memory:", autoCreate: true }, schemas)
 */
export async function openBackend(config: StorageConfig | string, schemas: readonly EntitySchema[] = []): Promise<Backend> {
  const { backendSource, ...resolved } = resolveConfig(config, isKnownBackend);
  return openConfiguredBackend(resolved, backendSource, schemas, {
    backupToDirectory: (source, targetPath) => backupToDirectory(source, targetPath, resolved),
  });
}

const only = (process.env["BACKENDS"] ?? "").split(",").map((s) => s.trim()).filter(Boolean);

/** The schemas the data groups run on: the repository suite's entities, read once. */
const SCHEMAS = {
  items: readEntitySchema(ConfItem),
  counters: readEntitySchema(ConfCounter),
  sequenced: readEntitySchema(ConfSequenced),
  values: readEntitySchema(ConfValue),
};
const ALL_SCHEMAS: readonly EntitySchema[] = Object.values(SCHEMAS);

type T = TestApi["test"];

class SpiContext {
  backend!: Backend;
  get session(): DataSession {
    return this.backend.session;
  }
}

/** Registers the SPI groups for `target`. Honours `BACKENDS=memory,sqlite` (other backends are skipped). */
export function runSpiSuite(api: TestApi, target: SpiTarget): void {
  if (only.length > 0 && !only.includes(target.name)) {
    api.describe(`${target.name}: spi`, () => api.test.call(undefined, `skipped (BACKENDS=${only.join(",")})`, () => {}));
    return;
  }
  const group = (title: string, body: (ctx: SpiContext) => void) => {
    api.describe(`${target.name}: spi ${title}`, () => {
      const ctx = new SpiContext();
      api.beforeAll(async () => {
        ctx.backend = await target.open(ALL_SCHEMAS);
      });
      api.afterAll(async () => {
        await ctx.backend?.close();
        await target.cleanup?.();
      });
      api.beforeEach(async () => {
        for (const schema of ALL_SCHEMAS) await ctx.session.deleteMany(schema, [[]]);
      });
      body(ctx);
    });
  };
  const t = api.test;
  group("data session", (ctx) => dataSessionTests(t, ctx));
  group("queries", (ctx) => queryTests(t, ctx));
  group("transactions", (ctx) => transactionTests(t, ctx));
  group("schema editor", (ctx) => schemaEditorTests(t, ctx));
  api.describe(`${target.name}: spi migrations`, () => migrationTests(t, target, api));
}

async function rejectsWith(promise: Promise<unknown>, type: new (...args: never[]) => StorageError): Promise<void> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof type, `expected ${type.name}, got ${(error as Error)?.constructor?.name}: ${(error as Error)?.message}`);
    return;
  }
  assert.fail(`expected ${type.name}, but the call succeeded`);
}

let uuids = 0;
/** A complete `conf_items` row: every column present, as the repository hands rows to a backend. */
function itemRow(fields: Row = {}): Row {
  const now = new Date(Date.UTC(2024, 0, 1, 12, 0, 0, 0));
  const n = String(++uuids).padStart(12, "0");
  return {
    id: `00000000-0000-4000-8000-${n}`,
    name: "item",
    category: null,
    quantity: null,
    price: null,
    active: false,
    tags: null,
    code: null,
    createdAt: now,
    updatedAt: now,
    version: 1,
    ...fields,
  };
}

function valueRow(id: string, fields: Row = {}): Row {
  return { id, s: null, i: null, n: null, b: null, d: null, j: null, ...fields };
}

function dataSessionTests(test: T, ctx: SpiContext): void {
  const { items, counters, sequenced, values } = SCHEMAS;

  test("insert returns the stored row; findById returns an equal row the caller owns", async () => {
    const input = itemRow({ name: "a", tags: { list: [1, 2] } });
    const stored = await ctx.session.insert(items, input);
    assert.deepEqual(stored, input);
    (input["tags"] as { list: number[] }).list.push(3);
    (stored["tags"] as { list: number[] }).list.push(4);
    const found = await ctx.session.findById(items, input["id"] as string);
    assert.deepEqual(found?.["tags"], { list: [1, 2] }, "the backend keeps no reference to a row it was given or returned");
    (found!["createdAt"] as Date).setTime(0);
    assert.equal(((await ctx.session.findById(items, input["id"] as string))!["createdAt"] as Date).getTime(), Date.UTC(2024, 0, 1, 12));
    assert.equal(await ctx.session.findById(items, "00000000-0000-4000-8000-ffffffffffff"), null);
  });

  test("logical values round-trip: Date, boolean, integer, number, string, JSON and null", async () => {
    const d = new Date(Date.UTC(2024, 1, 29, 23, 59, 58, 123));
    const row = valueRow("v", { s: "", i: -42, n: 0.1 + 0.2, b: true, d, j: { a: [1, "two", null], s: "" } });
    await ctx.session.insert(values, row);
    const back = (await ctx.session.findById(values, "v"))!;
    assert.ok(back["d"] instanceof Date);
    assert.deepEqual(back, row);
    await ctx.session.insert(values, valueRow("nulls"));
    assert.deepEqual(await ctx.session.findById(values, "nulls"), valueRow("nulls"));
  });

  test("a table that does not exist is a SchemaError naming it, from reads and writes alike", async () => {
    const missing = schemaOfTable({ name: "conf_missing", columns: [{ name: "id", type: "string", nullable: false, primary: true, unique: true }], indexes: [] });
    const where = normalizeWhere(missing, {});
    const calls: Array<() => Promise<unknown>> = [
      () => ctx.session.findById(missing, "a"),
      () => ctx.session.find(missing, normalizeQuery(missing, {})),
      () => ctx.session.count(missing, where),
      () => ctx.session.insert(missing, { id: "a" }),
      () => ctx.session.upsertMany(missing, [{ id: "a" }]),
      () => ctx.session.deleteMany(missing, where),
    ];
    for (const call of calls) {
      const error = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(error instanceof SchemaError, `expected SchemaError, got ${(error as Error)?.constructor?.name}: ${(error as Error)?.message}`);
      assert.equal(error.table, "conf_missing");
    }
  });

  test("insert of an existing key or a duplicate unique value is an IntegrityError and changes nothing", async () => {
    await ctx.session.insert(counters, { id: "c", value: 1 });
    await rejectsWith(ctx.session.insert(counters, { id: "c", value: 2 }), IntegrityError);
    assert.deepEqual(await ctx.session.findById(counters, "c"), { id: "c", value: 1 });
    await ctx.session.insert(items, itemRow({ code: "U" }));
    await rejectsWith(ctx.session.insert(items, itemRow({ code: "U" })), IntegrityError);
    await ctx.session.insert(items, itemRow({ code: null }));
    await ctx.session.insert(items, itemRow({ code: null }));
    assert.equal(await ctx.session.count(items, [[]]), 3, "a unique column holds many nulls");
  });

  test("an increment key left null is generated, ascending, and an explicit key is never generated again", async () => {
    const a = await ctx.session.insert(sequenced, { id: null, label: "a" });
    const b = await ctx.session.insert(sequenced, { id: null, label: "b" });
    assert.equal(typeof a["id"], "number");
    assert.ok((b["id"] as number) > (a["id"] as number));
    await ctx.session.insert(sequenced, { id: (b["id"] as number) + 1, label: "explicit" });
    const c = await ctx.session.insert(sequenced, { id: null, label: "c" });
    assert.ok((c["id"] as number) > (b["id"] as number) + 1);
    assert.deepEqual(await ctx.session.findById(sequenced, c["id"] as number), c);
  });

  test("findByIds returns the rows found, each once, missing keys skipped", async () => {
    for (const id of ["a", "b", "c"]) await ctx.session.insert(counters, { id, value: 1 });
    const found = await ctx.session.findByIds(counters, ["c", "missing", "a"]);
    assert.deepEqual(found.map((r) => r["id"]).sort(), ["a", "c"]);
    assert.deepEqual(await ctx.session.findByIds(counters, []), []);
  });

  test("upsert inserts, then replaces all but the key and create date and sets version to stored + 1", async () => {
    const first = itemRow({ name: "a", quantity: 1 });
    assert.deepEqual(await ctx.session.upsert(items, first), first);
    const later = new Date(Date.UTC(2025, 0, 1));
    const replaced = await ctx.session.upsert(items, { ...first, name: "b", quantity: null, createdAt: later, updatedAt: later, version: 7 });
    assert.notEqual(replaced, "conflict");
    const row = replaced as Row;
    assert.equal(row["name"], "b");
    assert.equal(row["quantity"], null);
    assert.equal((row["createdAt"] as Date).getTime(), (first["createdAt"] as Date).getTime(), "the create date is kept");
    assert.equal((row["updatedAt"] as Date).getTime(), later.getTime());
    assert.equal(row["version"], 2, "version is the stored one + 1, whatever the row says");
    assert.deepEqual(await ctx.session.findById(items, first["id"] as string), row);
  });

  test("upsert with a stale expectedVersion returns conflict and writes nothing", async () => {
    const first = itemRow({ name: "a" });
    await ctx.session.insert(items, first);
    assert.equal(await ctx.session.upsert(items, { ...first, name: "loser" }, 5), "conflict");
    assert.equal((await ctx.session.findById(items, first["id"] as string))?.["name"], "a");
    const won = (await ctx.session.upsert(items, { ...first, name: "winner" }, 1)) as Row;
    assert.equal(won["version"], 2);
  });

  test("upsert with given (supportsPartialUpsert): inserts the whole row when new; else changes only the given columns, the update date and the version", async () => {
    if (!ctx.backend.capabilities.supportsPartialUpsert) return;
    const first = itemRow({ name: "a", category: "k", quantity: 1, tags: { keep: [1] }, code: "c1" });
    assert.deepEqual(await ctx.session.upsert(items, first, undefined, ["name"]), first, "a new key stores the whole row");
    const later = new Date(Date.UTC(2025, 0, 1));
    const partial = itemRow({ id: first["id"], name: "b", quantity: null, category: null, createdAt: later, updatedAt: later, version: 9 });
    const merged = await ctx.session.upsert(items, partial, undefined, ["name", "quantity"]);
    const expected = { ...first, name: "b", quantity: null, updatedAt: later, version: 2 };
    assert.deepEqual(merged, expected, "category, tags and code keep their stored values; the create date is kept");
    assert.deepEqual(await ctx.session.findById(items, first["id"] as string), expected);
    assert.equal(await ctx.session.upsert(items, { ...partial, name: "loser" }, 1, ["name"]), "conflict");
    assert.deepEqual(await ctx.session.findById(items, first["id"] as string), expected, "a conflict writes nothing");
    const checked = await ctx.session.upsert(items, { ...partial, active: true }, 2, []);
    assert.deepEqual(checked, { ...expected, version: 3 }, "no given column: only the update date and the version change");
  });

  test("upsertMany with given (supportsPartialUpsert): new keys get the whole row, existing ones only the given columns; with rows back or not", async () => {
    if (!ctx.backend.capabilities.supportsPartialUpsert) return;
    const a = itemRow({ name: "a", category: "ka", quantity: 1 });
    const b = itemRow({ name: "b", category: "kb", quantity: 2 });
    await ctx.session.insert(items, a);
    const later = new Date(Date.UTC(2025, 0, 1));
    const fresh = itemRow({ name: "fresh", category: "kf", createdAt: later, updatedAt: later });
    const rows = await ctx.session.upsertMany(items, [fresh, { ...a, name: "a2", category: null, updatedAt: later, version: 5 }], { given: ["name"] });
    const a2 = { ...a, name: "a2", updatedAt: later, version: 2 };
    assert.deepEqual(rows, [fresh, a2]);
    assert.deepEqual(await ctx.session.findById(items, a["id"] as string), a2);
    await ctx.session.insert(items, b);
    await ctx.session.upsertMany(items, [{ ...b, quantity: 9, name: "lost", updatedAt: later }], { given: ["quantity"], returnRows: false });
    assert.deepEqual(await ctx.session.findById(items, b["id"] as string), { ...b, quantity: 9, updatedAt: later, version: 2 });
  });

  test("upsertMany returns the rows in input order, inserting and replacing", async () => {
    await ctx.session.insert(counters, { id: "b", value: 1 });
    const rows = await ctx.session.upsertMany(counters, [{ id: "c", value: 3 }, { id: "b", value: 2 }, { id: "a", value: 1 }]);
    assert.deepEqual(rows, [{ id: "c", value: 3 }, { id: "b", value: 2 }, { id: "a", value: 1 }]);
    assert.equal(await ctx.session.count(counters, [[]]), 3);
  });

  test("upsertMany on a versioned table: version 1 when new; when replacing, the stored version + 1 and the stored create date", async () => {
    const old = itemRow({ name: "old", createdAt: new Date(Date.UTC(2020, 0, 1)) });
    await ctx.session.insert(items, old);
    const later = new Date(Date.UTC(2025, 0, 1));
    const fresh = itemRow({ name: "fresh", createdAt: later, updatedAt: later });
    const replacing = { ...old, name: "new", tags: { list: [1] }, createdAt: later, updatedAt: later };
    const rows = await ctx.session.upsertMany(items, [fresh, replacing]);
    const replaced = { ...replacing, tags: { list: [1] }, createdAt: old["createdAt"], version: 2 };
    assert.deepEqual(rows, [fresh, replaced]);
    (rows[1]!["tags"] as { list: number[] }).list.push(2);
    (replacing["tags"] as { list: number[] }).list.push(3);
    assert.deepEqual(await ctx.session.findById(items, old["id"] as string), replaced, "the returned row and the one given are the caller's own");
    assert.deepEqual(await ctx.session.findById(items, fresh["id"] as string), fresh);
  });

  test("upsertMany with returnRows false stores what it stores with rows back: version 1 or stored + 1, the stored create date; all or nothing", async () => {
    const old = itemRow({ name: "old", createdAt: new Date(Date.UTC(2020, 0, 1)) });
    await ctx.session.insert(items, old);
    const later = new Date(Date.UTC(2025, 0, 1));
    const fresh = itemRow({ name: "fresh", createdAt: later, updatedAt: later });
    const replacing = { ...old, name: "new", createdAt: later, updatedAt: later, version: 7 };
    await ctx.session.upsertMany(items, [fresh, replacing], { returnRows: false });
    assert.deepEqual(await ctx.session.findById(items, old["id"] as string), { ...replacing, createdAt: old["createdAt"], version: 2 });
    assert.deepEqual(await ctx.session.findById(items, fresh["id"] as string), fresh);
    // A unique value taken by the second row fails the whole call: the first row is not written either.
    await ctx.session.insert(items, itemRow({ code: "taken" }));
    const before = await ctx.session.count(items, [[]]);
    await rejectsWith(ctx.session.upsertMany(items, [itemRow({ name: "lost" }), itemRow({ code: "taken" })], { returnRows: false }), IntegrityError);
    assert.equal(await ctx.session.count(items, [[]]), before);
  });

  test("update changes the given columns, bumps the version, and reports missing and conflict", async () => {
    const first = itemRow({ name: "x", quantity: 5, category: "k" });
    await ctx.session.insert(items, first);
    const outcome = await ctx.session.update(items, first["id"] as string, { quantity: 6 });
    assert.ok(typeof outcome === "object", `expected a row, got ${String(outcome)}`);
    assert.deepEqual(outcome.row, { ...first, quantity: 6, version: 2 });
    assert.equal(await ctx.session.update(items, first["id"] as string, { quantity: 7 }, 1), "conflict");
    assert.equal((await ctx.session.findById(items, first["id"] as string))?.["quantity"], 6);
    assert.equal(await ctx.session.update(counters, "nope", { value: 1 }), "missing");
    await ctx.session.insert(items, itemRow({ code: "A" }));
    await rejectsWith(ctx.session.update(items, first["id"] as string, { code: "A" }), IntegrityError);
    assert.equal((await ctx.session.findById(items, first["id"] as string))?.["code"], null);
  });

  test("delete returns whether a row was deleted; deleteMany returns how many", async () => {
    for (let i = 0; i < 6; i++) await ctx.session.insert(counters, { id: `d${i}`, value: i });
    assert.equal(await ctx.session.delete(counters, "d0"), true);
    assert.equal(await ctx.session.delete(counters, "d0"), false);
    assert.equal(await ctx.session.deleteMany(counters, normalizeWhere(counters, { value: { $lt: 3 } })), 2);
    assert.equal(await ctx.session.deleteMany(counters, []), 0, "[] matches no row");
    assert.equal(await ctx.session.deleteMany(counters, [[]]), 3, "[[]] matches every row");
    assert.equal(await ctx.session.count(counters, [[]]), 0);
  });
}

function queryTests(test: T, ctx: SpiContext): void {
  const { counters, values } = SCHEMAS;
  const ids = async (query: Parameters<typeof normalizeQuery>[1]) => (await ctx.session.find(values, normalizeQuery(values, query))).map((r) => r["id"]);
  const count = (where: unknown) => ctx.session.count(values, normalizeWhere(values, where));
  const seed = async () => {
    const rows: Array<[string, Row]> = [
      ["1", { s: "apple", i: 5, b: true }],
      ["2", { s: "Banana", i: 12, b: false }],
      ["3", { s: "carrot", i: null, b: true }],
      ["4", { s: null, i: 7, b: false }],
      ["5", { s: "éclair", i: 0, b: true }],
      ["6", { s: "a_b%c", i: -2, b: null }],
    ];
    for (const [id, fields] of rows) await ctx.session.insert(values, valueRow(id, fields));
  };

  test("strings order by code point; nulls first ascending, last descending", async () => {
    await seed();
    assert.deepEqual(await ids({ orderBy: { s: "asc" } }), ["4", "2", "6", "1", "3", "5"]);
    assert.deepEqual(await ids({ orderBy: { s: "desc" } }), ["5", "3", "1", "6", "2", "4"]);
    assert.deepEqual(await ids({ orderBy: { i: "asc" } }), ["3", "6", "5", "1", "4", "2"]);
    await ctx.session.insert(values, valueRow("7", { s: "\u{1F600}" }));
    await ctx.session.insert(values, valueRow("8", { s: "\uFF21" }));
    assert.deepEqual((await ids({ orderBy: { s: "asc" } })).slice(-3), ["5", "8", "7"], "U+1F600 sorts after U+FF21, as code points do");
  });

  test("the primary key, last of every ordering, breaks ties; limit and offset page without overlap", async () => {
    for (let i = 0; i < 13; i++) await ctx.session.insert(counters, { id: `k${String(12 - i).padStart(2, "0")}`, value: i % 3 });
    const query = (limit: number | undefined, offset: number) =>
      ctx.session.find(counters, normalizeQuery(counters, { orderBy: { value: "desc" }, ...(limit === undefined ? {} : { limit }), offset }));
    const all = (await query(undefined, 0)).map((r) => r["id"] as string);
    assert.equal(all.length, 13);
    const ties = all.slice(0, 4);
    assert.deepEqual(ties, [...ties].sort(), "ties come in primary-key order");
    const paged: string[] = [];
    for (let offset = 0; offset < 13; offset += 5) paged.push(...(await query(5, offset)).map((r) => r["id"] as string));
    assert.deepEqual(paged, all);
    assert.deepEqual(await query(0, 0), [], "limit 0 returns no row");
    assert.deepEqual(await query(5, 20), []);
  });

  test("after: only the rows strictly after the position, nulls where the order puts them, any directions; offset and limit after it", async () => {
    await seed();
    await ctx.session.insert(values, valueRow("7", { s: "apple", i: 5, b: false }));
    // A few more nulls, so that a page can start among them or run into them.
    for (const id of ["n1", "n2", "n3"]) await ctx.session.insert(values, valueRow(id, { i: id === "n2" ? 5 : null }));
    const orders = [{ s: "asc" }, { s: "desc" }, { i: "desc", s: "asc" }, { b: "asc", i: "desc" }, { b: "desc", s: "desc" }, { id: "desc" }] as const;
    for (const orderBy of orders) {
      const query = normalizeQuery(values, { orderBy });
      const position = (row: Row) => query.orderBy.map((t) => row[t.column.property] ?? null);
      const find = async (after: unknown[], page: { offset?: number; limit?: number } = {}) =>
        (await ctx.session.find(values, { ...query, after, offset: page.offset ?? 0, ...(page.limit === undefined ? {} : { limit: page.limit }) })).map((r) => r["id"]);
      const full = await ctx.session.find(values, query);
      const all = full.map((r) => r["id"]);
      for (let k = 0; k < full.length; k++) {
        assert.deepEqual(await find(position(full[k]!)), all.slice(k + 1), `orderBy ${JSON.stringify(orderBy)}, after row ${all[k]}`);
        assert.deepEqual(await find(position(full[k]!), { offset: 1, limit: 2 }), all.slice(k + 2, k + 4), `orderBy ${JSON.stringify(orderBy)}, after row ${all[k]}, offset 1, limit 2`);
      }
      // A position no row holds any more: a row placed by the order, then deleted.
      const ghost = valueRow("9", { s: "apple", i: null, b: true });
      await ctx.session.insert(values, ghost);
      const withGhost = (await ctx.session.find(values, query)).map((r) => r["id"]);
      await ctx.session.delete(values, "9");
      const at = withGhost.indexOf("9");
      assert.deepEqual(await find(position({ ...ghost, id: "9" })), withGhost.slice(at + 1), `orderBy ${JSON.stringify(orderBy)}, after a deleted row`);
    }
  });

  test("eq, ne, comparisons and isNull: ne matches null, comparisons never do", async () => {
    await seed();
    assert.deepEqual(await ids({ where: { s: "apple" } }), ["1"]);
    assert.deepEqual(await ids({ where: { s: null } }), ["4"]);
    assert.deepEqual(await ids({ where: { s: { $ne: "apple" } } }), ["2", "3", "4", "5", "6"]);
    assert.deepEqual(await ids({ where: { i: { $lt: 100 } } }), ["1", "2", "4", "5", "6"]);
    assert.deepEqual(await ids({ where: { i: { $gte: 5, $lte: 7 } } }), ["1", "4"]);
    assert.deepEqual(await ids({ where: { s: { $gt: "b" } } }), ["3", "5"], "compared by code point: Banana < b");
    assert.deepEqual(await ids({ where: { b: false } }), ["2", "4"]);
    assert.equal(await count({ i: { $isNull: false } }), 5);
  });

  test("in and nin: a null in the list matches null; nin matches null unless the list holds it", async () => {
    await seed();
    assert.deepEqual(await ids({ where: { i: { $in: [5, 12] } } }), ["1", "2"]);
    assert.deepEqual(await ids({ where: { i: { $in: [5, null] } } }), ["1", "3"]);
    assert.deepEqual(await ids({ where: { i: { $in: [] } } }), []);
    assert.deepEqual(await ids({ where: { i: { $nin: [5, 12] } } }), ["3", "4", "5", "6"]);
    assert.deepEqual(await ids({ where: { i: { $nin: [5, null] } } }), ["2", "4", "5", "6"]);
    assert.deepEqual(await ids({ where: { i: { $nin: [] } } }), ["1", "2", "3", "4", "5", "6"]);
  });

  test("like: % and _ only, case-sensitive, never null; ilike folds ASCII letters only", async () => {
    await seed();
    assert.deepEqual(await ids({ where: { s: { $like: "B%" } } }), ["2"]);
    assert.deepEqual(await ids({ where: { s: { $like: "b%" } } }), []);
    assert.deepEqual(await ids({ where: { s: { $ilike: "b%" } } }), ["2"]);
    assert.deepEqual(await ids({ where: { s: { $like: "_clair" } } }), ["5"], "_ matches one character, é included");
    assert.deepEqual(await ids({ where: { s: { $ilike: "ÉCLAIR" } } }), [], "É is not an ASCII letter");
    assert.deepEqual(await ids({ where: { s: { $like: "a_b%" } } }), ["6"]);
    assert.deepEqual(await ids({ where: { s: { $like: "%" } } }), ["1", "2", "3", "5", "6"], "never matches null");
    await ctx.session.insert(values, valueRow("7", { s: "a.b*[c]" }));
    assert.deepEqual(await ids({ where: { s: { $like: "a.b*[c]" } } }), ["7"], "other characters are literal");
  });

  test("OR of AND-groups: a row matching two groups comes once; [] matches none", async () => {
    await seed();
    assert.deepEqual(await ids({ where: [{ b: true, i: { $gt: 1 } }, { i: 0 }, { s: "apple" }] }), ["1", "5"]);
    assert.equal(await count([{ b: true }, { b: true }]), 3);
    assert.deepEqual(await ids({ where: [] }), []);
    assert.equal(await count([]), 0);
    assert.equal(await count(undefined), 6);
  });

  test("select: rows hold exactly the listed columns and the primary key, owned by the caller, inside a transaction too", async () => {
    await seed();
    await ctx.session.insert(values, valueRow("9", { s: "zz", d: new Date(1_000), j: { list: [1] } }));
    const query = normalizeQuery(values, { select: ["j", "d", "s"], where: { s: { $gte: "c" } }, orderBy: { i: "desc" }, limit: 3 });
    const rows = await ctx.session.find(values, query);
    assert.deepEqual(rows, [
      { id: "5", s: "éclair", d: null, j: null },
      { id: "3", s: "carrot", d: null, j: null },
      { id: "9", s: "zz", d: new Date(1_000), j: { list: [1] } },
    ]);
    for (const row of rows) assert.deepEqual(Object.keys(row).sort(), ["d", "id", "j", "s"]);
    (rows[2]!["d"] as Date).setTime(0);
    (rows[2]!["j"] as { list: number[] }).list.push(2);
    assert.deepEqual(await ctx.session.find(values, normalizeQuery(values, { select: ["d", "j"], where: { id: "9" } })), [
      { id: "9", d: new Date(1_000), j: { list: [1] } },
    ]);
    await inTransaction(ctx.backend, async (tx) => {
      await tx.update(values, "9", { b: true });
      assert.deepEqual(await tx.find(values, normalizeQuery(values, { select: ["b"], where: { id: "9" } })), [{ id: "9", b: true }]);
    });
  });
}

/** Runs `fn` in a transaction of `backend`, committing when it resolves and rolling back when it throws. */
async function inTransaction<R>(backend: Backend, fn: (tx: TransactionHandle) => Promise<R>): Promise<R> {
  const tx = await backend.begin();
  try {
    const result = await fn(tx);
    await tx.commit();
    return result;
  } catch (error) {
    await tx.rollback();
    throw error;
  }
}

function transactionTests(test: T, ctx: SpiContext): void {
  const { counters } = SCHEMAS;

  test("commit makes the writes visible; before it, the session does not see them", async () => {
    const tx = await ctx.backend.begin();
    try {
      await tx.insert(counters, { id: "t", value: 1 });
      assert.deepEqual(await tx.findById(counters, "t"), { id: "t", value: 1 }, "the transaction reads its own writes");
      assert.equal(await tx.count(counters, [[]]), 1);
      assert.equal(await ctx.session.findById(counters, "t"), null, "reads outside never see uncommitted writes");
      await tx.commit();
    } catch (error) {
      await tx.rollback();
      throw error;
    }
    assert.deepEqual(await ctx.session.findById(counters, "t"), { id: "t", value: 1 });
  });

  test("rollback discards every write; a second rollback does nothing; an ended transaction refuses calls", async () => {
    await ctx.session.insert(counters, { id: "kept", value: 1 });
    const tx = await ctx.backend.begin();
    await tx.insert(counters, { id: "gone", value: 1 });
    await tx.update(counters, "kept", { value: 2 });
    await tx.delete(counters, "kept");
    await tx.rollback();
    await tx.rollback();
    assert.deepEqual((await ctx.session.find(counters, normalizeQuery(counters, {}))).map((r) => [r["id"], r["value"]]), [["kept", 1]]);
    // Through an async function: a call on an ended transaction may throw at once rather than reject.
    await rejectsWith((async () => tx.findById(counters, "kept"))(), TransactionError);
    const committed = await ctx.backend.begin();
    await committed.commit();
    await rejectsWith((async () => committed.insert(counters, { id: "late", value: 1 }))(), TransactionError);
  });

  test("savepoints: rolling back to one undoes only the writes after it; releasing keeps them", async () => {
    if (!ctx.backend.capabilities.supportsSavepoints) return;
    await inTransaction(ctx.backend, async (tx) => {
      await tx.insert(counters, { id: "outer", value: 1 });
      await tx.savepoint("sp1");
      await tx.insert(counters, { id: "inner", value: 2 });
      await tx.update(counters, "outer", { value: 99 });
      await tx.savepoint("sp2");
      await tx.delete(counters, "inner");
      await tx.rollbackToSavepoint("sp1");
      assert.deepEqual(await tx.findById(counters, "outer"), { id: "outer", value: 1 });
      assert.equal(await tx.findById(counters, "inner"), null);
      await tx.releaseSavepoint("sp1");
      await tx.savepoint("sp3");
      await tx.insert(counters, { id: "kept", value: 3 });
      await tx.releaseSavepoint("sp3");
    });
    const rows = await ctx.session.find(counters, normalizeQuery(counters, {}));
    assert.deepEqual(rows.map((r) => [r["id"], r["value"]]), [["kept", 3], ["outer", 1]]);
  });

  test("no lost update: concurrent read-increment-write transactions all count", async () => {
    await ctx.session.insert(counters, { id: "n", value: 0 });
    const runs = 20;
    await Promise.all(
      Array.from({ length: runs }, () =>
        inTransaction(ctx.backend, async (tx) => {
          const row = (await tx.findById(counters, "n"))!;
          await new Promise((resolve) => setImmediate(resolve));
          const outcome = await tx.update(counters, "n", { value: (row["value"] as number) + 1 });
          assert.equal(typeof outcome, "object");
        }),
      ),
    );
    assert.equal((await ctx.session.findById(counters, "n"))?.["value"], runs);
  });

  test("a single write beside an open transaction waits or goes through, and neither is lost", async () => {
    await Promise.all([
      inTransaction(ctx.backend, async (tx) => {
        await tx.insert(counters, { id: "tx1", value: 1 });
        await new Promise((resolve) => setTimeout(resolve, 5));
        await tx.insert(counters, { id: "tx2", value: 2 });
      }),
      ctx.session.insert(counters, { id: "single", value: 3 }),
    ]);
    assert.equal(await ctx.session.count(counters, [[]]), 3);
  });
}

/** A fresh table name for each schema-editor test, so that one failing test leaves the next a clean slate. */
let tableSerial = 0;
function tableName(): string {
  return `spi_t${process.pid}_${++tableSerial}`;
}

function notesTable(name: string): TableDescription {
  return {
    name,
    columns: [
      { name: "id", type: "string", nullable: false, primary: true, unique: true },
      { name: "title", type: "string", nullable: false, primary: false, unique: false },
      { name: "rank", type: "integer", nullable: true, primary: false, unique: false },
    ],
    indexes: [{ name: `${name}_rank`, columns: ["rank"], unique: false }],
  };
}

/** The schema editor of a new transaction, or undefined (after a rollback) when the backend has none. */
async function editorTransaction(backend: Backend): Promise<TransactionHandle | undefined> {
  const tx = await backend.begin();
  if (tx.schema) return tx;
  await tx.rollback();
  return undefined;
}

function schemaEditorTests(test: T, ctx: SpiContext): void {
  /** Runs `fn` with a schema editor in a committed transaction; false when the backend has no editor. */
  const withEditor = async (fn: (tx: TransactionHandle) => Promise<void>): Promise<boolean> => {
    const tx = await editorTransaction(ctx.backend);
    if (!tx) return false;
    try {
      await fn(tx);
      await tx.commit();
    } catch (error) {
      await tx.rollback();
      throw error;
    }
    return true;
  };
  const describe = async (name: string) => {
    let description: TableDescription | undefined;
    await withEditor(async (tx) => {
      description = await tx.schema!().describeTable(name);
    });
    return description;
  };
  const columnNames = (d: TableDescription | undefined) => d?.columns.map((c) => c.name).sort();

  test("createTable, describeTable and listTables", async () => {
    const name = tableName();
    const ran = await withEditor(async (tx) => {
      const editor = tx.schema!();
      await editor.createTable(notesTable(name));
      const tables = await editor.listTables();
      assert.ok(tables.includes(name), `listTables shows ${name}`);
      assert.deepEqual(tables, [...tables].sort(), "listTables is sorted by name");
    });
    if (!ran) return;
    const d = (await describe(name))!;
    assert.equal(d.name, name);
    const byName = new Map(d.columns.map((c) => [c.name, c]));
    assert.deepEqual(columnNames(d), ["id", "rank", "title"]);
    assert.equal(byName.get("id")?.primary, true);
    assert.equal(byName.get("id")?.type, "string");
    assert.equal(byName.get("title")?.nullable, false);
    assert.equal(byName.get("rank")?.type, "integer");
    assert.equal(byName.get("rank")?.nullable, true);
    assert.deepEqual(
      d.indexes.filter((i) => i.name === `${name}_rank`).map((i) => [i.columns, i.unique]),
      [[["rank"], false]],
    );
    assert.equal(await describe(`${name}_none`), undefined, "describeTable of a missing table is undefined");
  });

  test("readForeignKeys, where the backend has it, reports a foreign key the schema editor made", async () => {
    if (!ctx.backend.readForeignKeys) return;
    const parent = tableName();
    const child = `${parent}_child`;
    const fk = { name: `fk_${child}_noteId`, column: "noteId", referencedTable: parent, referencedColumn: "id", onDelete: "CASCADE" as const };
    const ran = await withEditor(async (tx) => {
      const editor = tx.schema!();
      await editor.createTable(notesTable(parent));
      await editor.createTable({
        name: child,
        columns: [
          { name: "id", type: "string", nullable: false, primary: true, unique: true },
          { name: "noteId", type: "string", nullable: true, primary: false, unique: false },
        ],
        indexes: [{ name: `${child}_noteId`, columns: ["noteId"], unique: false }],
        foreignKeys: [fk],
      });
    });
    if (!ran) return;
    const held = await ctx.backend.readForeignKeys();
    assert.deepEqual(held.get(child), [fk], "the child table's foreign key, as describeTable gives it");
    assert.deepEqual(held.get(parent) ?? [], [], "no foreign key on the parent table");
  });

  test("addColumn gives existing rows the default; dropColumn and renameColumn keep the data", async () => {
    const name = tableName();
    const ran = await withEditor(async (tx) => {
      await tx.schema!().createTable(notesTable(name));
    });
    if (!ran) return;
    const schema = schemaOfTable((await describe(name))!);
    await ctx.session.insert(schema, { id: "a", title: "first", rank: 1 });
    await withEditor(async (tx) => {
      const editor = tx.schema!();
      await editor.addColumn(name, { name: "done", type: "boolean", nullable: false, default: false, primary: false, unique: false });
      await editor.renameColumn(name, "title", "heading");
      await editor.dropColumn(name, "rank");
    });
    const after = (await describe(name))!;
    assert.deepEqual(columnNames(after), ["done", "heading", "id"]);
    const altered = schemaOfTable(after);
    assert.deepEqual(await ctx.session.findById(altered, "a"), { id: "a", heading: "first", done: false });
    await ctx.session.insert(altered, { id: "b", heading: "second", done: true });
    assert.equal(await ctx.session.count(altered, normalizeWhere(altered, { done: true })), 1);
  });

  test("a unique index refuses a duplicate with IntegrityError; dropIndex lifts it", async () => {
    const name = tableName();
    const ran = await withEditor(async (tx) => {
      const editor = tx.schema!();
      await editor.createTable(notesTable(name));
      await editor.createIndex(name, { name: `${name}_title`, columns: ["title"], unique: true });
    });
    if (!ran) return;
    const described = (await describe(name))!;
    assert.ok(described.indexes.some((i) => i.name === `${name}_title` && i.unique && i.columns.join() === "title"));
    const schema = schemaOfTable(described);
    await ctx.session.insert(schema, { id: "a", title: "same", rank: null });
    await rejectsWith(ctx.session.insert(schema, { id: "b", title: "same", rank: null }), IntegrityError);
    await withEditor(async (tx) => tx.schema!().dropIndex(name, `${name}_title`));
    const lifted = schemaOfTable((await describe(name))!);
    await ctx.session.insert(lifted, { id: "b", title: "same", rank: null });
    assert.equal(await ctx.session.count(lifted, [[]]), 2);
  });

  test("renameTable moves the rows; dropTable removes the table", async () => {
    const name = tableName();
    const renamed = `${name}_renamed`;
    const ran = await withEditor(async (tx) => tx.schema!().createTable(notesTable(name)));
    if (!ran) return;
    await ctx.session.insert(schemaOfTable((await describe(name))!), { id: "a", title: "kept", rank: 3 });
    await withEditor(async (tx) => tx.schema!().renameTable(name, renamed));
    assert.equal(await describe(name), undefined);
    const moved = (await describe(renamed))!;
    assert.deepEqual(await ctx.session.findById(schemaOfTable(moved), "a"), { id: "a", title: "kept", rank: 3 });
    await withEditor(async (tx) => {
      const editor = tx.schema!();
      await editor.dropTable(renamed);
      assert.equal((await editor.listTables()).includes(renamed), false);
    });
    assert.equal(await describe(renamed), undefined);
  });

  test("createTable or renameTable onto an existing table fails, and that table keeps its rows", async () => {
    const name = tableName();
    const other = tableName();
    const ran = await withEditor(async (tx) => {
      await tx.schema!().createTable(notesTable(name));
      await tx.schema!().createTable(notesTable(other));
    });
    if (!ran) return;
    const schema = schemaOfTable((await describe(name))!);
    await ctx.session.insert(schema, { id: "a", title: "kept", rank: 1 });
    // The migration context checks this before calling the editor; the copier and the applied-migration
    // store call it directly, and must never replace a table they did not see.
    const changes: Array<[string, (editor: SchemaEditor) => Promise<void>]> = [
      ["createTable", (editor) => editor.createTable({ ...notesTable(name), indexes: [] })],
      ["renameTable", (editor) => editor.renameTable(other, name)],
    ];
    for (const [what, change] of changes) {
      await assert.rejects(
        withEditor((tx) => change(tx.schema!())),
        `${what} onto the existing table ${name} is refused`,
      );
    }
    assert.deepEqual(columnNames(await describe(name)), ["id", "rank", "title"]);
    assert.deepEqual(await ctx.session.findById(schema, "a"), { id: "a", title: "kept", rank: 1 });
    assert.ok(await describe(other), `${other} is still there`);
  });

  test("with supportsTransactionalDdl, a rollback undoes a schema change", async () => {
    if (!ctx.backend.capabilities.supportsTransactionalDdl) return;
    const name = tableName();
    const tx = await editorTransaction(ctx.backend);
    if (!tx) return;
    await tx.schema!().createTable(notesTable(name));
    assert.ok((await tx.schema!().listTables()).includes(name), "the transaction sees its own change");
    await tx.rollback();
    assert.equal(await describe(name), undefined);
  });
}

function migrationTests(test: T, target: SpiTarget, api: TestApi): void {
  const opened: Array<{ close(): Promise<void> }> = [];
  api.afterAll(async () => {
    for (const storage of opened.splice(0)) await storage.close();
    await target.cleanup?.();
  });
  const migrations = [
    defineMigration({
      version: 1,
      name: "create-spi-notes",
      async up(m) {
        await m.createTable("spi_notes", { id: { type: "string", primary: true }, title: { type: "string" } });
        await m.insertRows("spi_notes", [{ id: "a", title: "first" }]);
      },
      async down(m) {
        await m.dropTable("spi_notes");
      },
    }),
    defineMigration({
      version: 2,
      name: "add-spi-notes-rank",
      async up(m) {
        await m.addColumn("spi_notes", "rank", { type: "integer", default: 0 });
      },
      async down(m) {
        await m.dropColumn("spi_notes", "rank");
      },
    }),
  ];

  test("the migration runner applies, records and reverts migrations over the backend", async () => {
    const backend = await target.open([]);
    const probe = await editorTransaction(backend);
    if (!probe) {
      await backend.close();
      return;
    }
    await probe.rollback();
    const storage = await createStorage({ backend, migrations });
    opened.push(storage);
    const applied = await storage.migrations.up();
    assert.deepEqual(applied.map((r) => r.version), [1, 2]);
    assert.deepEqual((await storage.migrations.status()).map((s) => s.state), ["applied", "applied"]);
    if (backend.appliedMigrations) assert.deepEqual((await backend.appliedMigrations.list()).map((m) => m.version), [1, 2]);
    else assert.ok((await withTables(backend)).includes(MIGRATIONS_TABLE), `the runner's default store keeps ${MIGRATIONS_TABLE}`);
    const described = await withDescription(backend, "spi_notes");
    assert.deepEqual(described?.columns.map((c) => c.name).sort(), ["id", "rank", "title"]);
    assert.deepEqual(await backend.session.findById(schemaOfTable(described!), "a"), { id: "a", title: "first", rank: 0 });
    const reverted = await storage.migrations.down({ steps: 1 });
    assert.deepEqual(reverted.map((r) => r.version), [2]);
    assert.deepEqual((await storage.migrations.status()).map((s) => s.state), ["applied", "pending"]);
    assert.deepEqual((await withDescription(backend, "spi_notes"))?.columns.map((c) => c.name).sort(), ["id", "title"]);
  });

  test("a failing migration leaves nothing behind, and the next run applies it (transactional DDL)", async () => {
    const backend = await target.open([]);
    const probe = await editorTransaction(backend);
    if (!probe || !backend.capabilities.supportsTransactionalDdl) {
      await probe?.rollback();
      await backend.close();
      return;
    }
    await probe.rollback();
    let fail = true;
    const flaky = defineMigration({
      version: 1,
      name: "flaky",
      async up(m) {
        await m.createTable("spi_flaky", { id: { type: "string", primary: true } });
        await m.insertRows("spi_flaky", [{ id: "x" }]);
        if (fail) throw new Error("flaky fails");
      },
    });
    const storage = await createStorage({ backend, migrations: [flaky] });
    opened.push(storage);
    await assert.rejects(storage.migrations.up(), /flaky fails/);
    assert.deepEqual((await storage.migrations.status()).map((s) => s.state), ["pending"]);
    assert.equal(await withDescription(backend, "spi_flaky"), undefined, "the table the failed migration created is gone");
    fail = false;
    assert.deepEqual((await storage.migrations.up()).map((r) => r.version), [1]);
    assert.deepEqual((await storage.migrations.status()).map((s) => s.state), ["applied"]);
  });

  test("a MigrationLock, when the backend has one, admits one holder at a time", async () => {
    const backend = await target.open([]);
    opened.push(backend);
    const lock = backend.migrationLock;
    if (!lock) return;
    const release = await lock.acquire(1000);
    await rejectsWith(lock.acquire(50), LockError);
    await release();
    const again = await lock.acquire(1000);
    await again();
  });

  test("an AppliedMigrationStore, when the backend has one, records in the migration's transaction", async () => {
    const backend = await target.open([]);
    opened.push(backend);
    const store = backend.appliedMigrations;
    if (!store) return;
    const record = { version: 1, name: "one", checksum: "0".repeat(64), appliedAt: new Date(Date.UTC(2024, 0, 1)), durationMs: 3 };
    const tx = await backend.begin();
    await store.record(tx, record);
    await tx.rollback();
    assert.deepEqual(await store.list(), [], "a record rolls back with its transaction");
    await inTransaction(backend, (t) => store.record(t, record));
    assert.deepEqual((await store.list()).map((m) => [m.version, m.name, m.checksum]), [[1, "one", record.checksum]]);
    await inTransaction(backend, (t) => store.remove(t, 1));
    assert.deepEqual(await store.list(), []);
  });
}

async function withDescription(backend: Backend, table: string): Promise<TableDescription | undefined> {
  return inTransaction(backend, async (tx) => tx.schema!().describeTable(table));
}

async function withTables(backend: Backend): Promise<string[]> {
  return inTransaction(backend, async (tx) => tx.schema!().listTables());
}
