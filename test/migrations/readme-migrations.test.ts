/** The README's migration example runs here, so it cannot go stale. */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, test, vi } from "vitest";

const root = path.resolve(import.meta.dirname, "../..");

describe("memory: README migrations example", () => {
  test("prints the states its comment says", async () => {
    const readme = readFileSync(path.join(root, "README.md"), "utf8");
    const match = /<!-- example: migrations -->\s*```ts\n([\s\S]*?)```/.exec(readme);
    expect(match).not.toBeNull();
    const dir = path.join(root, "test", "generated");
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, "readme-migrations.ts");
    writeFileSync(file, match![1]!.replaceAll('from "stratastore"', 'from "../../src/index.js"'));
    const lines: string[] = [];
    const spy = vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => void lines.push(args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" ")));
    try {
      await import(/* @vite-ignore */ file);
    } finally {
      spy.mockRestore();
    }
    expect(lines).toEqual([JSON.stringify(["1 applied", "2 pending"])]);
  });
});
