/**
 * copyStorage's options, checked before anything is copied: a batch size that is not a positive integer is
 * a ConfigError and leaves the target untouched (1.5 used to copy one row of five and call it verified, as
 * the checksums were read in the same short pages; 0, -1 and NaN failed with a TypeError after creating
 * the target's tables; Infinity is no LIMIT a SQL source takes).
 */
import "reflect-metadata";
import { afterEach, describe, expect, test } from "vitest";
import { Column, Entity, PrimaryColumn } from "typeorm";
import type { Storage } from "../../src/index.js";
import { ConfigError, copyStorage, createStorage } from "../../src/index.js";
import { coreOf } from "../../src/storage-core.js";

@Entity("counters")
class Counter {
  @PrimaryColumn({ type: "string" }) id: string;
  @Column({ type: "integer" }) n: number;
}

const open: Storage[] = [];

describe("memory: copyStorage options", () => {
  afterEach(async () => {
    for (const storage of open.splice(0)) await storage.close();
  });

  test.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, "10"])("batchSize %s is a ConfigError, and the target stays empty", async (batchSize) => {
    const from = await createStorage({ url: "memory:", entities: [Counter], autoCreate: true });
    const to = await createStorage({ url: "memory:", entities: [Counter], autoCreate: false });
    open.push(from, to);
    for (let i = 0; i < 5; i++) await from.repository(Counter).save({ id: `c${i}`, n: i });
    const error = await copyStorage(from, to, { batchSize: batchSize as number }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain("batchSize");
    const tx = await coreOf(to).backend.begin();
    try {
      expect(await tx.schema!().listTables()).toEqual([]);
    } finally {
      await tx.rollback();
    }
  });

  test.each([
    [2, [0, 2, 4, 5]],
    [5, [0, 5]],
  ])("batchSize %s copies all five rows, in batches of that size", async (batchSize, expected) => {
    const from = await createStorage({ url: "memory:", entities: [Counter], autoCreate: true });
    const to = await createStorage({ url: "memory:", entities: [Counter], autoCreate: false });
    open.push(from, to);
    for (let i = 0; i < 5; i++) await from.repository(Counter).save({ id: `c${i}`, n: i });
    const progress: number[] = [];
    const copied = await copyStorage(from, to, { batchSize, onProgress: ({ copied: n }) => progress.push(n) });
    expect(copied.map((c) => [c.table, c.rows])).toEqual([["counters", 5]]);
    expect(progress).toEqual(expected);
    expect(await to.repository(Counter).count()).toBe(5);
  });
});
