import "reflect-metadata";
import { afterEach, beforeAll, describe, expect, test } from "vitest";
import type { Storage, StorageConfig } from "../../src/index.js";
import { ConfigError, createStorage } from "../../src/index.js";
import { FakeClock, Item, probe, registerTestBackends } from "./cache-test-kit.js";

beforeAll(() => registerTestBackends());

let storage: Storage | undefined;
let seq = 0;
afterEach(async () => {
  await storage?.close();
  storage = undefined;
});

async function open(cache: StorageConfig["cache"]): Promise<{ storage: Storage; name: string }> {
  const name = `l1-${++seq}`;
  storage = await createStorage({ url: `probe:${name}`, entities: [Item], autoCreate: true, ...(cache !== undefined ? { cache } : {}) });
  return { storage, name };
}

const item = (id: string, extra: Partial<Item> = {}) => ({ id, name: `item ${id}`, quantity: 1, tags: ["a"], ...extra }) as Item;

describe("memory: L1 cache", () => {
  test("a hit returns a fresh copy: mutating it (fields, Date, json) changes nothing cached", async () => {
    const { storage, name } = await open(undefined);
    const items = storage.repository(Item);
    await items.save(item("x", { tags: ["red", "blue"] }));
    const first = (await items.findById("x"))!;
    expect(first).toBeInstanceOf(Item);
    first.name = "changed";
    first.tags!.push("green");
    first.createdAt.setTime(0);
    const second = (await items.findById("x"))!;
    expect(second).toBeInstanceOf(Item);
    expect(second.name).toBe("item x");
    expect(second.tags).toEqual(["red", "blue"]);
    expect(second.createdAt.getTime()).not.toBe(0);
    expect(second).not.toBe(first);
    expect(probe(name).reads.findById).toBe(1);
    expect(storage.cache.stats().l1).toMatchObject({ hits: 1, misses: 1, size: 1 });
  });

  test("is on by default for the memory backend and off with cache: false", async () => {
    const on = await open(undefined);
    expect(on.storage.cache.enabled).toBe(true);
    await on.storage.close();
    const { storage, name } = await open(false);
    expect(storage.cache.enabled).toBe(false);
    const items = storage.repository(Item);
    await items.save(item("x"));
    await items.findById("x");
    await items.findById("x");
    expect(probe(name).reads.findById).toBe(2);
    expect(storage.cache.stats()).toEqual({ l1: { hits: 0, misses: 0, size: 0, evictions: 0 }, l2: { hits: 0, misses: 0, errors: 0 } });
  });

  test("an absent entity is remembered until it is inserted", async () => {
    const { storage, name } = await open({ l1: {} });
    const items = storage.repository(Item);
    expect(await items.findById("nope")).toBeNull();
    expect(await items.exists("nope")).toBe(false);
    expect(probe(name).reads.findById).toBe(1);
    await items.insert(item("nope"));
    expect((await items.findById("nope"))?.name).toBe("item nope");
  });

  test("max bounds the number of entries; the least recently used go first", async () => {
    const { storage, name } = await open({ l1: { max: 3 } });
    const items = storage.repository(Item);
    for (const id of ["a", "b", "c", "d", "e"]) await items.save(item(id));
    for (const id of ["a", "b", "c", "d", "e"]) await items.findById(id);
    expect(storage.cache.stats().l1).toMatchObject({ size: 3, evictions: 2 });
    const before = probe(name).reads.findById;
    await items.findById("e"); // kept
    expect(probe(name).reads.findById).toBe(before);
    await items.findById("a"); // evicted
    expect(probe(name).reads.findById).toBe(before + 1);
  });

  test("maxSizeBytes bounds the estimated bytes held, whatever the entry count", async () => {
    const { storage } = await open({ l1: { max: 1000, maxSizeBytes: 8 * 1024 } });
    const items = storage.repository(Item);
    const big = "x".repeat(500);
    for (let i = 0; i < 100; i++) await items.save(item(`k${i}`, { name: big }));
    for (let i = 0; i < 100; i++) await items.findById(`k${i}`);
    const { size, evictions } = storage.cache.stats().l1;
    // Each entry holds over 1 KB (500 UTF-16 characters), so fewer than 8 fit.
    expect(size).toBeGreaterThan(0);
    expect(size).toBeLessThan(8);
    expect(evictions).toBe(100 - size);
  });

  test("ttlMs expires entries by the injected clock", async () => {
    const clock = new FakeClock();
    const { storage, name } = await open({ l1: { ttlMs: 1000 }, clock });
    const items = storage.repository(Item);
    await items.save(item("x"));
    await items.findById("x");
    clock.advance(999);
    await items.findById("x");
    expect(probe(name).reads.findById).toBe(1);
    clock.advance(2);
    await items.findById("x");
    expect(probe(name).reads.findById).toBe(2);
    expect(storage.cache.stats().l1.evictions).toBe(1);
  });

  test("findByIds reads only the misses from the backend, keeps the order of ids and hands out distinct copies", async () => {
    const { storage, name } = await open({ l1: {} });
    const items = storage.repository(Item);
    for (const id of ["a", "b", "c"]) await items.save(item(id));
    await items.findById("b");
    const found = await items.findByIds(["c", "b", "zz", "a", "b"]);
    expect(found.map((i) => i.id)).toEqual(["c", "b", "a", "b"]);
    expect(found[1]).not.toBe(found[3]);
    expect(found[1]!.tags).not.toBe(found[3]!.tags);
    expect(probe(name).reads.findByIds).toBe(1);
    const again = await items.findByIds(["a", "b", "c", "zz"]);
    expect(again.map((i) => i.id)).toEqual(["a", "b", "c"]);
    expect(probe(name).reads.findByIds).toBe(1);
    expect(probe(name).reads.findById).toBe(1);
  });

  test("clear() empties the cache", async () => {
    const { storage, name } = await open({ l1: {} });
    const items = storage.repository(Item);
    await items.save(item("x"));
    await items.findById("x");
    await storage.cache.clear();
    expect(storage.cache.stats().l1.size).toBe(0);
    await items.findById("x");
    expect(probe(name).reads.findById).toBe(2);
  });

  test("a bad cache config is a ConfigError naming the field", async () => {
    await expect(createStorage({ url: "memory:", entities: [Item], cache: { l1: { max: -5 } } })).rejects.toThrow(ConfigError);
    await expect(createStorage({ url: "memory:", entities: [Item], cache: { l1: { max: -5 } } })).rejects.toThrow(/cache\.l1\.max/);
  });
});
