/**
 * Read-your-writes across storages of one process on one primary that name it differently (another host
 * name, a pooler in front): the README promises it "through any storage on that primary", one without replicas of its own too.
 */
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createStorage } from "../../src/index.js";
import { Counter } from "../fixtures/sql-entities.js";
import { backendSelected } from "../sql/sql-backend-cases.js";
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

describe.skipIf(skip !== undefined)("postgres: read-your-writes across storages on one primary", () => {
  test("a write through a storage on 127.0.0.1 is seen by a read through a storage on localhost, with replay paused", async () => {
    const { primaryUrl, replicaUrl } = await topology.freshSchema();
    const other = new URL(primaryUrl);
    other.hostname = "localhost";
    const options = { entities: [Counter], autoCreate: true, postgres: { replicas: [replicaUrl], maxReplicaLagMs: 100 } };
    const writer = await createStorage({ url: primaryUrl, ...options });
    const reader = await createStorage({ url: other.href, ...options });
    try {
      await writer.repository(Counter).save({ name: "x", value: 1 });
      expect((await reader.repository(Counter).findById("x"))?.value).toBe(1);
      await topology.replica.query("SELECT pg_wal_replay_pause()");
      try {
        await writer.repository(Counter).save({ name: "x", value: 2 });
        expect((await reader.repository(Counter).findById("x"))?.value).toBe(2);
        await writer.transaction(async () => writer.repository(Counter).save({ name: "x", value: 3 }));
        expect((await reader.repository(Counter).findById("x"))?.value).toBe(3);
      } finally {
        await topology.replica.query("SELECT pg_wal_replay_resume()");
      }
    } finally {
      await writer.close();
      await reader.close();
    }
  });
  test("a write through a storage without replicas is seen by a read through a storage with replicas, with replay paused", async () => {
    const { primaryUrl, replicaUrl } = await topology.freshSchema();
    const writer = await createStorage({ url: primaryUrl, entities: [Counter], autoCreate: true });
    const reader = await createStorage({ url: primaryUrl, entities: [Counter], postgres: { replicas: [replicaUrl], maxReplicaLagMs: 100 } });
    try {
      await writer.repository(Counter).save({ name: "x", value: 1 });
      expect((await reader.repository(Counter).findById("x"))?.value).toBe(1);
      await topology.replica.query("SELECT pg_wal_replay_pause()");
      try {
        await writer.repository(Counter).save({ name: "x", value: 2 });
        expect((await reader.repository(Counter).findById("x"))?.value).toBe(2);
        await writer.transaction(async () => writer.repository(Counter).save({ name: "x", value: 3 }));
        expect((await reader.repository(Counter).findById("x"))?.value).toBe(3);
        await writer.sql`UPDATE sql_counters SET value = 4 WHERE name = 'x'`;
        expect((await reader.repository(Counter).findById("x"))?.value).toBe(4);
      } finally {
        await topology.replica.query("SELECT pg_wal_replay_resume()");
      }
    } finally {
      await writer.close();
      await reader.close();
    }
  });
});
