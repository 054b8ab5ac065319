/** The README's include example runs here, so the relations docs cannot go stale. */
import { expect, test } from "vitest";
import { runReadmeExample } from "../support/readme-example.js";

test("README: include loads writers, the last note by text and the labels of each article", async () => {
  expect(await runReadmeExample("include")).toEqual(["a1 by Ada: second [db,ts]; a2 by Bob:  []"]);
});
