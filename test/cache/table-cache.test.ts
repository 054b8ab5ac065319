/**
 * A table cache on its own (src/cache/table-cache.ts): it needs only the narrow `TableCacheContext` (the
 * tiers, the schema mark, a loader), not a storage. Single flight, stale flights and schema moves.
 */
import "reflect-metadata";
import { describe, expect, test } from "vitest";
import { L1Cache } from "../../src/cache/l1/l1-cache.js";
import type { TableCacheContext } from "../../src/cache/table-cache.js";
import { TableCache } from "../../src/cache/table-cache.js";
import type { Key, Row } from "../../src/index.js";
import { normalizeQuery } from "../../src/query/normalize-query.js";
import { readEntitySchema } from "../../src/schema/read-entity-schema.js";
import { makeProjectionCopier } from "../../src/schema/row-values.js";
import { Item } from "./cache-test-kit.js";

const schema = readEntitySchema(Item);

/** A context over an in-memory table whose reads can be held at a gate. */
function context() {
  const rows = new Map<Key, Row>([["x", { id: "x", name: "v1", quantity: 1, tags: null, createdAt: new Date(0), version: 1 }]]);
  const l1 = new L1Cache({ maxSizeBytes: 1_000_000 });
  let gate: Promise<void> | undefined;
  const ctx = {
    l1,
    trustedL1: l1,
    l2: undefined,
    appliedMark: "m0",
    schemaVersion: 0,
    schemaChanges: 0,
    reads: 0,
    // Counts only: L1 keeps its entries, so a miss after a move shows that the keys moved.
    schemaChanged() {
      this.schemaChanges++;
    },
    loader: {
      findById: async (_schema: unknown, key: Key) => {
        ctx.reads++;
        const row = rows.get(key);
        const copy = row ? { ...row } : null;
        await gate;
        return copy;
      },
      findByIds: async (_schema: unknown, keys: readonly Key[]) => {
        ctx.reads++;
        return keys.flatMap((key) => (rows.has(key) ? [{ ...rows.get(key)! }] : []));
      },
    },
    hold(): () => void {
      let open!: () => void;
      gate = new Promise<void>((resolve) => (open = resolve));
      return () => {
        gate = undefined;
        open();
      };
    },
  };
  return { ctx: ctx satisfies TableCacheContext, rows };
}

describe("table cache", () => {
  test("concurrent misses of one key read the backend once; each caller gets its own entity", async () => {
    const { ctx } = context();
    const table = new TableCache(ctx, schema);
    const release = ctx.hold();
    const reads = [table.findById("x"), table.findById("x"), table.findById("x")];
    release();
    const [a, b, c] = await Promise.all(reads);
    expect(ctx.reads).toBe(1);
    expect(a).toBeInstanceOf(Item);
    expect(a).not.toBe(b);
    expect((a as Item).createdAt).not.toBe((c as Item).createdAt);
    await table.findById("x");
    expect(ctx.reads).toBe(1); // an L1 hit
  });

  test("a write during a read in flight: the caller gets what was read, the cache keeps nothing of it", async () => {
    const { ctx, rows } = context();
    const table = new TableCache(ctx, schema);
    const release = ctx.hold();
    const racing = table.findById("x");
    rows.set("x", { ...rows.get("x")!, name: "v2" });
    table.invalidate(["x"]);
    release();
    expect(((await racing) as Item).name).toBe("v1");
    expect(((await table.findById("x")) as Item).name).toBe("v2");
    expect(ctx.reads).toBe(2);
  });

  test("a schema version move is reported once and moves every key", async () => {
    const { ctx } = context();
    const table = new TableCache(ctx, schema);
    await table.findById("x");
    ctx.schemaVersion++;
    await table.findById("x");
    await table.findByIds(["x"]);
    expect(ctx.schemaChanges).toBe(1);
    expect(ctx.reads).toBe(2);
  });

  test("a cached projection is handed out through its copier: only its fields, sharing nothing with the entry", async () => {
    const { ctx } = context();
    const table = new TableCache(ctx, schema);
    const query = normalizeQuery(schema, { select: ["tags", "createdAt"] });
    const copy = makeProjectionCopier(query.select!.filter((c) => !c.primary));
    let loads = 0;
    const load = async () => {
      loads++;
      return [{ id: "x", tags: ["a"], createdAt: new Date(7) }];
    };
    const first = (await table.query("rows", query, undefined, load, copy)) as Array<{ tags: string[]; createdAt: Date }>;
    expect(first).toEqual([{ tags: ["a"], createdAt: new Date(7) }]);
    first[0]!.tags.push("mutated");
    first[0]!.createdAt.setTime(0);
    const second = await table.query("rows", query, undefined, load, copy);
    expect(loads).toBe(1); // an L1 hit
    expect(second).toEqual([{ tags: ["a"], createdAt: new Date(7) }]);
    expect(Object.getPrototypeOf(second[0])).toBe(Object.prototype);
    // The same query without select is another entry, handed out as entities.
    const full = await table.query("rows", normalizeQuery(schema, {}), undefined, async () => [{ id: "x", name: "v1", quantity: 1, tags: null, createdAt: new Date(0), version: 1 }]);
    expect(full[0]).toBeInstanceOf(Item);
  });
});
