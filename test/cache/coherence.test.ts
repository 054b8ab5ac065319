import "reflect-metadata";
import { afterEach, beforeAll, describe, expect, test } from "vitest";
import type { Storage } from "../../src/index.js";
import { createStorage } from "../../src/index.js";
import { Counter, Item, probe, registerTestBackends } from "./cache-test-kit.js";
import { coreOf } from "../../src/storage-core.js";

beforeAll(() => registerTestBackends());

let storage: Storage | undefined;
let seq = 0;
afterEach(async () => {
  const p = storage && probe(`co-${seq}`);
  if (p) p.gate = undefined;
  await storage?.close();
  storage = undefined;
});

async function open(): Promise<{ storage: Storage; name: string }> {
  const name = `co-${++seq}`;
  storage = await createStorage({ url: `probe:${name}`, entities: [Item, Counter], autoCreate: true, cache: { l1: {} } });
  return { storage, name };
}

const item = (id: string, extra: Partial<Item> = {}) => ({ id, name: `item ${id}`, quantity: 1, tags: null, ...extra }) as Item;

function gate(): { promise: Promise<void>; open(): void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe("memory: cache coherence", () => {
  test("single flight: 20 concurrent misses of one key make one backend read", async () => {
    const { storage, name } = await open();
    const items = storage.repository(Item);
    await items.save(item("x"));
    const hold = gate();
    probe(name).gate = hold.promise;
    const arrived = probe(name).nextArrival();
    const reads = Array.from({ length: 20 }, () => items.findById("x"));
    await arrived;
    hold.open();
    const found = await Promise.all(reads);
    expect(probe(name).reads.findById).toBe(1);
    expect(new Set(found).size).toBe(20); // each caller has its own copy
    expect(found.every((f) => f?.name === "item x")).toBe(true);
  });

  test("single flight across findById and findByIds: keys being read are not read again", async () => {
    const { storage, name } = await open();
    const items = storage.repository(Item);
    for (const id of ["a", "b"]) await items.save(item(id));
    const hold = gate();
    probe(name).gate = hold.promise;
    const arrived = probe(name).nextArrival();
    const one = items.findById("a");
    await arrived;
    const many = items.findByIds(["a", "b"]);
    const second = probe(name).nextArrival();
    await second;
    hold.open();
    expect((await one)?.id).toBe("a");
    expect((await many).map((i) => i.id)).toEqual(["a", "b"]);
    expect(probe(name).reads).toMatchObject({ findById: 1, findByIds: 1 });
  });

  test("a read that began before a write and ended after it does not leave the old value in the cache", async () => {
    const { storage, name } = await open();
    const items = storage.repository(Item);
    await items.save(item("x", { name: "old" }));
    const hold = gate();
    probe(name).gate = hold.promise;
    const arrived = probe(name).nextArrival();
    const racing = items.findById("x"); // reads "old", then waits at the gate
    await arrived;
    probe(name).gate = undefined;
    await items.update("x", { name: "new" }); // committed and announced while the read is held
    hold.open();
    expect((await racing)?.name).toBe("old"); // it began before the write: the old value is fair for it
    expect((await items.findById("x"))?.name).toBe("new");
    expect((await items.findById("x"))?.name).toBe("new");
  });

  test("the same race on a cached query: the old result is not installed", async () => {
    const { storage, name } = await open();
    const items = storage.repository(Item);
    await items.save(item("x", { quantity: 1 }));
    const hold = gate();
    probe(name).gate = hold.promise;
    const arrived = probe(name).nextArrival();
    const racing = items.findAll({ where: { quantity: 1 }, cache: true });
    await arrived;
    probe(name).gate = undefined;
    await items.update("x", { quantity: 2 });
    hold.open();
    expect(await racing).toHaveLength(1);
    expect(await items.findAll({ where: { quantity: 1 }, cache: true })).toHaveLength(0);
  });

  test("a write inside a transaction reaches the cache only after the commit; inside, reads see their own writes", async () => {
    const { storage, name } = await open();
    const items = storage.repository(Item);
    await items.save(item("x", { name: "before" }));
    await items.findById("x");
    let release!: () => void;
    const paused = new Promise<void>((resolve) => (release = resolve));
    let written!: () => void;
    const wroteInside = new Promise<void>((resolve) => (written = resolve));
    const tx = storage.transaction(async () => {
      await items.update("x", { name: "inside" });
      expect((await items.findById("x"))?.name).toBe("inside");
      written();
      await paused;
    });
    await wroteInside;
    // Outside the transaction, before its commit: the committed value, from the cache.
    const readsBefore = probe(name).reads.findById;
    expect((await items.findById("x"))?.name).toBe("before");
    expect(probe(name).reads.findById).toBe(readsBefore);
    release();
    await tx;
    expect((await items.findById("x"))?.name).toBe("inside");
  });

  test("nothing written in a transaction enters the cache", async () => {
    const { storage, name } = await open();
    const items = storage.repository(Item);
    await storage.transaction(async () => {
      await items.save(item("t"));
      await items.findById("t");
      await items.findAll({ cache: true });
    });
    expect(storage.cache.stats().l1.size).toBe(0);
    const reads = probe(name).reads.findById;
    expect((await items.findById("t"))?.id).toBe("t");
    expect(probe(name).reads.findById).toBe(reads + 1);
  });

  test("a rollback leaves the cache as it was", async () => {
    const { storage, name } = await open();
    const items = storage.repository(Item);
    await items.save(item("x", { name: "kept" }));
    await items.findById("x");
    const { hits } = storage.cache.stats().l1;
    await expect(
      storage.transaction(async () => {
        await items.update("x", { name: "discarded" });
        throw new Error("abort");
      }),
    ).rejects.toThrow("abort");
    const reads = probe(name).reads.findById;
    expect((await items.findById("x"))?.name).toBe("kept");
    expect(probe(name).reads.findById).toBe(reads); // still served from the cache
    expect(storage.cache.stats().l1.hits).toBe(hits + 1);
  });

  test("a nested transaction rolled back to its savepoint: only the outer writes are invalidated", async () => {
    const { storage } = await open();
    const items = storage.repository(Item);
    await items.save(item("a", { name: "a0" }));
    await items.save(item("b", { name: "b0" }));
    await items.findByIds(["a", "b"]);
    await storage.transaction(async () => {
      await items.update("a", { name: "a1" });
      await storage
        .transaction(async () => {
          await items.update("b", { name: "b1" });
          throw new Error("inner");
        })
        .catch(() => {});
    });
    expect((await items.findByIds(["a", "b"])).map((i) => i.name)).toEqual(["a1", "b0"]);
  });

  test("every kind of write invalidates the entity: save, update, delete, saveMany, deleteMany", async () => {
    const { storage } = await open();
    const items = storage.repository(Item);
    await items.save(item("x", { name: "v1" }));
    await items.findById("x");
    const v1 = (await items.findById("x"))!;
    await items.save({ ...v1, name: "v2" });
    expect((await items.findById("x"))?.name).toBe("v2");
    await items.saveMany([item("x", { name: "v3" }), item("y")]);
    expect((await items.findById("x"))?.name).toBe("v3");
    await items.deleteMany({ name: "v3" });
    expect(await items.findById("x")).toBeNull();
    expect((await items.findById("y"))?.id).toBe("y");
    await items.delete("y");
    expect(await items.findById("y")).toBeNull();
    const counters = storage.repository(Counter);
    await counters.save({ id: 1, value: 1 });
    await counters.findById(1);
    await counters.saveMany([{ id: 1, value: 2 }], { atomic: false });
    expect((await counters.findById(1))?.value).toBe(2);
  });

  test("cached queries: a repeat is served from the cache until any write to the table", async () => {
    const { storage, name } = await open();
    const items = storage.repository(Item);
    for (const id of ["a", "b", "c"]) await items.save(item(id, { quantity: id === "c" ? 5 : 1 }));
    const query = { where: { quantity: 1 }, orderBy: { id: "desc" as const }, cache: true };
    expect((await items.findAll(query)).map((i) => i.id)).toEqual(["b", "a"]);
    expect((await items.findAll(query)).map((i) => i.id)).toEqual(["b", "a"]);
    expect((await items.findOne(query))?.id).toBe("b");
    expect((await items.findOne(query))?.id).toBe("b");
    expect(await items.count({ quantity: 1 }, { cache: true })).toBe(2);
    expect(await items.count({ quantity: 1 }, { cache: true })).toBe(2);
    expect(probe(name).reads).toMatchObject({ find: 2, count: 1 });
    // A write to another row of the table still changes what the queries see.
    await items.save(item("d", { quantity: 1 }));
    expect((await items.findAll(query)).map((i) => i.id)).toEqual(["d", "b", "a"]);
    expect(await items.count({ quantity: 1 }, { cache: true })).toBe(3);
    // A query without `cache` always reads the backend.
    const finds = probe(name).reads.find;
    await items.findAll({ where: { quantity: 1 } });
    expect(probe(name).reads.find).toBe(finds + 1);
    // A write to another table leaves them cached.
    await storage.repository(Counter).save({ id: 1, value: 1 });
    await items.findAll(query);
    expect(probe(name).reads.find).toBe(finds + 1);
  });

  test("a cached query result is a copy; a query with a Date is keyed apart from one with its ISO string", async () => {
    const { storage } = await open();
    const items = storage.repository(Item);
    await items.save(item("a", { tags: ["t"] }));
    const first = await items.findAll({ cache: true });
    first[0]!.tags!.push("leak");
    first.pop();
    const second = await items.findAll({ cache: true });
    expect(second.map((i) => i.tags)).toEqual([["t"]]);
    const created = second[0]!.createdAt;
    expect(await items.count({ createdAt: created }, { cache: true })).toBe(1);
    expect(await items.count({ createdAt: { $gt: created } }, { cache: true })).toBe(0);
  });

  test("a bad cache option is a QueryError", async () => {
    const { storage } = await open();
    const items = storage.repository(Item);
    await expect(items.findAll({ cache: { ttlMs: -1 } })).rejects.toThrow(/cache must be/);
    await expect(items.count({}, { cache: "yes" as never })).rejects.toThrow(/cache must be/);
  });

  test("a query with cache: { ttlMs } is cached for that long", async () => {
    const { FakeClock } = await import("./cache-test-kit.js");
    const clock = new FakeClock();
    const name = `co-${++seq}`;
    storage = await createStorage({ url: `probe:${name}`, entities: [Item, Counter], autoCreate: true, cache: { l1: {}, clock } });
    const items = storage.repository(Item);
    await items.save(item("a"));
    await items.findAll({ cache: { ttlMs: 100 } });
    await items.findAll({ cache: { ttlMs: 100 } });
    expect(probe(name).reads.find).toBe(1);
    clock.advance(101);
    await items.findAll({ cache: { ttlMs: 100 } });
    expect(probe(name).reads.find).toBe(2);
  });

  test("a new schema version (a migration ran) makes every entry unreachable", async () => {
    const { storage, name } = await open();
    const items = storage.repository(Item);
    await items.save(item("x"));
    await items.findById("x");
    coreOf(storage).schemaVersion++;
    await items.findById("x");
    expect(probe(name).reads.findById).toBe(2);
  });

  test("100 concurrent read-increment-write transactions end at exactly +100 with the cache on", async () => {
    const { storage } = await open();
    const counters = storage.repository(Counter);
    await counters.save({ id: 1, value: 0 });
    await counters.findById(1);
    await Promise.all(
      Array.from({ length: 100 }, () =>
        storage.transaction(async () => {
          const c = (await counters.findById(1))!;
          await counters.save({ ...c, value: c.value + 1 });
        }),
      ),
    );
    expect((await counters.findById(1))?.value).toBe(100);
  });
});
