/**
 * `Repository.findById` is not an async function (so that an L1 hit makes one promise, not three): it must
 * still report every failure as a rejected promise, never as a synchronous throw, with the cache on or off.
 */
import "reflect-metadata";
import { describe, expect, test } from "vitest";
import { Column, Entity, PrimaryColumn } from "typeorm";
import { createStorage, ValidationError } from "../../src/index.js";

@Entity("find_by_id_items")
class FindByIdItem {
  @PrimaryColumn({ type: "integer" }) id: number;
  @Column({ type: "string" }) name: string;
}

/** Set by a test: the entity's `label` setter then throws, as a validating setter would for a value it refuses. */
let refuseLabels = false;
const labels = new WeakMap<object, string>();

@Entity("find_by_id_guarded")
class GuardedItem {
  @PrimaryColumn({ type: "integer" }) id: number;
  @Column({ type: "string" })
  get label(): string {
    return labels.get(this)!;
  }
  set label(value: string) {
    if (refuseLabels) throw new Error(`label ${value} refused`);
    labels.set(this, value);
  }
}

describe("findById", () => {
  for (const cache of [true, false]) {
    test(`an invalid id gives a rejected promise, never a throw (cache ${cache ? "on" : "off"})`, async () => {
      const storage = await createStorage({ url: "memory:", entities: [FindByIdItem], cache: cache ? {} : false });
      try {
        const items = storage.repository(FindByIdItem);
        await items.save({ id: 1, name: "one" });
        let promise: Promise<unknown> | undefined;
        expect(() => (promise = items.findById("1" as unknown as number))).not.toThrow();
        await expect(promise).rejects.toThrow(ValidationError);
        await expect(items.findById(null as unknown as number)).rejects.toThrow(/id is missing/);
        // The same read, valid, twice: the second is a cache hit when the cache is on; both are fresh entities.
        const first = await items.findById(1);
        const second = await items.findById(1);
        expect(first).toEqual({ id: 1, name: "one" });
        expect(second).toEqual(first);
        expect(second).not.toBe(first);
        expect(second).toBeInstanceOf(FindByIdItem);
        expect(storage.cache.stats().l1.hits).toBe(cache ? 1 : 0);
        expect(await items.findById(2)).toBeNull();
      } finally {
        await storage.close();
      }
    });
  }

  for (const cache of [true, false]) {
    test(`a failure making the entity (a column setter that throws) gives a rejected promise, never a throw (cache ${cache ? "on" : "off"})`, async () => {
      const storage = await createStorage({ url: "memory:", entities: [GuardedItem], cache: cache ? {} : false });
      try {
        const items = storage.repository(GuardedItem);
        await items.save({ id: 1, label: "one" } as GuardedItem);
        expect(labels.get((await items.findById(1))!)).toBe("one"); // with the cache on, the next read is an L1 hit
        refuseLabels = true;
        let promise: Promise<unknown> | undefined;
        expect(() => (promise = items.findById(1))).not.toThrow();
        await expect(promise).rejects.toThrow("label one refused");
        expect(storage.cache.stats().l1.hits).toBe(cache ? 1 : 0);
      } finally {
        refuseLabels = false;
        await storage.close();
      }
    });
  }
});
