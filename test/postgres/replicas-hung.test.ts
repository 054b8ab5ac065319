/**
 * A replica that stops answering without closing anything (its processes frozen: a host that hangs, a
 * network that drops packets): TCP connects and sockets stay open, no error ever comes. A read on it must
 * still be answered by another server, as for a replica that refuses connections.
 */
import "reflect-metadata";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createStorage } from "../../src/index.js";
import type { ServerStatus } from "../../src/spi/index.js";
import { coreOf } from "../../src/storage-core.js";
import { Thing } from "../fixtures/sql-entities.js";
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

/** The replica server's processes: its postmaster (from postmaster.pid) and every child of it. */
function replicaProcesses(): number[] {
  const dir = process.env["STRATA_PG_REPLICA_CTL"]!.split("|")[1]!;
  const postmaster = Number(readFileSync(`${dir}/postmaster.pid`, "utf8").split("\n")[0]);
  const children = execFileSync("ps", ["-o", "pid=", "--ppid", String(postmaster)], { encoding: "utf8" });
  return [postmaster, ...children.split("\n").filter((l) => l.trim()).map(Number)];
}

function signalReplica(signal: NodeJS.Signals): void {
  for (const pid of replicaProcesses()) {
    try {
      process.kill(pid, signal);
    } catch {
      // Gone meanwhile.
    }
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(skip !== undefined)("postgres: a replica that hangs or is killed", () => {
  test("every process of the replica frozen (SIGSTOP): reads go to the primary within timeoutMs, the replica is out of rotation, and back once it answers", async () => {
    const { primaryUrl, replicaUrl } = await topology.freshSchema();
    const storage = await createStorage({ url: primaryUrl, entities: [Thing], autoCreate: true, timeoutMs: 1000, postgres: { replicas: [replicaUrl] } });
    const things = storage.repository(Thing);
    try {
      await things.save({ id: "a", label: "here" } as Thing);
      expect((await things.findById("a"))?.label).toBe("here");
      signalReplica("SIGSTOP");
      try {
        // Not a speed check: 30 s stands for "never" against a timeoutMs of 1 s.
        const hung = new Promise<string>((resolve) => setTimeout(() => resolve("no answer within 30 s"), 30_000).unref());
        // What strata doctor asks, on the idle connections the reads above left in the replica's pool.
        const status = await Promise.race([coreOf(storage).backend.servers!(), hung]);
        expect(typeof status === "string" ? status : status[1]?.healthy).toBe(false);
        for (let i = 0; i < 5; i++) {
          const read = await Promise.race([things.findById("a").then((t) => t?.label ?? "null"), hung]);
          expect(read).toBe("here");
        }
        const replica = ((await coreOf(storage).backend.servers!()) as ServerStatus[])[1];
        expect(replica?.healthy).toBe(false);
      } finally {
        signalReplica("SIGCONT");
      }
      // Awake again: a probe puts it back, and it answers reads.
      const deadline = Date.now() + 30_000;
      for (;;) {
        expect((await things.findById("a"))?.label).toBe("here");
        const [, replica] = (await coreOf(storage).backend.servers!()) as ServerStatus[];
        if (replica?.healthy && (replica.reads ?? 0) > 1) break;
        if (Date.now() > deadline) throw new Error("the replica did not come back into rotation within 30 s");
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    } finally {
      await storage.close();
    }
  }, 60_000);
  test("every process of the replica killed (SIGKILL) under 8 readers: no read fails, and the replica restarted comes back", async () => {
    const { primaryUrl, replicaUrl } = await topology.freshSchema();
    const storage = await createStorage({ url: primaryUrl, entities: [Thing], autoCreate: true, timeoutMs: 1000, postgres: { replicas: [replicaUrl] } });
    const things = storage.repository(Thing);
    await things.saveMany(Array.from({ length: 20 }, (_, i) => ({ id: `t${i}`, label: `l${i}` }) as Thing));
    let errors = 0;
    let reads = 0;
    let running = true;
    const readers = Array.from({ length: 8 }, async (_, r) => {
      for (let i = 0; running; i++) {
        try {
          if ((await things.findById(`t${(i + r) % 20}`))?.label !== `l${(i + r) % 20}`) errors++;
          reads++;
        } catch {
          errors++;
        }
      }
    });
    try {
      while (reads < 100) await new Promise((resolve) => setTimeout(resolve, 10));
      // The postmaster frozen first, so that it forks no backend between the listing and the kill.
      const postmaster = replicaProcesses()[0]!;
      process.kill(postmaster, "SIGSTOP");
      const killed = replicaProcesses();
      signalReplica("SIGKILL");
      const atKill = reads;
      while (reads < atKill + 200) await new Promise((resolve) => setTimeout(resolve, 10));
      // A killed server's processes must all be gone (its shared memory released) before it starts again.
      while (killed.some((pid) => processExists(pid))) await new Promise((resolve) => setTimeout(resolve, 20));
      await topology.startReplica();
      const deadline = Date.now() + 30_000;
      for (;;) {
        const [, replica] = (await coreOf(storage).backend.servers!()) as ServerStatus[];
        if (replica?.healthy) break;
        if (Date.now() > deadline) throw new Error("the replica did not come back into rotation within 30 s");
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      running = false;
      await Promise.all(readers);
      expect(errors).toBe(0);
    } finally {
      running = false;
      await Promise.all(readers);
      await topology.startReplica().catch(() => {});
      await storage.close();
    }
  }, 60_000);
});
