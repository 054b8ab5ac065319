/** The README's search example with select and include runs here, so the docs cannot go stale. */
import { expect, test } from "vitest";
import { runReadmeExample } from "../support/readme-example.js";

test("README: search selects the title, includes the guide's name, and snippets the unselected description", async () => {
  expect(await runReadmeExample("search-include")).toEqual(["Old town with Ada: …the <b>cathedral</b> and the…"]);
});
