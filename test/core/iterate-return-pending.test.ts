/**
 * `return()` called while the first page of an `iterate` walk loads, with `next()` calls made before and
 * after it without waiting (as an async generator's queue answers them): the calls made before it get their
 * rows, the call made after it is done, on the memory and SQLite backends.
 */
import "reflect-metadata";
import { Column, Entity, PrimaryColumn } from "typeorm";
import { describe, expect, test } from "vitest";
import { createStorage } from "../../src/index.js";

@Entity("rve_walk_rows")
class RveWalkRow {
  @PrimaryColumn({ type: "integer" }) id!: number;
  @Column({ type: "integer" }) n!: number;
}

for (const url of ["memory:", "sqlite::memory:"]) {
  describe(`${url.replace(/:.*/, "")}: return() while a page loads`, () => {
    test("a next() called after return() is done, even while the page return() waits for still loads", async () => {
      const storage = await createStorage({ url, entities: [RveWalkRow], autoCreate: true, cache: false });
      try {
        await storage.repository(RveWalkRow).saveMany(Array.from({ length: 10 }, (_, i) => ({ id: i + 1, n: i })));
        const walk = storage.repository(RveWalkRow).iterate({ orderBy: { id: "asc" } }, { pageSize: 5 })[Symbol.asyncIterator]();
        const before = [walk.next(), walk.next()];
        const returned = walk.return!();
        const after = walk.next();
        const results = await Promise.all([...before, returned, after]);
        expect(results.map((r) => (r.done ? "done" : (r.value as RveWalkRow).id))).toEqual([1, 2, "done", "done"]);
        expect(await walk.next()).toEqual({ value: undefined, done: true });
      } finally {
        await storage.close();
      }
    });
  });
}
