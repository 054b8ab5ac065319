import "reflect-metadata";
import { afterEach, beforeAll, describe, expect, test } from "vitest";
import type { CacheConfig, Storage } from "../../src/index.js";
import { createStorage } from "../../src/index.js";
import { FakeClock, Item, probe, recordingLogger, registerTestBackends, waitFor } from "./cache-test-kit.js";
import { assertRedisReachable, deletePrefix, RedisProxy, redisUrl, servicesRequired, uniquePrefix } from "./redis-service.js";
import { coreOf } from "../../src/storage-core.js";
import type { RedisBus } from "../../src/cache/bus/redis-bus.js";

beforeAll(() => registerTestBackends());

const opened: Storage[] = [];
const prefixes: string[] = [];

/** A key prefix of this test's own, deleted after the file. */
function ownPrefix(): string {
  const prefix = uniquePrefix();
  prefixes.push(prefix);
  return prefix;
}

/** A proxy in front of the test Redis that a test can cut, freeze and restore. */
async function startProxy(): Promise<RedisProxy> {
  const proxy = new RedisProxy(new URL(redisUrl!));
  await proxy.up();
  return proxy;
}
let seq = 0;
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
  for (const p of prefixes.splice(0)) await deletePrefix(p);
});

const item = (id: string, extra: Partial<Item> = {}) => ({ id, name: `item ${id}`, quantity: 1, tags: ["t"], ...extra }) as Item;

/** Waits until `storage` serves `id` with `name` from its L1 (a read that counts as an L1 hit). */
async function holdsInL1(storage: Storage, id: string, name: string): Promise<void> {
  const items = storage.repository(Item);
  await waitFor(
    async () => {
      const hits = storage.cache.stats().l1.hits;
      return (await items.findById(id))?.name === name && storage.cache.stats().l1.hits > hits;
    },
    2000,
    `${id} held as ${name} in L1`,
  );
}

async function open(url: string, cache: CacheConfig, logger = recordingLogger()): Promise<Storage> {
  const storage = await createStorage({ url, entities: [Item], autoCreate: true, cache, logger });
  opened.push(storage);
  return storage;
}

describe("memory: Redis L2 unreachable at start", () => {
  test("reads and writes go on against the backend; one warning; errors counted", async () => {
    const logger = recordingLogger();
    const name = `redis-down-${++seq}`;
    const storage = await open(`probe:${name}`, { l1: false, l2: { type: "redis", url: "redis://127.0.0.1:1", prefix: uniquePrefix() } }, logger);
    const items = storage.repository(Item);
    for (let i = 0; i < 5; i++) {
      await items.save(item(`k${i}`, { name: "v1" }));
      expect((await items.findById(`k${i}`))?.name).toBe("v1");
      await items.update(`k${i}`, { name: "v2" });
      expect((await items.findById(`k${i}`))?.name).toBe("v2");
    }
    expect(probe(name).reads.findById).toBe(10);
    expect(storage.cache.stats().l2.errors).toBeGreaterThanOrEqual(1);
    expect(logger.warnings.filter((w) => w.includes("Redis"))).toHaveLength(1);
  });
});

const withRedis = redisUrl !== undefined || servicesRequired;

describe.runIf(withRedis)("memory: Redis L2 cache", () => {
  beforeAll(() => assertRedisReachable());

  function redisCache(prefix: string, l1: CacheConfig["l1"] = {}, extra: Partial<Extract<NonNullable<CacheConfig["l2"]>, { type: "redis" }>> = {}): CacheConfig {
    return { l1, l2: { type: "redis", url: redisUrl!, prefix, ...extra } };
  }

  test("an L2 hit serves another storage on the same Redis (L1 off), and is a fresh copy", async () => {
    const prefix = ownPrefix();
    const data = `shared-${++seq}`;
    const a = await open(`shared:${data}`, redisCache(prefix, false));
    const b = await open(`shared:${data}`, redisCache(prefix, false));
    await a.repository(Item).save(item("x", { tags: ["red"] }));
    await a.repository(Item).findById("x"); // miss: read from the backend, stored in Redis
    await waitFor(async () => (await b.repository(Item).findById("x")) !== null && b.cache.stats().l2.hits > 0, 2000, "b hits L2");
    const got = (await b.repository(Item).findById("x"))!;
    expect(got).toBeInstanceOf(Item);
    expect(got.tags).toEqual(["red"]);
    expect(got.createdAt).toBeInstanceOf(Date);
    got.tags!.push("leak");
    expect((await b.repository(Item).findById("x"))!.tags).toEqual(["red"]);
  });

  test("two storages on one Redis: a write in one is seen by the other within 100 ms (its L1 copy dropped)", async () => {
    const prefix = ownPrefix();
    const data = `shared-${++seq}`;
    const a = await open(`shared:${data}`, redisCache(prefix));
    const b = await open(`shared:${data}`, redisCache(prefix));
    const itemsA = a.repository(Item);
    const itemsB = b.repository(Item);
    await itemsA.save(item("x", { name: "v1" }));
    // Until a's invalidation message for its insert has arrived, b may drop its copy once more.
    await holdsInL1(b, "x", "v1");
    await itemsA.update("x", { name: "v2" });
    await waitFor(async () => (await itemsB.findById("x"))?.name === "v2", 100, "b sees a's write");
    await itemsB.update("x", { name: "v3" });
    await waitFor(async () => (await itemsA.findById("x"))?.name === "v3", 100, "a sees b's write");
    // A bulk write in one drops every cached entity of the table in the other.
    await itemsB.findAll({ cache: true });
    await itemsA.deleteMany({});
    await waitFor(async () => (await itemsB.findById("x")) === null && (await itemsB.findAll({ cache: true })).length === 0, 100, "b sees a's bulk delete");
  });

  test("a migration in one storage (new schema version, tables rewritten) is not hidden from another by L2 entries of the old version", async () => {
    const prefix = ownPrefix();
    const data = `shared-${++seq}`;
    const a = await open(`shared:${data}`, redisCache(prefix));
    const b = await open(`shared:${data}`, redisCache(prefix, false));
    await a.repository(Item).save(item("x", { name: "before" }));
    await waitFor(async () => (await b.repository(Item).findById("x"))?.name === "before" && b.cache.stats().l2.hits > 0, 2000, "b reads x from L2");
    // What the migration runner does: rewrite rows behind the repositories, bump the version, note the tables.
    await coreOf(a).backend.session.update(coreOf(a).schemaOf(Item), "x", { name: "migrated" });
    coreOf(a).schemaVersion++;
    coreOf(a).transactions.noteWrite("cache_items");
    await waitFor(async () => (await b.repository(Item).findById("x"))?.name === "migrated", 100, "b sees the migrated row");
    expect((await a.repository(Item).findById("x"))?.name).toBe("migrated");
  });

  test("after a migration, a write by a peer on the older schema version is not hidden by this storage's L2 entry of the newer one", async () => {
    const prefix = ownPrefix();
    const data = `shared-${++seq}`;
    const migrated = await open(`shared:${data}`, redisCache(prefix, false));
    const before = await open(`shared:${data}`, redisCache(prefix, false)); // a process still running since before the migration
    await before.repository(Item).save(item("x", { name: "v1" }));
    // The migration runs in `migrated` (what the runner does: bump the version, drop the touched tables).
    await coreOf(migrated).schemaChanged(["cache_items"]);
    // Each fills L2 under its own schema version's key.
    await waitFor(async () => (await migrated.repository(Item).findById("x"))?.name === "v1" && migrated.cache.stats().l2.hits > 0, 2000, "migrated reads x from L2");
    await waitFor(async () => (await before.repository(Item).findById("x"))?.name === "v1" && before.cache.stats().l2.hits > 0, 2000, "before reads x from L2");
    await before.repository(Item).update("x", { name: "v2" });
    await waitFor(async () => (await migrated.repository(Item).findById("x"))?.name === "v2", 2000, "migrated sees the peer's write");
    await migrated.repository(Item).update("x", { name: "v3" });
    await waitFor(async () => (await before.repository(Item).findById("x"))?.name === "v3", 2000, "before sees the peer's write");
  });

  test("a fill that read before another process's invalidation is refused by Redis itself", async () => {
    const prefix = ownPrefix();
    const { openRedisTier } = await import("../../src/cache/l2/redis-tier.js");
    const options = { url: redisUrl!, prefix, clock: { now: () => Date.now() }, logger: recordingLogger(), onRemoteInvalidation: () => {}, sharedData: false, onBusChange: () => {} };
    const one = await openRedisTier(options);
    const two = await openRedisTier(options);
    try {
      const key = "e|0|cache_items|x";
      const stale = await one.read(key);
      await two.invalidate([key], [], [["cache_items", ["x"]]]);
      await one.write(key, '["old"]', stale.guard);
      expect((await two.read(key)).value).toBeUndefined();
      const fresh = await one.read(key);
      await one.write(key, '["new"]', fresh.guard);
      expect((await two.read(key)).value).toBe('["new"]');
      // A bulk write (the whole table) refuses older fills too.
      const other = "e|0|cache_items|y";
      const before = await one.read(other);
      await two.invalidate([], ["cache_items"], [["cache_items", "all"]]);
      await one.write(other, '["old"]', before.guard);
      expect((await two.read(other)).value).toBeUndefined();
      expect((await two.read(key)).value).toBeUndefined(); // dropped by the bulk write
    } finally {
      await one.close();
      await two.close();
    }
  });

  test("Redis going down mid-run: reads and writes go on, one warning, errors counted, and no stale entry is served once it is back", async () => {
    const prefix = ownPrefix();
    const proxy = await startProxy();
    const clock = new FakeClock();
    const logger = recordingLogger();
    const name = `redis-mid-${++seq}`;
    const storage = await open(`probe:${name}`, { l1: false, l2: { type: "redis", url: proxy.url, prefix }, clock }, logger);
    const items = storage.repository(Item);
    try {
      await items.save(item("x", { name: "v1" }));
      await items.findById("x");
      await waitFor(async () => (await items.findById("x"))?.name === "v1" && storage.cache.stats().l2.hits > 0, 2000, "served from Redis");
      await proxy.down();
      for (let i = 0; i < 5; i++) {
        expect((await items.findById("x"))?.name).toBe(i === 0 ? "v1" : "v2");
        if (i === 0) await items.update("x", { name: "v2" }); // its invalidation cannot reach Redis
      }
      expect(storage.cache.stats().l2.errors).toBeGreaterThanOrEqual(1);
      expect(logger.warnings.filter((w) => w.includes("Redis"))).toHaveLength(1);
      await proxy.up();
      const used = () => storage.cache.stats().l2.hits + storage.cache.stats().l2.misses;
      const before = used();
      await waitFor(
        async () => {
          clock.advance(2001); // past the circuit breaker's retry delay
          expect((await items.findById("x"))?.name).toBe("v2");
          return used() > before;
        },
        5000,
        "Redis used again",
      );
      expect((await items.findById("x"))?.name).toBe("v2");
    } finally {
      await proxy.down();
    }
  });

  test("a write whose invalidation could not reach Redis still reaches other processes once Redis is back", async () => {
    const prefix = ownPrefix();
    const proxy = await startProxy();
    const clock = new FakeClock();
    const data = `outage-${++seq}`;
    // a reaches Redis through a proxy we can cut; b directly, so b's subscription never drops.
    const a = await open(`shared:${data}`, { l2: { type: "redis", url: proxy.url, prefix }, clock });
    const b = await open(`shared:${data}`, redisCache(prefix));
    const itemsA = a.repository(Item);
    const itemsB = b.repository(Item);
    try {
      await itemsA.save(item("x", { name: "v1" }));
      await holdsInL1(b, "x", "v1");
      await proxy.down();
      await itemsA.update("x", { name: "v2" }); // committed; its invalidation cannot be sent
      expect((await itemsB.findById("x"))?.name).toBe("v1"); // b could not have heard of it yet
      await proxy.up();
      await waitFor(
        async () => {
          clock.advance(2001); // past a's circuit breaker retry delay
          await itemsA.findById("y"); // a uses Redis again, and so recovers
          return (await itemsB.findById("x"))?.name === "v2";
        },
        5000,
        "b sees a's write once Redis is back",
      );
    } finally {
      await proxy.down();
    }
  });

  test("shared data: a peer's commit is seen despite a silent partition of the subscription (heartbeat), and L1 is used again after it", async () => {
    const prefix = ownPrefix();
    const proxy = await startProxy();
    const data = `partition-${++seq}`;
    // a reaches Redis through a proxy that goes silent; b directly, so b's commits reach Redis.
    const logger = recordingLogger();
    const a = await open(`shared:${data}`, { l1: {}, l2: { type: "redis", url: proxy.url, prefix, heartbeatMs: 100 } }, logger);
    const b = await open(`shared:${data}`, redisCache(prefix));
    const itemsA = a.repository(Item);
    try {
      await b.repository(Item).save(item("x", { name: "v1" }));
      await holdsInL1(a, "x", "v1");
      proxy.freeze();
      await b.repository(Item).update("x", { name: "v2" }); // published; a hears nothing, and no socket closes
      // The README's bound is 2 x heartbeatMs (200 ms); the deadline leaves room for a loaded machine.
      await waitFor(async () => (await itemsA.findById("x"))?.name === "v2", 3000, "a sees b's commit despite the partition");
      for (let i = 0; i < 5; i++) expect((await itemsA.findById("x"))?.name).toBe("v2");
      expect(logger.warnings.some((w) => w.includes("did not answer for 100 ms"))).toBe(true);
      proxy.thaw();
      await holdsInL1(a, "x", "v2"); // the bus is back: L1 is trusted again...
      await b.repository(Item).update("x", { name: "v3" });
      await waitFor(async () => (await itemsA.findById("x"))?.name === "v3", 1000, "a hears b's commits again"); // ...and invalidated again
    } finally {
      await proxy.down();
    }
  });

  test("shared data: a read begun before the subscription was lost and ended after it came back fills nothing", async () => {
    const prefix = ownPrefix();
    const proxy = await startProxy();
    const data = `inflight-${++seq}`;
    const a = await open(`shared:${data}@a`, { l1: {}, l2: { type: "redis", url: proxy.url, prefix } });
    const b = await open(`shared:${data}`, redisCache(prefix));
    const bus = coreOf(a).cache!.l2!.bus as RedisBus;
    try {
      await b.repository(Item).save(item("x", { name: "v1" }));
      await holdsInL1(a, "x", "v1"); // b's message about its save has arrived: nothing else will mark the read stale
      await a.cache.clear();
      let open!: () => void;
      probe(`${data}@a`).gate = new Promise<void>((resolve) => (open = resolve));
      const arrived = probe(`${data}@a`).nextArrival();
      const racing = a.repository(Item).findById("x"); // reads v1 from the backend, then waits at the gate
      await arrived;
      probe(`${data}@a`).gate = undefined;
      await proxy.down();
      await waitFor(() => !bus.busUp, 2000, "a loses the subscription");
      await b.repository(Item).update("x", { name: "v2" }); // a cannot hear of it
      await proxy.up();
      await waitFor(() => bus.busUp, 5000, "a subscribes again");
      open();
      expect((await racing)?.name).toBe("v1"); // it began before the write: fair for that caller
      for (let i = 0; i < 3; i++) expect((await a.repository(Item).findById("x"))?.name).toBe("v2");
    } finally {
      await proxy.down();
    }
  });

  test("data only this process writes (memory): L1 keeps serving while Redis is down", async () => {
    const prefix = ownPrefix();
    const proxy = await startProxy();
    const name = `single-${++seq}`;
    const storage = await open(`probe:${name}`, { l1: {}, l2: { type: "redis", url: proxy.url, prefix } });
    const items = storage.repository(Item);
    try {
      await items.save(item("x", { name: "v1" }));
      await holdsInL1(storage, "x", "v1");
      await proxy.down();
      const bus = coreOf(storage).cache!.l2!.bus as RedisBus;
      await waitFor(() => !bus.busUp, 2000, "the subscription is lost");
      const reads = probe(name).reads.findById;
      const { hits } = storage.cache.stats().l1;
      for (let i = 0; i < 5; i++) expect((await items.findById("x"))?.name).toBe("v1");
      expect(storage.cache.stats().l1.hits).toBe(hits + 5);
      expect(probe(name).reads.findById).toBe(reads);
      await items.update("x", { name: "v2" });
      expect((await items.findById("x"))?.name).toBe("v2");
    } finally {
      await proxy.down();
    }
  });

  test("a dropped connection is reported once and the storage keeps working", async () => {
    const prefix = ownPrefix();
    const logger = recordingLogger();
    const name = `redis-drop-${++seq}`;
    const storage = await open(`probe:${name}`, redisCache(prefix, false), logger);
    const items = storage.repository(Item);
    await items.save(item("x"));
    await items.findById("x");
    // Drops the command connection as a network failure would (ioredis reconnects); the client is the store's own.
    (coreOf(storage).cache!.l2!.store as unknown as { client: { disconnect(reconnect: boolean): void } }).client.disconnect(true);
    for (let i = 0; i < 3; i++) expect((await items.findById("x"))?.id).toBe("x");
    await items.update("x", { name: "after" });
    expect((await items.findById("x"))?.name).toBe("after");
    expect(logger.warnings.filter((w) => w.includes("Redis")).length).toBeLessThanOrEqual(1);
  });
});

