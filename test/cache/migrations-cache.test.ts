import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import type { Storage } from "../../src/index.js";
import { createStorage, defineMigration } from "../../src/index.js";
import { Item } from "./cache-test-kit.js";

const upper = defineMigration({
  version: 1,
  name: "upper-case-names",
  async up(m) {
    await m.updateRows("cache_items", (row) => ({ name: String(row["name"]).toUpperCase() }));
  },
  async down(m) {
    await m.updateRows("cache_items", (row) => ({ name: String(row["name"]).toLowerCase() }));
  },
});

describe("sqlite: cache and migrations", () => {
  let storage: Storage | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await storage?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("rows a migration rewrites are never served from the cache afterwards (entities and cached queries)", async () => {
    dir = mkdtempSync(path.join(tmpdir(), "strata-cache-mig-"));
    storage = await createStorage({ url: `sqlite:${path.join(dir, "app.db")}`, entities: [Item], autoCreate: true, migrations: [upper], cache: { l1: {} } });
    const items = storage.repository(Item);
    await items.save({ id: "x", name: "abc", quantity: 1, tags: null } as Item);
    expect((await items.findById("x"))?.name).toBe("abc");
    expect((await items.findAll({ cache: true })).map((i) => i.name)).toEqual(["abc"]);
    expect((await items.findById("x"))?.name).toBe("abc");
    expect(storage.cache.stats().l1.hits).toBe(1);
    await storage.migrations.up();
    expect((await items.findById("x"))?.name).toBe("ABC");
    expect((await items.findAll({ cache: true })).map((i) => i.name)).toEqual(["ABC"]);
    await storage.migrations.down();
    expect((await items.findById("x"))?.name).toBe("abc");
    expect((await items.findAll({ cache: true })).map((i) => i.name)).toEqual(["abc"]);
  });
});
