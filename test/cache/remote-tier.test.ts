/**
 * The remote tier (src/cache/l2/remote-tier.ts) in front of a store driver: what it does once for every
 * store (file, Redis): counting, one warning per outage, falling back to a miss, ordering invalidations
 * before reads, and repairing a store whose invalidations were lost. A scripted store stands in for both.
 */
import { describe, expect, test } from "vitest";
import type { L2Read, L2Store } from "../../src/cache/l2/l2-store.js";
import { RemoteTier } from "../../src/cache/l2/remote-tier.js";
import { FakeClock, recordingLogger } from "./cache-test-kit.js";

/** An in-memory store whose every operation can be made to fail or to wait. */
class ScriptedStore implements L2Store {
  readonly description = "scripted";
  readonly entries = new Map<string, string>();
  failing = false;
  /** When set, invalidations wait for it. */
  hold: Promise<void> | undefined;
  /** When set, clears wait for it. */
  clearHold: Promise<void> | undefined;
  readonly calls: string[] = [];
  readonly repairs: Array<{ keys: readonly string[]; tables: readonly string[]; announce: boolean }> = [];
  private version = 0;

  private check(call: string): void {
    this.calls.push(call);
    if (this.failing) throw new Error(`${call} failed`);
  }

  async read(key: string): Promise<L2Read> {
    this.check(`read ${key}`);
    const value = this.entries.get(key);
    return { value, guard: value === undefined ? this.version : undefined };
  }

  async write(key: string, value: string, guard: unknown): Promise<void> {
    this.check(`write ${key}`);
    if (guard === this.version) this.entries.set(key, value);
  }

  async invalidate(keys: readonly string[]): Promise<void> {
    if (this.hold) await this.hold;
    this.check(`invalidate ${keys.join(",")}`);
    this.version++;
    for (const key of keys) this.entries.delete(key);
  }

  async repair(keys: readonly string[], tables: readonly string[], announce: boolean): Promise<void> {
    this.check("repair");
    this.version++;
    this.entries.clear();
    this.repairs.push({ keys, tables, announce });
  }

  async clear(): Promise<void> {
    if (this.clearHold) await this.clearHold;
    this.check("clear");
    this.entries.clear();
  }

  async close(): Promise<void> {}
}

function open(retryMs = 1000) {
  const store = new ScriptedStore();
  const clock = new FakeClock();
  const logger = recordingLogger();
  const tier = new RemoteTier(store, { clock, logger, retryMs });
  return { store, clock, logger, tier };
}

describe("remote tier", () => {
  test("counts hits and misses; a guarded fill is stored, one without a guard is not", async () => {
    const { store, tier } = open();
    const miss = await tier.read("k");
    await tier.write("k", "v", miss.guard);
    await tier.write("other", "v", undefined);
    expect((await tier.read("k")).value).toBe("v");
    expect(store.entries.has("other")).toBe(false);
    expect({ hits: tier.hits, misses: tier.misses, errors: tier.errors }).toEqual({ hits: 1, misses: 1, errors: 0 });
  });

  test("a failing store: reads answer a miss, failures are counted, the store is skipped for retryMs, one warning per outage", async () => {
    const { store, clock, logger, tier } = open(1000);
    store.entries.set("k", "v");
    store.failing = true;
    expect(await tier.read("k")).toEqual({ value: undefined, guard: undefined });
    expect(await tier.read("k")).toEqual({ value: undefined, guard: undefined }); // skipped: the circuit is open
    expect(store.calls).toEqual(["read k"]);
    clock.advance(1001);
    await tier.read("k");
    expect(tier.errors).toBe(2);
    expect(logger.warnings).toHaveLength(1);
    store.failing = false;
    clock.advance(1001);
    expect((await tier.read("k")).value).toBe("v");
    store.failing = true;
    await tier.read("k");
    expect(logger.warnings).toHaveLength(2); // a new outage after the store worked again
  });

  test("reads wait for the invalidations before them, which keep their order", async () => {
    const { store, tier } = open();
    store.entries.set("a", "old");
    let release!: () => void;
    store.hold = new Promise<void>((resolve) => (release = resolve));
    const first = tier.invalidate(["a"], [], [["t", ["a"]]]);
    const second = tier.invalidate(["b"], [], [["t", ["b"]]]);
    const read = tier.read("a");
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(store.calls).toEqual([]);
    release();
    expect((await read).value).toBeUndefined();
    await Promise.all([first, second]);
    expect(store.calls).toEqual(["invalidate a", "invalidate b", "read a"]);
  });

  test("a lost invalidation: nothing is read or written until the store is repaired, and the repair names what was lost and tells the peers", async () => {
    const { store, clock, tier } = open(1000);
    store.entries.set("a", "stale");
    store.entries.set("b", "stale");
    store.failing = true;
    await tier.invalidate(["a"], ["t"], [["t", ["a"]]]);
    const before = await tier.read("b");
    expect(before.value).toBeUndefined();
    expect(store.calls).toEqual(["invalidate a"]); // the circuit is open: the read did not even try
    store.failing = false;
    clock.advance(1001);
    await tier.write("b", "filled while dirty", 0); // the circuit is closed, but the store is not repaired yet
    expect(store.entries.get("b")).toBe("stale");
    expect((await tier.read("b")).value).toBeUndefined(); // repaired first: the stale entry is gone
    expect(store.repairs).toEqual([{ keys: ["a"], tables: ["t"], announce: true }]);
    const fresh = await tier.read("b");
    await tier.write("b", "fresh", fresh.guard);
    expect((await tier.read("b")).value).toBe("fresh");
  });

  test("a suspect store (a lost bus) is repaired before use without telling the peers", async () => {
    const { store, tier } = open();
    store.entries.set("a", "maybe stale");
    tier.suspect();
    expect((await tier.read("a")).value).toBeUndefined();
    expect(store.repairs).toEqual([{ keys: [], tables: [], announce: false }]);
  });
  test("a clear keeps its place among the invalidations, and reads wait for it: no entry it drops is read meanwhile", async () => {
    const { store, tier } = open();
    store.entries.set("a", "old");
    let release!: () => void;
    store.clearHold = new Promise<void>((resolve) => (release = resolve));
    const cleared = tier.clear();
    const invalidation = tier.invalidate(["b"], [], [["t", ["b"]]]);
    const read = tier.read("a");
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(store.calls).toEqual([]);
    release();
    expect((await read).value).toBeUndefined();
    await Promise.all([cleared, invalidation]);
    expect(store.calls).toEqual(["clear", "invalidate b", "read a"]);
  });

  test("a read that fails counts as an error, not a miss, and allows no fill", async () => {
    const { store, clock, tier } = open(1000);
    store.failing = true;
    const failed = await tier.read("k");
    expect({ hits: tier.hits, misses: tier.misses, errors: tier.errors }).toEqual({ hits: 0, misses: 0, errors: 1 });
    store.failing = false;
    clock.advance(1001);
    await tier.write("k", "filled on the strength of a failed read", failed.guard);
    expect(store.entries.has("k")).toBe(false);
  });
  test("a clear while the store is dirty and skipped waits for nothing: the repair drops every entry instead", async () => {
    const { store, clock, tier } = open(1000);
    store.entries.set("a", "stale");
    store.failing = true;
    await tier.invalidate(["a"], [], [["t", ["a"]]]); // lost: the store is dirty, the circuit open
    store.failing = false;
    store.clearHold = new Promise<void>(() => {}); // a silent store: a command sent now waits out its timeout
    const cleared = tier.clear();
    const read = await Promise.race([tier.read("a"), new Promise((resolve) => setTimeout(() => resolve("waited"), 50))]);
    expect(read).toEqual({ value: undefined, guard: undefined });
    expect(store.calls).toEqual(["invalidate a"]);
    await cleared;
    store.clearHold = undefined;
    clock.advance(1001);
    expect((await tier.read("a")).value).toBeUndefined(); // repaired first
    expect(store.repairs).toHaveLength(1);
  });
  test("a clear while the store is skipped (a failed read) waits for nothing, and the store is repaired before use", async () => {
    const { store, clock, tier } = open(1000);
    store.entries.set("a", "cleared");
    store.failing = true;
    await tier.read("a"); // fails: the circuit opens
    store.failing = false;
    store.clearHold = new Promise<void>(() => {});
    const cleared = tier.clear();
    const read = await Promise.race([tier.read("a"), new Promise((resolve) => setTimeout(() => resolve("waited"), 50))]);
    expect(read).toEqual({ value: undefined, guard: undefined });
    await cleared;
    store.clearHold = undefined;
    clock.advance(1001);
    expect((await tier.read("a")).value).toBeUndefined();
    expect(store.repairs).toEqual([{ keys: [], tables: [], announce: false }]);
  });
});
