import "reflect-metadata";
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeAll, describe, expect, test } from "vitest";
import type { CacheConfig, Storage } from "../../src/index.js";
import { createStorage } from "../../src/index.js";
import { FakeClock, Item, probe, recordingLogger, registerTestBackends, waitFor } from "./cache-test-kit.js";

beforeAll(() => registerTestBackends());

let storage: Storage | undefined;
let dir: string;
let seq = 0;
afterEach(async () => {
  await storage?.close();
  storage = undefined;
  rmSync(dir, { recursive: true, force: true });
});

async function open(cache: CacheConfig, logger = recordingLogger()): Promise<{ storage: Storage; name: string; logger: typeof logger }> {
  const name = `file-${++seq}`;
  storage = await createStorage({ url: `probe:${name}`, entities: [Item], autoCreate: true, cache, logger });
  return { storage, name, logger };
}

function entryFiles(root: string): string[] {
  const out: string[] = [];
  for (const table of readdirSync(root, { withFileTypes: true })) {
    if (table.isDirectory() && table.name !== ".tmp") for (const f of readdirSync(path.join(root, table.name))) out.push(path.join(root, table.name, f));
  }
  return out;
}

const item = (id: string, extra: Partial<Item> = {}) => ({ id, name: `item ${id}`, quantity: 1, tags: ["a", "b"], ...extra }) as Item;

describe("memory: file L2 cache", () => {
  beforeAll(() => {});
  test("an L2 hit is promoted into L1; entries are files named by a hash, never by the id", async () => {
    dir = mkdtempSync(path.join(tmpdir(), "strata-l2-"));
    const clock = new FakeClock();
    const { storage, name } = await open({ l1: { ttlMs: 100 }, l2: { type: "file", dir, ttlMs: 60_000 }, clock });
    const items = storage.repository(Item);
    await items.save(item("secret-id/../x", { name: "from the backend" }));
    await items.findById("secret-id/../x");
    await waitFor(() => entryFiles(dir).length === 1, 5000, "the L2 entry is written");
    expect(entryFiles(dir).every((f) => /^[0-9a-f]{40}\.entry$/.test(path.basename(f)))).toBe(true);
    clock.advance(101); // L1 expired, L2 not
    const fromL2 = (await items.findById("secret-id/../x"))!;
    expect(fromL2).toBeInstanceOf(Item);
    expect(fromL2.name).toBe("from the backend");
    expect(fromL2.tags).toEqual(["a", "b"]);
    expect(fromL2.createdAt).toBeInstanceOf(Date);
    expect(probe(name).reads.findById).toBe(1);
    expect(storage.cache.stats().l2).toMatchObject({ hits: 1, misses: 1, errors: 0 });
    await items.findById("secret-id/../x"); // promoted: an L1 hit
    expect(storage.cache.stats().l2.hits).toBe(1);
    expect(storage.cache.stats().l1.hits).toBe(1);
  });

  test("L2 entries expire by their own ttlMs", async () => {
    dir = mkdtempSync(path.join(tmpdir(), "strata-l2-"));
    const clock = new FakeClock();
    const { storage, name } = await open({ l1: false, l2: { type: "file", dir, ttlMs: 1000 }, clock });
    const items = storage.repository(Item);
    await items.save(item("x"));
    await items.findById("x");
    await waitFor(() => entryFiles(dir).length === 1, 5000, "the L2 entry is written");
    await items.findById("x");
    expect(probe(name).reads.findById).toBe(1);
    clock.advance(1001);
    await items.findById("x");
    expect(probe(name).reads.findById).toBe(2);
  });

  test("writes remove the L2 entry (a key, or a whole table for a bulk write) after commit", async () => {
    dir = mkdtempSync(path.join(tmpdir(), "strata-l2-"));
    const { storage, name } = await open({ l1: false, l2: { type: "file", dir } });
    const items = storage.repository(Item);
    await items.save(item("x", { name: "v1" }));
    await items.save(item("y", { name: "v1" }));
    await items.findByIds(["x", "y"]);
    await waitFor(() => entryFiles(dir).length === 2, 5000, "the L2 entries are written");
    await items.update("x", { name: "v2" });
    expect((await items.findById("x"))?.name).toBe("v2");
    await items.deleteMany({ name: "v1" });
    expect(await items.findById("y")).toBeNull();
    expect(probe(name).reads.findById).toBe(2);
  });

  test("the directory is pruned, oldest first, when it outgrows maxSizeBytes", async () => {
    dir = mkdtempSync(path.join(tmpdir(), "strata-l2-"));
    const { storage } = await open({ l1: false, l2: { type: "file", dir, maxSizeBytes: 4000 } });
    const items = storage.repository(Item);
    for (let i = 0; i < 40; i++) {
      await items.save(item(`k${i}`, { name: "n".repeat(200) }));
      await items.findById(`k${i}`);
    }
    await storage.close();
    const files = entryFiles(dir);
    const total = files.reduce((sum, f) => sum + statSync(f).size, 0);
    expect(total).toBeLessThanOrEqual(4000);
    expect(files.length).toBeGreaterThan(0);
    expect(files.length).toBeLessThan(40);
  });

  test("an unwritable directory: reads and writes go on against the backend, one warning, errors counted", async () => {
    dir = mkdtempSync(path.join(tmpdir(), "strata-l2-"));
    const blocker = path.join(dir, "a-file");
    writeFileSync(blocker, "not a directory");
    const { storage, logger } = await open({ l1: false, l2: { type: "file", dir: path.join(blocker, "cache") } });
    const items = storage.repository(Item);
    for (let i = 0; i < 10; i++) {
      await items.save(item(`k${i}`, { name: `v${i}` }));
      expect((await items.findById(`k${i}`))?.name).toBe(`v${i}`);
      await items.update(`k${i}`, { name: `w${i}` });
      expect((await items.findById(`k${i}`))?.name).toBe(`w${i}`);
    }
    await waitFor(() => storage.cache.stats().l2.errors > 0, 5000, "the failure is counted");
    expect(logger.warnings.filter((w) => w.includes("cache tier failed"))).toHaveLength(1);
  });
  test("a removal that failed is never made good by serving the old entry once the directory is back", async () => {
    dir = mkdtempSync(path.join(tmpdir(), "strata-l2-"));
    const clock = new FakeClock();
    const { storage } = await open({ l1: false, l2: { type: "file", dir }, clock });
    const items = storage.repository(Item);
    await items.save(item("x", { name: "v1" }));
    await items.findById("x");
    await waitFor(() => entryFiles(dir).length === 1, 5000, "the L2 entry is written");
    // The directory is away (a file in its place: every removal under it fails) while x is updated ...
    renameSync(dir, `${dir}.away`);
    writeFileSync(dir, "not a directory");
    await items.update("x", { name: "v2" });
    expect((await items.findById("x"))?.name).toBe("v2");
    // ... and back, old entry and all, once the circuit has closed.
    rmSync(dir);
    renameSync(`${dir}.away`, dir);
    clock.advance(10_000);
    expect((await items.findById("x"))?.name).toBe("v2");
    expect((await items.findById("x"))?.name).toBe("v2");
  });

  test("the directory removed while the storage runs: entries are written again, the tier is not left failing", async () => {
    dir = mkdtempSync(path.join(tmpdir(), "strata-l2-"));
    const clock = new FakeClock();
    const { storage, name, logger } = await open({ l1: false, l2: { type: "file", dir }, clock });
    const items = storage.repository(Item);
    await items.save(item("x"));
    await items.findById("x");
    await waitFor(() => entryFiles(dir).length === 1, 5000, "the L2 entry is written");
    rmSync(dir, { recursive: true, force: true }); // a cleanup job, or a tmpfs emptied
    await items.save(item("y"));
    await items.findById("y");
    const written = () => {
      try {
        return entryFiles(dir).length === 1;
      } catch {
        return false; // the directory is not there yet
      }
    };
    await waitFor(written, 5000, "the entry is written again");
    clock.advance(10_000);
    const reads = probe(name).reads.findById;
    expect((await items.findById("y"))?.id).toBe("y");
    expect(probe(name).reads.findById).toBe(reads); // served from L2
    expect(storage.cache.stats().l2.errors).toBe(0);
    expect(logger.warnings).toEqual([]);
  });
  test("an entry that is not a row (damaged, or written by something else) is a miss, never a failed read", async () => {
    dir = mkdtempSync(path.join(tmpdir(), "strata-l2-"));
    const { storage, name } = await open({ l1: false, l2: { type: "file", dir } });
    const items = storage.repository(Item);
    await items.save(item("x", { name: "v1" }));
    await items.findById("x");
    await waitFor(() => entryFiles(dir).length === 1, 5000, "the L2 entry is written");
    const [file] = entryFiles(dir);
    const [keyLine, expiry] = readFileSync(file!, "utf8").split("\n");
    for (const damaged of ['["x","v1"', "not json", "null", '{"id":"x"}']) {
      const written = `${keyLine}\n${expiry}\n${damaged}`;
      writeFileSync(file!, written);
      const reads = probe(name).reads.findById;
      expect((await items.findById("x"))?.name).toBe("v1");
      expect(probe(name).reads.findById).toBe(reads + 1); // read from the backend instead
      // The miss refills the entry in the background: let it land before the next damage, which it would undo.
      await waitFor(() => readFileSync(file!, "utf8") !== written, 5000, "the damaged entry is written again");
    }
  });
});
