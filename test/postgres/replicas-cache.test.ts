/**
 * The cache with read replicas, across processes: another process's write invalidates the shared cache (Redis
 * L2 and its bus), and a read here that misses must not fill the cache from a replica that has not replayed
 * that write yet: the stale entry would outlive the replica's lag, for every process on the L2.
 */
import "reflect-metadata";
import { execFile } from "node:child_process";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createStorage } from "../../src/index.js";
import { Counter } from "../fixtures/sql-entities.js";
import { backendSelected } from "../sql/sql-backend-cases.js";
import { ReplicaTopology, replicaSkipReason } from "./replica-topology.js";

const run = promisify(execFile);
const REDIS_URL = process.env["STRATA_REDIS_URL"];
const skip = !backendSelected("postgres") ? "BACKENDS excludes postgres" : !REDIS_URL ? "STRATA_REDIS_URL is not set" : replicaSkipReason();
let topology: ReplicaTopology;
if (!skip) {
  beforeAll(async () => {
    topology = await ReplicaTopology.create();
  });
  afterAll(async () => {
    await topology?.drop();
  });
}

/** Saves counter x = `value` from another process through a cached storage on `url` (no replicas). */
async function writeFromAnotherProcess(url: string, prefix: string, value: number): Promise<void> {
  await run(process.execPath, ["--import", "tsx", path.resolve("test/fixtures/cached-counter-writer.ts"), url, REDIS_URL!, prefix, String(value)]);
}

describe.skipIf(skip !== undefined)("postgres: the cache with read replicas", () => {
  test("another process's write while the replica lags: no stale value is cached, here or in the shared L2", async () => {
    const { primaryUrl, replicaUrl } = await topology.freshSchema();
    const prefix = `strata-replica-cache-${process.pid}-${Date.now()}:`;
    const cache = { l1: {}, l2: { type: "redis" as const, url: REDIS_URL!, prefix } };
    const reader = await createStorage({ url: primaryUrl, entities: [Counter], autoCreate: true, cache, postgres: { replicas: [replicaUrl], maxReplicaLagMs: 100 } });
    const counters = reader.repository(Counter);
    try {
      await writeFromAnotherProcess(primaryUrl, prefix, 1);
      await topology.caughtUp();
      expect((await counters.findById("x"))?.value).toBe(1);
      await topology.replica.query("SELECT pg_wal_replay_pause()");
      try {
        await writeFromAnotherProcess(primaryUrl, prefix, 2);
        // The bus has dropped our copy once a read misses L1 (its invalidation arrives within moments).
        const deadline = Date.now() + 10_000;
        while ((await counters.findById("x"))?.value !== 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
        expect((await counters.findById("x"))?.value).toBe(2);
        expect(await counters.findAll({ where: { name: "x" }, cache: true })).toEqual([expect.objectContaining({ value: 2 })]);
      } finally {
        await topology.replica.query("SELECT pg_wal_replay_resume()");
      }
      // And what the shared L2 holds is the new value: a storage without replicas reading through it sees 2.
      const other = await createStorage({ url: primaryUrl, entities: [Counter], cache });
      try {
        expect((await other.repository(Counter).findById("x"))?.value).toBe(2);
      } finally {
        await other.close();
      }
    } finally {
      await reader.close();
    }
  }, 60_000);
});
