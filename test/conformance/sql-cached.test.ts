/**
 * The conformance suite on SQLite and PostgreSQL with the cache on. (Their default is the cache off, since
 * other processes may write the same database; these runs turn it on as a user would: a small L1, so that
 * entries are evicted and refilled during the suite, and on PostgreSQL a Redis L2 when STRATA_REDIS_URL is set.)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, test } from "vitest";
import type { CacheConfig } from "../../src/index.js";
import { createStorage } from "../../src/index.js";
import { runConformanceSuite } from "../../src/conformance/index.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "../postgres/pg-test-database.js";
import { deletePrefix, redisUrl, uniquePrefix } from "../cache/redis-service.js";

const dir = mkdtempSync(path.join(tmpdir(), "strata-conf-sqlite-cached-"));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

runConformanceSuite({ describe, test, beforeAll, afterAll, beforeEach }, {
  name: "sqlite-cached",
  open: (entities) => createStorage({ url: `sqlite:${path.join(dir, `conf${++n}.db`)}`, entities, autoCreate: true, cache: { l1: { max: 64 } } }),
});

const skip = pgSkipReason();
if (skip) {
  describe("postgres-cached: conformance", () => test.skip(skip, () => {}));
} else {
  let db: PgTestDatabase | undefined;
  const prefixes: string[] = [];
  beforeAll(async () => {
    db = await PgTestDatabase.create(PG_URL!);
  });
  afterAll(async () => {
    await db?.drop();
    for (const prefix of prefixes) await deletePrefix(prefix);
  });
  runConformanceSuite({ describe, test, beforeAll, afterAll, beforeEach }, {
    name: "postgres-cached",
    open: async (entities) => {
      const prefix = uniquePrefix();
      prefixes.push(prefix);
      const cache: CacheConfig = redisUrl ? { l1: { max: 64 }, l2: { type: "redis", url: redisUrl, prefix } } : { l1: { max: 64 } };
      return createStorage({ url: await db!.freshSchemaUrl(), entities, autoCreate: true, cache });
    },
  });
}
