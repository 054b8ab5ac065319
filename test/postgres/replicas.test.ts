/**
 * Read replicas against a real streaming replica (scripts/pg-replica.sh): which server answers, read-your-
 * writes under concurrency, a replica stopped and restarted mid-run, replay paused (lag), a replica that
 * refuses connections.
 */
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createStorage } from "../../src/index.js";
import type { Storage } from "../../src/index.js";
import type { ServerStatus } from "../../src/spi/index.js";
import { coreOf } from "../../src/storage-core.js";
import { Counter, Thing } from "../fixtures/sql-entities.js";
import { backendSelected } from "../sql/sql-backend-cases.js";
import { strata } from "../backup/cli-run.js";
import { ReplicaTopology, replicaSkipReason } from "./replica-topology.js";

const skip = backendSelected("postgres") ? replicaSkipReason() : "BACKENDS excludes postgres";
let topology: ReplicaTopology;
if (!skip) {
  beforeAll(async () => {
    topology = await ReplicaTopology.create();
  });
  afterAll(async () => {
    await topology?.drop();
  });
}

/** A storage on a fresh schema of the primary, reading from the replica's copy of it. */
async function open(options: { maxReplicaLagMs?: number; replicas?: (replicaUrl: string) => string[] } = {}): Promise<Storage> {
  const { primaryUrl, replicaUrl } = await topology.freshSchema();
  const storage = await createStorage({
    url: primaryUrl,
    entities: [Thing, Counter],
    autoCreate: true,
    postgres: { replicas: options.replicas ? options.replicas(replicaUrl) : [replicaUrl], ...(options.maxReplicaLagMs !== undefined ? { maxReplicaLagMs: options.maxReplicaLagMs } : {}) },
  });
  // No wait for the replica here: autoCreate's commit is one the first read must find replayed.
  return storage;
}

/** Each server's status, asked now (what `strata doctor` prints). */
async function servers(storage: Storage): Promise<ServerStatus[]> {
  return coreOf(storage).backend.servers!();
}

/** Reads each server has answered: [primary, replica...]. */
async function readsBy(storage: Storage): Promise<number[]> {
  return (await servers(storage)).map((s) => s.reads ?? 0);
}

/** The schema a storage's URL selects (its search_path), for raw statements beside it. */
function schemaOf(storage: Storage): string {
  return /search_path=(\w+)/.exec(decodeURIComponent(coreOf(storage).config.url))![1]!;
}

describe.skipIf(skip !== undefined)("postgres: read replicas", () => {
  test("reads outside a transaction are answered by the replica; writes, storage.sql and reads in a transaction by the primary", async () => {
    const storage = await open();
    const things = storage.repository(Thing);
    try {
      await things.save({ id: "a", label: "first" } as Thing);
      expect((await things.findById("a"))?.label).toBe("first");
      const [primaryBefore, replicaBefore] = await readsBy(storage);
      expect(await things.count()).toBe(1);
      expect((await things.findAll({ where: { label: "first" } })).map((t) => t.id)).toEqual(["a"]);
      expect((await things.findByIds(["a"])).length).toBe(1);
      const [primaryAfter, replicaAfter] = await readsBy(storage);
      expect(replicaAfter! - replicaBefore!).toBe(3);
      expect(primaryAfter).toBe(primaryBefore);

      // With replay paused, a row written straight to the primary (not through this storage, so no read
      // waits for it) is missing from what the replica answers, and present in what the primary answers.
      await topology.replica.query("SELECT pg_wal_replay_pause()");
      try {
        await topology.primary.query(`INSERT INTO "${schemaOf(storage)}".sql_things (id, label) VALUES ('b', 'behind')`);
        expect(await things.findById("b")).toBeNull();
        expect(await things.count()).toBe(1);
        const inTransaction = await storage.transaction(async () => things.findById("b"));
        expect(inTransaction?.label).toBe("behind");
        const port = await storage.sql`SELECT inet_server_port() AS port`;
        expect(port[0]?.["port"]).toBe(Number(new URL(coreOf(storage).config.url).port));
      } finally {
        await topology.replica.query("SELECT pg_wal_replay_resume()");
      }
      await topology.caughtUp();
      expect((await things.findById("b"))?.label).toBe("behind");
    } finally {
      await storage.close();
    }
  });

  test("read-your-writes: 100 concurrent write-then-read flows never read an older state than their own write", async () => {
    const storage = await open();
    const counters = storage.repository(Counter);
    try {
      let stale = 0;
      const [, replicaBefore] = await readsBy(storage);
      for (let round = 1; round <= 5; round++) {
        await Promise.all(
          Array.from({ length: 100 }, async (_, i) => {
            const name = `c${i}`;
            // Single writes in autocommit on even flows, transactions on odd ones: both must be waited for.
            if (i % 2 === 0) await counters.save({ name, value: round });
            else await storage.transaction(async () => counters.save({ name, value: round }));
            const read = await counters.findById(name);
            if (read?.value !== round) stale++;
            const [found] = await counters.findAll({ where: { name } });
            if (found?.value !== round) stale++;
          }),
        );
      }
      expect(stale).toBe(0);
      // Not passed by reading everything from the primary: the replica answered reads after writes.
      const [, replicaAfter] = await readsBy(storage);
      expect(replicaAfter! - replicaBefore!).toBeGreaterThan(0);
    } finally {
      await storage.close();
    }
  });

  test("a replica stopped and restarted mid-run: every read goes on, none fails, and the replica comes back into rotation", async () => {
    const storage = await open();
    const things = storage.repository(Thing);
    await things.saveMany(Array.from({ length: 20 }, (_, i) => ({ id: `t${i}`, label: `l${i}` }) as Thing));
    let errors = 0;
    let reads = 0;
    let running = true;
    const readers = Array.from({ length: 8 }, async (_, r) => {
      for (let i = 0; running; i++) {
        try {
          const got = await things.findById(`t${(i + r) % 20}`);
          if (got?.label !== `l${(i + r) % 20}`) errors++;
          reads++;
        } catch {
          errors++;
        }
      }
    });
    try {
      await until(() => reads > 100);
      await topology.stopReplica();
      const atStop = reads;
      await until(() => reads > atStop + 200);
      expect((await servers(storage))[1]?.healthy).toBe(false);
      await topology.startReplica();
      // Probed back in: reads through the replica grow again.
      const [, replicaAtStart] = await readsBy(storage);
      await until(async () => (await readsBy(storage))[1]! > replicaAtStart! + 50);
      running = false;
      await Promise.all(readers);
      expect(errors).toBe(0);
      expect((await servers(storage))[1]?.healthy).toBe(true);
    } finally {
      running = false;
      await Promise.all(readers);
      await topology.startReplica().catch(() => {});
      await storage.close();
    }
  });

  test("replay paused: a read after a write falls back to the primary after maxReplicaLagMs, and returns to the replica once it replays", async () => {
    const storage = await open({ maxReplicaLagMs: 200 });
    const counters = storage.repository(Counter);
    try {
      await counters.save({ name: "x", value: 1 });
      expect((await counters.findById("x"))?.value).toBe(1);
      await topology.replica.query("SELECT pg_wal_replay_pause()");
      try {
        const [primaryBefore, replicaBefore] = await readsBy(storage);
        for (let value = 2; value <= 6; value++) {
          await counters.save({ name: "x", value });
          expect((await counters.findById("x"))?.value).toBe(value);
        }
        const [primaryAfter, replicaAfter] = await readsBy(storage);
        expect(primaryAfter! - primaryBefore!).toBe(5);
        expect(replicaAfter).toBe(replicaBefore);
        const lagging = (await servers(storage))[1]!;
        expect(lagging.lagBytes).toBeGreaterThan(0);
      } finally {
        await topology.replica.query("SELECT pg_wal_replay_resume()");
      }
      await topology.caughtUp();
      const [, replicaResumed] = await readsBy(storage);
      await until(async () => {
        expect((await counters.findById("x"))?.value).toBe(6);
        return (await readsBy(storage))[1]! > replicaResumed!;
      });
    } finally {
      await storage.close();
    }
  });

  test("a replica that refuses connections is taken out of rotation: reads go to the next replica, then the primary, without an error", async () => {
    const storage = await open({ replicas: (replicaUrl) => ["postgres://postgres@127.0.0.1:1/none", replicaUrl] });
    const things = storage.repository(Thing);
    try {
      await things.save({ id: "a", label: "here" } as Thing);
      for (let i = 0; i < 10; i++) expect((await things.findById("a"))?.label).toBe("here");
      const [primary, refused, replica] = await servers(storage);
      expect(refused).toMatchObject({ role: "replica", healthy: false });
      expect(refused?.error).toMatch(/ECONNREFUSED|connect/i);
      expect(replica).toMatchObject({ role: "replica", healthy: true });
      expect(replica!.reads).toBeGreaterThanOrEqual(10);
      expect(primary).toMatchObject({ role: "primary", healthy: true });
    } finally {
      await storage.close();
    }
    const alone = await open({ replicas: () => ["postgres://postgres@127.0.0.1:1/none"] });
    try {
      await alone.repository(Thing).save({ id: "b", label: "primary only" } as Thing);
      expect((await alone.repository(Thing).findById("b"))?.label).toBe("primary only");
      expect((await readsBy(alone))[0]).toBeGreaterThan(0);
    } finally {
      await alone.close();
    }
  });

  test("a statement the replica refuses (a missing table) is the caller's error, and the replica stays in rotation", async () => {
    const { primaryUrl, replicaUrl } = await topology.freshSchema();
    // No autoCreate: the table is on neither server, so the replica answers with an error of the statement's own.
    const storage = await createStorage({ url: primaryUrl, entities: [Thing], postgres: { replicas: [replicaUrl] } });
    try {
      const error = await storage.repository(Thing).findById("a").catch((e: unknown) => e);
      expect((error as Error).message).toMatch(/sql_things/);
      const [primary, replica] = await servers(storage);
      expect(replica).toMatchObject({ healthy: true });
      expect(primary?.reads).toBe(0);
    } finally {
      await storage.close();
    }
  });

  test("strata doctor prints each server's role, health and lag, and exits 1 when one is unhealthy", async () => {
    const { primaryUrl, replicaUrl } = await topology.freshSchema();
    const healthy = await strata(["doctor", "--url", primaryUrl, "--replica", replicaUrl, "--json"]);
    expect(healthy.stderr).toBe("");
    expect(healthy.code).toBe(0);
    const report = JSON.parse(healthy.stdout) as Array<Record<string, unknown>>;
    expect(report.map((s) => [s["role"], s["healthy"]])).toEqual([["primary", true], ["replica", true]]);
    expect(report[1]?.["lagBytes"]).toEqual(expect.any(Number));
    expect(report[1]?.["lagMs"]).toEqual(expect.any(Number));

    const text = await strata(["doctor", "--url", primaryUrl, "--replica", replicaUrl, "--replica", "postgres://postgres@127.0.0.1:1/none"]);
    expect(text.code).toBe(1);
    const lines = text.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^Server\s+Role\s+Health\s+Lag \(bytes\)\s+Lag \(ms\)\s+Error$/);
    expect(lines.slice(2).map((l) => l.split(/\s{2,}/).slice(1, 3))).toEqual([["primary", "healthy"], ["replica", "healthy"], ["replica", "UNHEALTHY"]]);
    expect(lines[4]).toMatch(/127\.0\.0\.1:1\/none.*ECONNREFUSED/);
  });

  test("an iterate whose order no index serves streams from the replica, and sees this process's writes", async () => {
    const storage = await open();
    const things = storage.repository(Thing);
    try {
      await things.saveMany(Array.from({ length: 50 }, (_, i) => ({ id: `t${i}`, label: `l${i}`, rank: 50 - i }) as Thing));
      const [, replicaBefore] = await readsBy(storage);
      const ranks: number[] = [];
      for await (const thing of things.iterate({ orderBy: { rank: "asc" } }, { pageSize: 10 })) ranks.push(thing.rank!);
      expect(ranks).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      const [, replicaAfter] = await readsBy(storage);
      expect(replicaAfter! - replicaBefore!).toBeGreaterThan(0);
    } finally {
      await storage.close();
    }
  });
});

/** Resolves once `check` is true, polling; fails after 30 s (a hang, not a speed check). */
async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met within 30 s");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
