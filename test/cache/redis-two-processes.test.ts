import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeAll, describe, expect, test } from "vitest";
import type { Storage } from "../../src/index.js";
import { createStorage } from "../../src/index.js";
import { PeerItem } from "../fixtures/cache-peer-entity.js";
import { assertRedisReachable, deletePrefix, redisUrl, servicesRequired, uniquePrefix } from "./redis-service.js";
import { waitFor } from "./cache-test-kit.js";
import { CachePeer } from "../support/cache-peer-process.js";

// The two processes share one SQLite database and one Redis; each holds the row in its L1 before the other writes.
describe.runIf(redisUrl !== undefined || servicesRequired)("sqlite: Redis L2 across two processes", () => {
  beforeAll(() => assertRedisReachable());
  let storage: Storage | undefined;
  let peer: CachePeer | undefined;
  let dir: string | undefined;
  const prefix = uniquePrefix();
  afterEach(async () => {
    await peer?.close();
    await storage?.close();
    await deletePrefix(prefix);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("a write in one process is seen by the other once the invalidation arrives, both ways", async () => {
    dir = mkdtempSync(path.join(tmpdir(), "strata-peer-"));
    const url = `sqlite:${path.join(dir, "peer.db")}`;
    storage = await createStorage({ url, entities: [PeerItem], autoCreate: true, cache: { l1: {}, l2: { type: "redis", url: redisUrl!, prefix } } });
    const items = storage.repository(PeerItem);
    await items.save({ id: "x", name: "v1" });
    peer = new CachePeer(url, redisUrl!, prefix);
    await peer.ready;
    // Both come to hold x in L1 (an invalidation of the setup's writes may still drop a copy once).
    const misses = () => storage!.cache.stats().l1.misses;
    await waitFor(
      async () => {
        const before = misses();
        return (await items.findById("x"))?.name === "v1" && misses() === before;
      },
      2000,
      "this process holds x in L1",
    );
    await waitFor(
      async () => {
        const first = await peer!.ask({ op: "get", id: "x" });
        const second = await peer!.ask({ op: "get", id: "x" });
        return second["name"] === "v1" && second["misses"] === first["misses"];
      },
      2000,
      "the peer holds x in L1",
    );

    await peer.ask({ op: "save", id: "x", name: "v2" });
    await waitFor(async () => (await items.findById("x"))?.name === "v2", 2000, "this process sees the peer's write");

    await items.save({ id: "x", name: "v3" });
    await waitFor(async () => (await peer!.ask({ op: "get", id: "x" }))["name"] === "v3", 2000, "the peer sees this process's write");
    expect((await items.findById("x"))?.name).toBe("v3");
    expect(storage.cache.stats().l1.hits).toBeGreaterThan(0);
  });
});
