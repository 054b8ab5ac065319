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
});
