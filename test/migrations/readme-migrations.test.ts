/** The README's migration example runs here, so it cannot go stale. */
import { describe, expect, test } from "vitest";
import { runReadmeExample } from "../support/readme-example.js";

describe("memory: README migrations example", () => {
  test("prints the states its comment says", async () => {
    expect(await runReadmeExample("migrations")).toEqual([JSON.stringify(["1 applied", "2 pending"])]);
  });
});
