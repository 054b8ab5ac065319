/**
 * The conformance suite with every cache tier in play over the memory backend: a small L1 (so entries are
 * evicted and refilled during the suite) with a file L2, and L1 with a Redis L2 when STRATA_REDIS_URL is set.
 * (test/conformance/memory.test.ts runs it with the default cache, an L1 of 10,000 entries.)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, test } from "vitest";
import { createStorage } from "../../src/index.js";
import { runConformanceSuite } from "../../src/conformance/index.js";
import { deletePrefix, redisUrl, uniquePrefix } from "../cache/redis-service.js";

const dirs: string[] = [];
runConformanceSuite({ describe, test, beforeAll, afterAll, beforeEach }, {
  name: "memory+l1+file-l2",
  open: (entities) => {
    const dir = mkdtempSync(path.join(tmpdir(), "strata-conf-l2-"));
    dirs.push(dir);
    return createStorage({ url: "memory:", entities, cache: { l1: { max: 64 }, l2: { type: "file", dir } } });
  },
  cleanup: async () => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  },
});

if (redisUrl) {
  const prefixes: string[] = [];
  runConformanceSuite({ describe, test, beforeAll, afterAll, beforeEach }, {
    name: "memory+l1+redis-l2",
    open: (entities) => {
      const prefix = uniquePrefix();
      prefixes.push(prefix);
      return createStorage({ url: "memory:", entities, cache: { l1: { max: 64 }, l2: { type: "redis", url: redisUrl!, prefix } } });
    },
    cleanup: async () => {
      for (const prefix of prefixes.splice(0)) await deletePrefix(prefix);
    },
  });
}
