/**
 * Conformance: keyset iteration and cursor pages (README, "Iterating and paging"), on one backend.
 * `iterate` and `findPage` must walk exactly `findAll`'s order (nulls first ascending and last descending,
 * equal keys settled by the primary key, mixed directions), and rows written or deleted between pages must
 * never make another row repeat or vanish.
 */
import assert from "node:assert/strict";
import { QueryError, ValidationError } from "../errors.js";
import type { Storage } from "../storage.js";
import type { OrderBy } from "../query/query.js";
import { ConfCounter, ConfValue } from "./conformance-entities.js";

type Test = (name: string, fn: () => Promise<void>, timeout?: number) => void;

const S = ["b", "a", "B", null, "a", "\u{1F600}", "", null];
const I = [3, null, 1, 3, -2, 1, null];
const B = [true, false, null];
const D = [0, 86_400_000, null, 1_700_000_000_123, 0];

/** 30 rows full of nulls and ties: ids out of insertion order, so the tie-breaker is seen to work. */
async function seed(storage: Storage): Promise<void> {
  const rows = Array.from({ length: 30 }, (_, k) => {
    const d = D[k % D.length];
    return Object.assign(new ConfValue(), {
      id: `r${String((k * 7) % 30).padStart(2, "0")}`,
      s: S[k % S.length],
      i: I[k % I.length],
      n: k % 4 === 0 ? null : (k % 5) / 2,
      b: B[k % B.length],
      d: d === null || d === undefined ? null : new Date(d),
      j: null,
    });
  });
  await storage.repository(ConfValue).saveMany(rows);
}

const ORDERS: OrderBy<ConfValue>[] = [
  {},
  { s: "asc" },
  { s: "desc" },
  { i: "desc", s: "asc" },
  { b: "asc", d: "desc" },
  { b: "asc", d: "asc" },
  { d: "desc" },
  { n: "asc", i: "desc" },
  { id: "desc" },
  { i: "asc", id: "desc", s: "asc" },
];

const ids = (rows: readonly ConfValue[]) => rows.map((r) => r.id);

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of iterable) out.push(x);
  return out;
}

async function rejectsQuery(promise: Promise<unknown>, mentions: RegExp, field: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof QueryError, `expected QueryError, got ${(error as Error)?.constructor?.name}: ${(error as Error)?.message}`);
    assert.match(error.message, mentions);
    assert.equal(error.field, field);
    return true;
  });
}

/** Registers the keyset tests; `storage` is the group's storage (its tables emptied before each test). */
export function registerKeysetTests(test: Test, storage: () => Storage): void {
  const values = () => storage().repository(ConfValue);

  test("iterate walks every row once in findAll's order: nulls, equal keys, mixed directions, pageSize 1", async () => {
    await seed(storage());
    for (const orderBy of ORDERS) {
      const expected = ids(await values().findAll({ orderBy }));
      assert.equal(expected.length, 30);
      for (const pageSize of [1, 4, 7, 30, 500]) {
        assert.deepEqual(ids(await collect(values().iterate({ orderBy }, { pageSize }))), expected, `orderBy ${JSON.stringify(orderBy)}, pageSize ${pageSize}`);
      }
    }
  });

  test("iterate honours where, limit and offset over the whole walk", async () => {
    await seed(storage());
    const cases = [
      { where: { s: { $ne: "a" } }, orderBy: { s: "desc", d: "asc" }, limit: 11, offset: 3 },
      { where: [{ i: { $gte: 1 } }, { b: null }], orderBy: { i: "desc" }, offset: 5 },
      { orderBy: { d: "desc" }, limit: 7 },
      { orderBy: { n: "desc" }, limit: 0 },
      { orderBy: { s: "asc" }, offset: 40 },
    ] as const;
    for (const query of cases) {
      const expected = ids(await values().findAll(query as never));
      for (const pageSize of [1, 3, 8]) {
        assert.deepEqual(ids(await collect(values().iterate(query as never, { pageSize }))), expected, `${JSON.stringify(query)}, pageSize ${pageSize}`);
      }
    }
  });

  test("iterate starts each page after the last row: deleting or inserting rows while iterating makes none repeat or vanish", async () => {
    await seed(storage());
    const repo = values();
    const all = ids(await repo.findAll({ orderBy: { i: "desc", s: "asc" } }));
    const seen: string[] = [];
    let inserted = 0;
    for await (const row of repo.iterate({ orderBy: { i: "desc", s: "asc" } }, { pageSize: 4 })) {
      seen.push(row.id);
      // Deleting a row already seen would shift every later one an OFFSET further back; a keyset page does not move.
      await repo.delete(row.id);
      // A row placed before the current position (i = 1000 sorts first descending) must not come back.
      await repo.insert(Object.assign(new ConfValue(), { id: `new${inserted++}`, s: null, i: 1000, n: null, b: null, d: null, j: null }));
    }
    assert.deepEqual(seen, all);
  });

  test("a walk in an unindexed order (streamed where the backend can) keeps findAll's order, each row once, with where, select, limit and offset", async () => {
    const repo = values();
    // 120 rows whose s and n repeat (ties settled by the id) and are unindexed, ids out of insertion order.
    await repo.saveMany(
      Array.from({ length: 120 }, (_, k) =>
        Object.assign(new ConfValue(), { id: `u${String((k * 37) % 120).padStart(3, "0")}`, s: k % 9 === 0 ? null : `s${k % 7}`, i: k, n: (k * 13) % 11, b: k % 2 === 0, d: null, j: null }),
      ),
    );
    const queries = [
      { orderBy: { n: "desc", s: "asc" } },
      { where: { b: true }, orderBy: { s: "desc" }, offset: 5, limit: 23 },
      { where: [{ n: { $lt: 3 } }, { s: null }], orderBy: { n: "asc" } },
      { orderBy: { s: "asc" }, limit: 0 },
      { orderBy: { s: "asc" }, offset: 200 },
    ] as const;
    for (const query of queries) {
      const expected = ids(await repo.findAll(query as never));
      for (const pageSize of [1, 10, 500]) {
        const walked = ids(await collect(repo.iterate(query as never, { pageSize })));
        assert.deepEqual(walked, expected, `${JSON.stringify(query)}, pageSize ${pageSize}`);
      }
    }
    const projected = await collect(repo.iterate({ where: { b: false }, orderBy: { n: "desc" }, select: ["n"], limit: 30 }, { pageSize: 7 }));
    const expected = await repo.findAll({ where: { b: false }, orderBy: { n: "desc" }, select: ["n"], limit: 30 });
    assert.deepEqual(projected, expected);
    assert.deepEqual(Object.keys(projected[0]!), ["n"], "a projection holds exactly the selected fields");
  });

  test("leaving an unindexed-order walk early (break, a throw) releases it: writes, transactions and new walks go on and see the writes", async () => {
    await seed(storage());
    const repo = values();
    const orderBy = { n: "desc", s: "asc" } as const;
    for await (const row of repo.iterate({ orderBy }, { pageSize: 4 })) {
      assert.ok(row.id);
      break;
    }
    await assert.rejects(
      (async () => {
        for await (const _ of repo.iterate({ orderBy }, { pageSize: 4 })) throw new Error("stop here");
      })(),
      /stop here/,
    );
    await storage().transaction(async () => {
      await repo.insert(Object.assign(new ConfValue(), { id: "late", s: null, i: null, n: 1000, b: null, d: null, j: null }));
      await repo.delete("r00");
    });
    const walked = ids(await collect(repo.iterate({ orderBy }, { pageSize: 4 })));
    assert.equal(walked[0], "late", "a walk started after the write sees it");
    assert.ok(!walked.includes("r00"));
    assert.deepEqual(walked, ids(await repo.findAll({ orderBy })));
  });

  test("a walk while rows are written yields each row left untouched exactly once, in order", async () => {
    await seed(storage());
    const repo = values();
    for (const orderBy of [{ n: "asc", s: "desc" }, { s: "asc" }] as const) {
      const before = await repo.findAll({ orderBy });
      const touched = new Set<string>();
      const seen: string[] = [];
      let k = 0;
      for await (const row of repo.iterate({ orderBy }, { pageSize: 3 })) {
        seen.push(row.id);
        // Move a row not seen yet to either end of the order, delete another one, insert a new one.
        const ahead = before.filter((r) => !seen.includes(r.id) && !touched.has(r.id));
        const moved = ahead[ahead.length - 1];
        if (moved) {
          touched.add(moved.id);
          await repo.update(moved.id, k % 2 === 0 ? { n: -1, s: "" } : { n: 1e9, s: "\u{10FFFF}" });
        }
        const gone = ahead[0];
        if (gone && gone.id !== moved?.id) {
          touched.add(gone.id);
          await repo.delete(gone.id);
        }
        await repo.insert(Object.assign(new ConfValue(), { id: `w${k++}`, s: "m", i: null, n: 0.5, b: null, d: null, j: null }));
      }
      assert.equal(new Set(seen).size, seen.length, `orderBy ${JSON.stringify(orderBy)}: no row twice: ${seen.join(",")}`);
      const untouched = before.map((r) => r.id).filter((id) => !touched.has(id));
      assert.deepEqual(
        seen.filter((id) => untouched.includes(id)),
        untouched,
        `orderBy ${JSON.stringify(orderBy)}: every untouched row once, in order`,
      );
      await repo.deleteMany({});
      await seed(storage());
    }
  });

  test("iterate reads through the ambient transaction", async () => {
    await seed(storage());
    await storage().transaction(async () => {
      await values().delete("r00");
      await values().insert(Object.assign(new ConfValue(), { id: "zz", s: "a", i: null, n: null, b: null, d: null, j: null }));
      const expected = ids(await values().findAll({ orderBy: { s: "asc" } }));
      assert.ok(expected.includes("zz") && !expected.includes("r00"));
      assert.deepEqual(ids(await collect(values().iterate({ orderBy: { s: "asc" } }, { pageSize: 3 }))), expected);
    });
  });

  test("findPage walks exactly findAll's order, page by page, and ends with a null cursor", async () => {
    await seed(storage());
    for (const orderBy of ORDERS) {
      for (const where of [undefined, { s: { $nin: ["b"] } }, [{ i: null }, { d: { $gt: new Date(0) } }]]) {
        const expected = ids(await values().findAll({ where: where as never, orderBy }));
        for (const first of [1, 4, 30]) {
          const seen: string[] = [];
          let after: string | null = null;
          let pages = 0;
          do {
            const page: { items: ConfValue[]; nextCursor: string | null } = await values().findPage({ where: where as never, orderBy, first, after });
            assert.ok(page.items.length <= first);
            if (page.nextCursor !== null) assert.equal(page.items.length, first, "only the last page is short");
            seen.push(...ids(page.items));
            after = page.nextCursor;
            assert.ok(++pages <= 31, "the walk ends");
          } while (after !== null);
          assert.deepEqual(seen, expected, `where ${JSON.stringify(where)}, orderBy ${JSON.stringify(orderBy)}, first ${first}`);
        }
      }
    }
    // Exactly `first` rows left: the page is full and says no more.
    const last = await values().findPage({ orderBy: { s: "asc" }, first: 30 });
    assert.equal(last.items.length, 30);
    assert.equal(last.nextCursor, null);
    await values().deleteMany({});
    assert.deepEqual(await values().findPage({ first: 5 }), { items: [], nextCursor: null });
  });

  test("findPage cursors are stable: rows inserted before or after the position, or the cursor's own row deleted, make none repeat or vanish", async () => {
    await seed(storage());
    const repo = values();
    const orderBy = { i: "desc", d: "asc" } as const;
    const present = new Set(ids(await repo.findAll({ orderBy })));
    const deleted = new Set<string>();
    const cursorRows = new Set<string>();
    const seen: string[] = [];
    let page = await repo.findPage({ orderBy, first: 4 });
    let round = 0;
    for (;;) {
      seen.push(...ids(page.items));
      if (page.nextCursor === null) break;
      const lastRow = page.items.at(-1)!;
      // The cursor's own row goes; so does one row not seen yet (it must not be looked for).
      await repo.delete(lastRow.id);
      deleted.add(lastRow.id);
      cursorRows.add(lastRow.id);
      const ahead = (await repo.findAll({ orderBy })).find((r) => !seen.includes(r.id) && r.id.startsWith("r"));
      if (ahead && round % 2 === 0) {
        await repo.delete(ahead.id);
        deleted.add(ahead.id);
      }
      // New rows on both sides of the position: i = 100 sorts before every seeded row, i = -100 after every non-null one.
      for (const i of [100, -100]) {
        await repo.insert(Object.assign(new ConfValue(), { id: `n${round}_${i}`, s: null, i, n: null, b: null, d: null, j: null }));
      }
      page = await repo.findPage({ orderBy, first: 4, after: page.nextCursor });
      round++;
    }
    assert.equal(new Set(seen).size, seen.length, `no row repeats: ${seen.join(",")}`);
    for (const id of present) {
      if (!deleted.has(id)) assert.ok(seen.includes(id), `${id} was present and never deleted, yet not returned`);
      else if (!cursorRows.has(id)) assert.ok(!seen.includes(id), `${id} was deleted before its page, yet returned`);
    }
    assert.ok(!seen.some((id) => id.endsWith("_100")), "rows inserted before the position are not returned");
    assert.ok(seen.some((id) => id.endsWith("_-100")), "rows inserted after the position are reached");
  });

  test("terms after the primary key decide nothing: changing one on the cursor's row does not bring it back", async () => {
    await seed(storage());
    const repo = values();
    const orderBy = { i: "asc", id: "asc", s: "asc" } as const;
    const expected = ids(await repo.findAll({ orderBy }));
    const first = await repo.findPage({ orderBy, first: 3 });
    // The row does not move (the id settles the order before s): the next page still starts after it.
    await repo.update(first.items[2]!.id, { s: "\u{10FFFF}" });
    const second = await repo.findPage({ orderBy, first: 3, after: first.nextCursor });
    assert.deepEqual([...ids(first.items), ...ids(second.items)], expected.slice(0, 6));
    const walked: string[] = [];
    for await (const row of repo.iterate({ orderBy }, { pageSize: 2 })) {
      walked.push(row.id);
      await repo.update(row.id, { s: `${row.s ?? ""}~` });
    }
    assert.deepEqual(walked, expected);
  });

  test("findPage with cache: each page is cached, and a write to the table shows in the next read", async () => {
    await seed(storage());
    const repo = values();
    const query = { orderBy: { s: "asc" }, first: 5, cache: true } as const;
    const first = await repo.findPage(query);
    assert.deepEqual(await repo.findPage(query), first);
    const second = await repo.findPage({ ...query, after: first.nextCursor });
    assert.deepEqual(ids(second.items), ids(await repo.findAll({ orderBy: { s: "asc" }, offset: 5, limit: 5 })));
    // Mutating what a cached read returned changes nothing stored or cached.
    second.items[0]!.s = "changed";
    assert.notEqual((await repo.findPage({ ...query, after: first.nextCursor })).items[0]!.s, "changed");
    await repo.save(Object.assign(new ConfValue(), { id: "a0", s: null, i: null, n: null, b: null, d: null, j: null }));
    assert.equal((await repo.findPage(query)).items[0]!.id, "a0");
  });

  test("a cursor of another query, altered or malformed is a QueryError naming after", async () => {
    await seed(storage());
    const repo = values();
    const { nextCursor } = await repo.findPage({ where: { b: { $ne: true } }, orderBy: { s: "desc" }, first: 3 });
    assert.ok(nextCursor);
    // The same where and orderBy, another page size, and the where's keys in another order: the same query.
    await repo.findPage({ where: { b: { $ne: true } }, orderBy: { s: "desc" }, first: 7, after: nextCursor });
    const both = await repo.findPage({ where: { b: { $ne: true }, i: { $ne: 99 } }, orderBy: { s: "desc" }, first: 2 });
    const swapped = await repo.findPage({ where: { i: { $ne: 99 }, b: { $ne: true } }, orderBy: { s: "desc" }, first: 2, after: both.nextCursor });
    assert.deepEqual(ids(swapped.items), ids((await repo.findAll({ where: { b: { $ne: true } }, orderBy: { s: "desc" } })).slice(2, 4)));
    const another = /another query/;
    await rejectsQuery(repo.findPage({ where: { b: { $ne: false } }, orderBy: { s: "desc" }, first: 3, after: nextCursor }), another, "after");
    await rejectsQuery(repo.findPage({ where: { b: { $ne: true } }, orderBy: { s: "asc" }, first: 3, after: nextCursor }), another, "after");
    await rejectsQuery(repo.findPage({ where: { b: { $ne: true } }, first: 3, after: nextCursor }), another, "after");
    const counters = storage().repository(ConfCounter);
    await counters.insert({ id: "c", value: 1 });
    await rejectsQuery(counters.findPage({ first: 3, after: nextCursor }), another, "after");
    // One character changed, inside the encoded values.
    const json = Buffer.from(nextCursor, "base64url").toString("utf8");
    const altered = Buffer.from(json.replace(/"k":\["/, '"k":["~'), "utf8").toString("base64url");
    assert.notEqual(altered, nextCursor);
    await rejectsQuery(repo.findPage({ where: { b: { $ne: true } }, orderBy: { s: "desc" }, first: 3, after: altered }), /altered/, "after");
    for (const garbage of ["", "not a cursor!", "e30", nextCursor.slice(0, 20), Buffer.from('{"v":2}').toString("base64url"), 42, {}]) {
      await rejectsQuery(repo.findPage({ where: { b: { $ne: true } }, orderBy: { s: "desc" }, first: 3, after: garbage as never }), /after/, "after");
    }
  });

  test("findPage: first must be a positive integer; limit, offset and select are QueryErrors; bad where still is", async () => {
    for (const first of [0, -1, 1.5, "3", undefined, null, Number.NaN, Infinity]) {
      await rejectsQuery(values().findPage({ first } as never), /first/, "first");
    }
    await rejectsQuery(values().findPage({ first: 2, limit: 3 } as never), /limit/, "limit");
    await rejectsQuery(values().findPage({ first: 2, offset: 1 } as never), /offset/, "offset");
    // A projection would leave the cursor without its sort values: a later page would start in the wrong place.
    await rejectsQuery(values().findPage({ first: 2, orderBy: { i: "desc" }, select: ["s"] } as never), /select/, "select");
    await assert.rejects(values().findPage(undefined as never), QueryError);
    await assert.rejects(values().findPage({ first: 2, where: { nope: 1 } } as never), (e: unknown) => e instanceof QueryError && /nope/.test(e.message));
    await assert.rejects(collect(values().iterate({}, { pageSize: 0 })), ValidationError);
  });
}
