/** The README's examples run here, so the docs cannot go stale. */
import { describe, expect, test } from "vitest";
import { runReadmeExample } from "../support/readme-example.js";

describe("README examples", () => {
  test("the quick start prints what its comment says", async () => {
    expect(await runReadmeExample("quickstart")).toEqual([JSON.stringify(["Ship", "Write docs"])]);
  });

  test("select returns plain objects of the selected fields only", async () => {
    expect(await runReadmeExample("select")).toEqual([JSON.stringify([{ title: "Again" }, { title: "Hello" }])]);
  });

  test("iterate and findPage walk the order by keyset, nulls last descending, and the last page has no cursor", async () => {
    expect(await runReadmeExample("paging")).toEqual(["e0 e3 e2 e4 e1", "e0 e3 | e4 e1 null"]);
  });

  test("a query listener hears the SQL and the bound values of a save and a find", async () => {
    expect(await runReadmeExample("query-events")).toEqual([
      `upsert notes: INSERT INTO "notes" ("id", "text") VALUES (?, ?) ON CONFLICT ("id") DO UPDATE SET "text" = excluded."text" ["n1","hello"], 1 row(s)`,
      `find notes: SELECT "id", "text" FROM "notes" WHERE "text" = ? ORDER BY "id" ASC ["hello"], 1 row(s)`,
    ]);
  });

  test("a backend given as a factory of typed options serves the storage", async () => {
    expect(await runReadmeExample("backend-factory")).toEqual(["traced-memory hello", "open with 1 table(s) close"]);
  });

  test("the demo runs and tells its story", async () => {
    const { runDemo } = await import("../../examples/demo.js");
    const { createStorage } = await import("../../src/index.js");
    const { ENTITIES } = await import("../../entities/index.js");
    const storage = await createStorage({ url: "memory:", entities: ENTITIES, autoCreate: true });
    const lines = await runDemo(storage, () => {});
    await storage.close();
    expect(lines[0]).toBe('Saved 4 tasks on the "Launch" board of Ada.');
    expect(lines).toContain("Moving it again from the stale copy was refused: ConcurrencyError.");
    expect(lines.find((l) => l.startsWith("A transaction"))).toContain("rolled back: still 4 tasks");
    // Each of the 4 tasks misses once (the demo's writes invalidated them), then every read hits.
    expect(lines).toContain("1000 reads of 4 hot tasks: 99.6% served by the L1 cache.");
  });
});
