/** The README's examples run here, so the docs cannot go stale. */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, test, vi } from "vitest";

const root = path.resolve(import.meta.dirname, "../..");
const readme = readFileSync(path.join(root, "README.md"), "utf8");

function example(name: string): string {
  const match = new RegExp(`<!-- example: ${name}[^>]*-->\\s*\`\`\`ts\\n([\\s\\S]*?)\`\`\``).exec(readme);
  if (!match) throw new Error(`README has no example "${name}"`);
  return match[1]!;
}

async function run(name: string): Promise<string[]> {
  const dir = path.join(root, "test", "generated");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `readme-${name}.ts`);
  writeFileSync(file, example(name).replaceAll('from "stratastore"', 'from "../../src/index.js"'));
  const lines: string[] = [];
  const spy = vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => void lines.push(args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" ")));
  try {
    await import(/* @vite-ignore */ file);
  } finally {
    spy.mockRestore();
  }
  return lines;
}

describe("README examples", () => {
  test("the quick start prints what its comment says", async () => {
    expect(await run("quickstart")).toEqual([JSON.stringify(["Ship", "Write docs"])]);
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
  });
});
