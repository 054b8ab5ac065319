/**
 * The memory and file engines build a table's full-text index in the heap, at its first search: an index
 * that would not fit is a CapacityError naming the table, not an out-of-memory crash (hostile review: 9.6 MB
 * of text took 205 MB of heap). Run in a child with a small heap.
 */
import { afterEach, describe, expect, test } from "vitest";
import type { FixtureChild } from "../support/fixture-child.js";
import { runFixture } from "../support/fixture-child.js";

const children: FixtureChild[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) await child.kill();
});

async function run(megabytes: number, heapMb: number): Promise<string[]> {
  const child = runFixture("full-text-heap.js", [String(megabytes)], [`--max-old-space-size=${heapMb}`]);
  children.push(child);
  await child.exited;
  return child.lines.length > 0 ? child.lines : [`exited ${child.child.exitCode ?? child.child.signalCode}: ${child.stderr().slice(0, 300)}`];
}

describe("full-text search: an index larger than the heap", () => {
  test("a search whose index would not fit in a 160 MB heap is a CapacityError naming the table", async () => {
    const lines = await run(12, 160);
    expect(lines[0]).toBe("error STRATA_CAPACITY heap_docs");
    expect(lines.join("\n")).toMatch(/does not fit in the heap.*--max-old-space-size/s);
  }, 120_000);

  test("the same search with text that fits finds its rows", async () => {
    expect((await run(1, 160))[0]).toBe("found 5");
  }, 120_000);
});
