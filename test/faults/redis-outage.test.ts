/**
 * Redis killed and restarted under two processes that share one database, each with an L1 and a Redis L2
 * (issue 9, item 6). Each process is a child running test/fixtures/cache-peer.ts; the Redis is this test's
 * own (a free port, a temp dir, an AOF synced at once so that L2 entries written before a SIGKILL are back
 * after the restart). What must hold: while Redis is down, a commit in one process is read by the other at
 * once, never the old value; after the restart both caches hit again and are still never stale.
 */
import "reflect-metadata";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { waitFor } from "../cache/cache-test-kit.js";
import { createStorage } from "../../src/index.js";
import { PeerItem } from "../fixtures/cache-peer-entity.js";
import { CachePeer } from "../support/cache-peer-process.js";
import { runFixture } from "../support/fixture-child.js";
import { OwnRedisServer, redisServerSkipReason } from "../support/redis-server.js";

const pgUrl = process.env["STRATA_PG_URL"];
const skipReason = redisServerSkipReason();
const counts = { outages: 0, readsChecked: 0 };

/** A fresh database for one backend: its URL, and how to drop it. */
interface Database {
  url: string;
  drop(): Promise<void>;
}

async function sqliteDatabase(): Promise<Database> {
  const dir = mkdtempSync(path.join(tmpdir(), "strata-outage-"));
  return { url: `sqlite:${path.join(dir, "outage.db")}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
}

async function postgresDatabase(): Promise<Database> {
  const { default: pg } = await import("pg");
  const name = `strata_outage_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: pgUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(pgUrl!);
  url.pathname = `/${name}`;
  return {
    url: url.href,
    async drop() {
      const client = new pg.Client({ connectionString: pgUrl });
      await client.connect();
      // Only this test's own database: the peers are gone, FORCE ends any connection they left behind.
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

const backends: Array<[string, () => Promise<Database>]> = [["sqlite", sqliteDatabase], ...(pgUrl ? [["postgres", postgresDatabase] as [string, () => Promise<Database>]] : [])];

afterAll(() => {
  console.log(`[redis outage] ${counts.outages} Redis outages (SIGKILL + restart), ${counts.readsChecked} reads checked, none stale`);
});

describe.skipIf(skipReason !== undefined).each(backends)("%s: Redis killed between two processes", (_backend, openDatabase) => {
  const redis = new OwnRedisServer();
  const prefix = "outage:";
  let database: Database | undefined;
  let a: CachePeer | undefined;
  let b: CachePeer | undefined;
  /** What the last acknowledged commit stored, by id. */
  const current = new Map<string, string>();

  const spawnPeer = async () => {
    const peer = new CachePeer(database!.url, redis.url, prefix);
    await peer.ready;
    return peer;
  };

  beforeAll(async () => {
    await redis.start();
    database = await openDatabase();
    a = await spawnPeer();
    b = await spawnPeer();
  });

  // A test that failed mid-outage must not fail the next ones.
  beforeEach(async () => {
    if (!redis.running) await redis.start();
  });

  afterAll(async () => {
    // Each step on its own: a failure in one must not leave the redis-server (or a peer) running.
    await a?.kill().catch(() => {});
    await b?.kill().catch(() => {});
    await redis.stop();
    await database?.drop();
  });

  /**
   * Kills Redis and waits until both processes have noticed (they handle the closed connection; on a loaded
   * machine that can take a moment, the README's bound). From then on no read may return an old value.
   */
  const killRedis = async () => {
    await redis.kill();
    counts.outages++;
    for (const peer of [a!, b!]) await waitFor(async () => (await peer.ask({ op: "bus" }))["up"] === false, 3000, "the peer notices that Redis is gone");
  };

  const save = async (peer: CachePeer, id: string, name: string) => {
    await peer.ask({ op: "save", id, name });
    current.set(id, name);
  };

  /**
   * A commit while Redis is up: the other process drops its L1 copy when the invalidation message arrives,
   * a moment after the commit returns (the README's bound); wait for that, then every read must be current.
   */
  const saveAndSettle = async (peer: CachePeer, id: string, name: string) => {
    await save(peer, id, name);
    for (const other of [a!, b!]) await waitFor(async () => (await other.get(id)).name === name, 2000, `${id} = ${name} reaches both processes`);
  };

  /** Reads `id` in `peer`: it must be the last value committed, never an older one. */
  const expectCurrent = async (peer: CachePeer, id: string) => {
    const read = await peer.get(id);
    counts.readsChecked++;
    expect(read.name, `read of ${id}`).toBe(current.get(id));
    return read;
  };

  /** Waits until `peer` serves `id` from its L1 (checking every read on the way). */
  const holdsInL1 = (peer: CachePeer, id: string) =>
    waitFor(
      async () => {
        const first = await expectCurrent(peer, id);
        const second = await expectCurrent(peer, id);
        return second.stats.l1.hits > first.stats.l1.hits;
      },
      5000,
      `${id} held in L1 by a peer`,
    );

  /** The L2 entries of `id` in Redis (to know that a stale one is there to be read after the restart). */
  const l2EntriesOf = async (id: string) => {
    const client = new Redis(redis.url, { maxRetriesPerRequest: 0 });
    try {
      return await client.keys(`${prefix}e|*|peer_items|${id}`);
    } finally {
      client.disconnect();
    }
  };

  /** After a restart: every read current, until both peers hit L1 and one hits L2 again. */
  const expectRecovery = async (cycle: number) => {
    for (const peer of [a!, b!]) for (let i = 0; i < 20; i++) await expectCurrent(peer, "x");
    await holdsInL1(a!, "x");
    await holdsInL1(b!, "x");
    let attempt = 0;
    await waitFor(
      async () => {
        const id = `z${cycle}-${attempt++}`;
        await save(a!, id, "fresh"); // a new id: no process has it cached
        await expectCurrent(a!, id); // fills L2
        const before = (await expectCurrent(b!, "x")).stats.l2.hits;
        return (await expectCurrent(b!, id)).stats.l2.hits > before;
      },
      10_000,
      "an L2 hit after the restart",
    );
    // A commit after the recovery reaches the other process as before the outage.
    await saveAndSettle(a!, "x", `after-${cycle}`);
    for (let i = 0; i < 10; i++) await expectCurrent(b!, "x");
  };

  test("a commit while Redis is down is read by the other process at once; after the restart the caches hit again, never stale", async () => {
    for (let cycle = 0; cycle < 4; cycle++) {
      await saveAndSettle(a!, "x", `before-${cycle}`);
      await saveAndSettle(b!, "y", `before-${cycle}`);
      for (const peer of [a!, b!]) for (const id of ["x", "y"]) await holdsInL1(peer, id);
      // The entry the restart brings back, stale by then (the writer fills it once its invalidation is out).
      await waitFor(async () => (await l2EntriesOf("x")).length === 1, 2000, "x in L2");

      await killRedis();
      // Each way: the writer's invalidation cannot be sent, and the reader held the old value in L1.
      const [writer, reader] = cycle % 2 === 0 ? [a!, b!] : [b!, a!];
      await save(writer, "x", `down-${cycle}`);
      for (let i = 0; i < 20; i++) await expectCurrent(reader, "x");
      await save(reader, "y", `down-${cycle}`);
      for (let i = 0; i < 20; i++) await expectCurrent(writer, "y");
      for (let i = 0; i < 5; i++) for (const peer of [a!, b!]) for (const id of ["x", "y"]) await expectCurrent(peer, id);

      await redis.start();
      await expectRecovery(cycle);
    }
  });

  test("Redis killed during a burst of writes and during a burst of reads", async () => {
    for (let cycle = 0; cycle < 4; cycle++) {
      await saveAndSettle(a!, "x", `start-${cycle}`);
      await holdsInL1(b!, "x");
      const names = Array.from({ length: 40 }, (_, i) => `burst-${cycle}-${i}`);
      const burst = a!.ask({ op: "burst", id: "x", names });
      const reads = b!.ask({ op: "reads", id: "x", n: 40 });
      // Somewhere inside both bursts (fault injection timing, not an assertion).
      await new Promise((resolve) => setTimeout(resolve, 1 + Math.floor(Math.random() * 15)));
      await redis.kill();
      counts.outages++;
      await burst;
      current.set("x", names.at(-1)!);
      await waitFor(async () => (await b!.ask({ op: "bus" }))["up"] === false, 3000, "b notices that Redis is gone");
      // Begun before or while the writes ran: each value read must be one that was committed.
      for (const name of (await reads)["names"] as string[]) {
        counts.readsChecked++;
        expect([`start-${cycle}`, ...names]).toContain(name);
      }
      for (let i = 0; i < 20; i++) await expectCurrent(b!, "x");
      // Reads racing the kill, then a commit while it is down.
      const racing = b!.ask({ op: "reads", id: "x", n: 40 });
      await save(a!, "x", `down-${cycle}`);
      await racing;
      for (let i = 0; i < 20; i++) await expectCurrent(b!, "x");

      await redis.start();
      await expectRecovery(cycle + 100);
    }
  });

  test("a writer killed while Redis is down (it can never repair L2) leaves nothing stale behind", async () => {
    for (let cycle = 0; cycle < 2; cycle++) {
      await saveAndSettle(a!, "x", `before-dead-${cycle}`);
      await holdsInL1(a!, "x");
      await holdsInL1(b!, "x");
      await waitFor(async () => (await l2EntriesOf("x")).length === 1, 2000, "x in L2");
      await killRedis();
      await save(a!, "x", `dead-${cycle}`);
      await a!.kill();
      for (let i = 0; i < 10; i++) await expectCurrent(b!, "x");
      await redis.start(); // the old entry is back in L2, and its writer is gone
      for (let i = 0; i < 50; i++) await expectCurrent(b!, "x");
      a = await spawnPeer();
      await expectRecovery(cycle + 200);
    }
  });
});

describe.skipIf(skipReason !== undefined)("close() while Redis is gone", () => {
  const redis = new OwnRedisServer();
  let dir: string | undefined;

  afterAll(async () => {
    redis.resume();
    await redis.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Opens a storage in a child, lets `takeAway` cut Redis off, closes it: what still keeps that process alive. */
  const leftAfterClose = async (name: string, takeAway: () => Promise<void> | void): Promise<unknown> => {
    dir ??= mkdtempSync(path.join(tmpdir(), "strata-close-"));
    const child = runFixture("cache-close-child.js", [`sqlite:${path.join(dir, `${name}.db`)}`, redis.url, `close-${name}:`]);
    try {
      await child.waitFor(/^open$/);
      await takeAway();
      child.child.stdin.write("close\n");
      return JSON.parse(await child.waitFor(/^\{/));
    } finally {
      await child.kill();
    }
  };

  // Started only when not running: a second start on the same port would orphan the first server.
  beforeEach(async () => {
    if (!redis.running) await redis.start();
  });

  test("a silent Redis: writes queue no backlog of command timeouts for the next read (or close) to wait out", async () => {
    dir ??= mkdtempSync(path.join(tmpdir(), "strata-close-"));
    const quiet = { debug() {}, info() {}, warn() {}, error() {} };
    const storage = await createStorage({ url: `sqlite:${path.join(dir, "backlog.db")}`, entities: [PeerItem], autoCreate: true, cache: { l1: {}, l2: { type: "redis", url: redis.url, prefix: "backlog:" } }, logger: quiet });
    const items = storage.repository(PeerItem);
    try {
      await items.save({ id: "x", name: "before" });
      redis.pause();
      const writes = 20;
      for (let i = 0; i < writes; i++) await items.save({ id: "x", name: `silent-${i}` });
      // Each invalidation used to wait out its own 1 s command timeout, one after another, and a read waits
      // for those before it: 20 s here. Once one has failed, the rest are recorded for the recovery instead.
      const started = performance.now();
      expect((await items.findById("x"))?.name).toBe(`silent-${writes - 1}`);
      expect(performance.now() - started).toBeLessThan((writes * 1000) / 4);
    } finally {
      redis.resume();
      await storage.close();
    }
  });

  test("killed or silent: no socket or timer of the Redis tier keeps node alive after close()", async () => {
    expect(await leftAfterClose("killed", () => redis.kill())).toEqual({ resources: [] });
    await redis.start();
    expect(await leftAfterClose("silent", () => redis.pause())).toEqual({ resources: [] });
    redis.resume();
  });
});
