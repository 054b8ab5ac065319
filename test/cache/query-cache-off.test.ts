/**
 * A query that asks for `cache` on a storage that cannot cache queries (the default on SQLite and PostgreSQL,
 * `cache: false`, `cache.l1: false`) still runs, and the logger says why it is not cached, once per table.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import type { StorageConfig } from "../../src/index.js";
import { createStorage, Repository } from "../../src/index.js";
import { Counter, Item, recordingLogger } from "./cache-test-kit.js";

const dir = mkdtempSync(path.join(tmpdir(), "strata-query-cache-off-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The warnings of a storage opened with `config` after several cached queries of each of two tables. */
async function warningsOf(config: Omit<StorageConfig, "entities" | "logger">): Promise<string[]> {
  const logger = recordingLogger();
  const storage = await createStorage({ ...config, entities: [Item, Counter], autoCreate: true, logger });
  try {
    const items = storage.repository(Item);
    await items.save({ id: "a", name: "apple", quantity: 1, tags: null } as Item);
    expect(await items.findAll({ where: { name: "apple" }, cache: true })).toHaveLength(1);
    expect(await items.findOne({ where: { quantity: 1 }, cache: { ttlMs: 1000 } })).not.toBeNull();
    expect(await items.count({}, { cache: true })).toBe(1);
    const counters = storage.repository(Counter);
    expect(await counters.findAll({ cache: true })).toEqual([]);
    expect(await counters.findPage({ first: 10, cache: true })).toEqual({ items: [], nextCursor: null });
    return logger.warnings;
  } finally {
    await storage.close();
  }
}

describe("query cache: off", () => {
  test("on SQLite, where the cache is off by default, a cached query warns once per table, naming the entity and how to turn the cache on", async () => {
    const warnings = await warningsOf({ url: `sqlite:${path.join(dir, "default.db")}` });
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain('Item (table "cache_items"): a query asked for `cache`, but the cache is off by default on sqlite');
    expect(warnings[1]).toContain('Counter (table "cache_counters")');
    for (const warning of warnings) expect(warning).toContain("cache: {}");
  });

  test("with cache: false, the warning says so", async () => {
    const warnings = await warningsOf({ url: "memory:", cache: false });
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain("the storage was created with cache: false");
  });

  test("with an L2 and no L1, the warning says the query cache lives in L1", async () => {
    const warnings = await warningsOf({ url: "memory:", cache: { l1: false, l2: { type: "file", dir: path.join(dir, "l2") } } });
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain("the query cache lives in L1, which cache.l1: false turns off");
  });

  test("where queries are cached (memory's and SQLite in memory's default, or a cache given on a SQLite file) nothing is logged", async () => {
    expect(await warningsOf({ url: "memory:" })).toEqual([]);
    expect(await warningsOf({ url: "sqlite::memory:" })).toEqual([]);
    expect(await warningsOf({ url: `sqlite:${path.join(dir, "cached.db")}`, cache: {} })).toEqual([]);
  });

  test("each storage says it once per table: a second repository of the same entity does not repeat it", async () => {
    const logger = recordingLogger();
    const storage = await createStorage({ url: `sqlite:${path.join(dir, "twice.db")}`, entities: [Item], autoCreate: true, logger });
    try {
      const first = new Repository<Item, string>(storage, Item);
      const second = new Repository<Item, string>(storage, Item);
      await first.findAll({ cache: true });
      await second.findAll({ cache: true });
      await storage.repository(Item).count({}, { cache: true });
      expect(logger.warnings).toHaveLength(1);
    } finally {
      await storage.close();
    }
  });
});
