/**
 * The conformance tests of projections (`select` in a query, README "Selecting fields"): exactly the listed
 * fields come back, with their values and types, combined with the rest of a query, inside a transaction and
 * through the query cache, and sharing nothing with storage.
 */
import assert from "node:assert/strict";
import { QueryError } from "../errors.js";
import type { Storage } from "../storage.js";
import { ConfItem, ConfSequenced, ConfValue } from "./conformance-entities.js";

type Test = (name: string, fn: () => Promise<void> | void, timeout?: number) => void;

/** Asserts that `promise` rejects with a `QueryError` whose message holds every one of `mentions`. */
async function rejectsWithQueryError(promise: Promise<unknown>, ...mentions: string[]): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof QueryError, `expected QueryError, got ${(error as Error)?.constructor?.name}: ${(error as Error)?.message}`);
    for (const m of mentions) assert.ok(error.message.includes(m), `"${error.message}" should mention ${m}`);
    return true;
  });
}

/** The keys of `value`, sorted: what a projection holds, whatever the order of its select list. */
const keysOf = (value: object | null | undefined) => Object.keys(value ?? {}).sort();

export function selectTests(test: Test, ctx: { readonly storage: Storage }): void {
  const items = () => ctx.storage.repository(ConfItem);
  const values = () => ctx.storage.repository(ConfValue);
  const saveItems = async (...list: Array<Partial<ConfItem>>) => {
    for (const fields of list) await items().save(Object.assign(new ConfItem(), { name: "item", ...fields }));
  };

  test("select returns plain objects holding exactly the selected fields, values and types intact", async () => {
    const d = new Date("2024-02-29T12:34:56.789Z");
    await values().save({ id: "v1", s: "", i: 7, n: 1.5, b: true, d, j: { a: [1, "x", null], b: { c: false } } });
    await values().save({ id: "v2", s: null, i: null, n: null, b: false, d: null, j: null });
    const rows = await values().findAll({ select: ["d", "j", "b", "s"], orderBy: { id: "asc" } });
    assert.equal(rows.length, 2);
    for (const row of rows) {
      assert.deepEqual(keysOf(row), ["b", "d", "j", "s"], "the primary key is left out when it was not selected");
      assert.equal(Object.getPrototypeOf(row), Object.prototype, "a projection is a plain object, not an entity");
    }
    const [first, second] = rows;
    assert.ok(first!.d instanceof Date, "a Date stays a Date");
    assert.equal(first!.d.getTime(), d.getTime());
    assert.deepEqual(first!.j, { a: [1, "x", null], b: { c: false } });
    assert.equal(first!.b, true);
    assert.equal(first!.s, "", '"" stays distinct from null');
    assert.deepEqual({ ...second }, { b: false, d: null, j: null, s: null });

    const withKey = await values().findAll({ select: ["id", "i", "n"], orderBy: { id: "asc" } });
    assert.deepEqual(withKey.map((r) => ({ ...r })), [
      { id: "v1", i: 7, n: 1.5 },
      { id: "v2", i: null, n: null },
    ]);
  });

  test("select combines with where, orderBy on a field not selected, limit and offset", async () => {
    await saveItems(
      { name: "a", category: "k", quantity: 1 },
      { name: "b", category: "k", quantity: 4 },
      { name: "c", category: "other", quantity: 9 },
      { name: "d", category: "k", quantity: 3 },
      { name: "e", category: "k", quantity: null },
    );
    const page = await items().findAll({ where: { category: "k" }, orderBy: { quantity: "desc" }, select: ["name"], limit: 2, offset: 1 });
    assert.deepEqual(page.map((r) => ({ ...r })), [{ name: "d" }, { name: "a" }]);
    const all = await items().findAll({ where: [{ quantity: { $gte: 4 } }, { quantity: null }], orderBy: { quantity: "asc" }, select: ["name", "quantity"] });
    assert.deepEqual(all.map((r) => ({ ...r })), [
      { name: "e", quantity: null },
      { name: "b", quantity: 4 },
      { name: "c", quantity: 9 },
    ]);
  });

  test("findOne with select returns the first match's selected fields, or null", async () => {
    await saveItems({ name: "low", quantity: 1, active: true }, { name: "high", quantity: 5, active: false });
    const top = await items().findOne({ orderBy: { quantity: "desc" }, select: ["name", "active"] });
    assert.deepEqual({ ...top }, { name: "high", active: false });
    assert.deepEqual(keysOf(top), ["active", "name"]);
    assert.equal(await items().findOne({ where: { name: "none" }, select: ["name"] }), null);
  });

  test("the order of the select list does not matter and a repeated field counts once", async () => {
    await saveItems({ name: "only", quantity: 2 });
    const [row] = await items().findAll({ select: ["quantity", "id", "quantity", "name"] });
    const saved = await items().findOne({ where: { name: "only" } });
    assert.deepEqual({ ...row }, { id: saved!.id, name: "only", quantity: 2 });
  });

  test("select works on a table with a generated increment key left out of the list", async () => {
    const sequenced = ctx.storage.repository(ConfSequenced);
    for (const label of ["x", "y"]) await sequenced.save(Object.assign(new ConfSequenced(), { label }));
    assert.deepEqual((await sequenced.findAll({ select: ["label"], orderBy: { id: "desc" } })).map((r) => ({ ...r })), [{ label: "y" }, { label: "x" }]);
  });

  test("iterate with select yields only the selected fields, every match once, in order", async () => {
    await saveItems(...["a", "b", "c", "d", "e"].map((name, i) => ({ name, quantity: i })));
    const seen: object[] = [];
    for await (const row of items().iterate({ select: ["name"], orderBy: { quantity: "desc" } }, { pageSize: 2 })) seen.push({ ...row });
    assert.deepEqual(seen, ["e", "d", "c", "b", "a"].map((name) => ({ name })));
  });

  test("inside a transaction, select sees the transaction's own uncommitted writes", async () => {
    await saveItems({ name: "before", quantity: 1 });
    await assert.rejects(
      ctx.storage.transaction(async () => {
        await saveItems({ name: "inside", quantity: 2 });
        const id = (await items().findOne({ where: { name: "before" } }))!.id;
        await items().update(id, { quantity: 10 });
        const rows = await items().findAll({ select: ["name", "quantity"], orderBy: { quantity: "asc" }, cache: true });
        assert.deepEqual(rows.map((r) => ({ ...r })), [
          { name: "inside", quantity: 2 },
          { name: "before", quantity: 10 },
        ]);
        throw new Error("roll back");
      }),
      /roll back/,
    );
    assert.deepEqual((await items().findAll({ select: ["name", "quantity"] })).map((r) => ({ ...r })), [{ name: "before", quantity: 1 }]);
  });

  test("with cache: true, a full query and a select query of the same where are distinct entries, and both see later writes", async () => {
    await saveItems({ name: "one", category: "k", quantity: 1 });
    const where = { category: "k" } as const;
    const full = await items().findAll({ where, cache: true });
    const picked = await items().findAll({ where, cache: true, select: ["name"] });
    const pickedWithKey = await items().findAll({ where, cache: true, select: ["id", "name"] });
    const fullAgain = await items().findAll({ where, cache: true });
    assert.ok(full[0] instanceof ConfItem && fullAgain[0] instanceof ConfItem, "the full query still returns entities");
    assert.equal(fullAgain[0]!.quantity, 1);
    assert.deepEqual(picked.map((r) => ({ ...r })), [{ name: "one" }]);
    assert.equal(Object.getPrototypeOf(picked[0]), Object.prototype);
    assert.deepEqual(pickedWithKey.map((r) => ({ ...r })), [{ id: full[0]!.id, name: "one" }]);
    assert.deepEqual((await items().findAll({ where, cache: true, select: ["quantity"] })).map((r) => ({ ...r })), [{ quantity: 1 }]);
    await items().update(full[0]!.id, { name: "renamed" });
    assert.deepEqual((await items().findAll({ where, cache: true, select: ["name"] })).map((r) => ({ ...r })), [{ name: "renamed" }]);
    assert.equal((await items().findAll({ where, cache: true }))[0]!.name, "renamed");
  });

  test("mutating a returned projection (Date, json) changes nothing stored or cached", async () => {
    await values().save({ id: "m", s: "s", i: 1, n: 1, b: true, d: new Date(1_000), j: { list: [1, 2] } });
    for (const cache of [false, true, true]) {
      const [row] = await values().findAll({ select: ["d", "j"], cache });
      assert.equal(row!.d!.getTime(), 1_000, `cache: ${cache}`);
      assert.deepEqual(row!.j, { list: [1, 2] }, `cache: ${cache}`);
      row!.d!.setTime(5);
      (row!.j as { list: number[] }).list.push(3);
      (row as Record<string, unknown>)["s"] = "added";
    }
    const stored = await values().findById("m");
    assert.equal(stored!.d!.getTime(), 1_000);
    assert.deepEqual(stored!.j, { list: [1, 2] });
    assert.equal(stored!.s, "s");
  });

  test("a select naming a field that is not a column, or not a list of names, is a QueryError naming it", async () => {
    await saveItems({ name: "kept" });
    await rejectsWithQueryError(items().findAll({ select: ["name", "nope"] as never }), '"nope"', "ConfItem", "select");
    await rejectsWithQueryError(items().findOne({ select: ["missing"] as never }), '"missing"', "ConfItem");
    await rejectsWithQueryError(items().findAll({ select: "name" as never }), "select", "ConfItem");
    await rejectsWithQueryError(items().findAll({ select: [] as never }), "select", "ConfItem");
    await rejectsWithQueryError(items().findAll({ select: [42] as never }), "select", "ConfItem");
    await rejectsWithQueryError(items().findAll({ select: ["name"], cache: true, where: { nope: 1 } as never }), '"nope"');
    assert.deepEqual((await items().findAll({ select: ["name"] })).map((r) => ({ ...r })), [{ name: "kept" }]);
  });
}
