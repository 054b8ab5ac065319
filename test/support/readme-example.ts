/** Runs a README example (a ```ts block after `<!-- example: NAME -->`) and returns what it logged. */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { vi } from "vitest";

const root = path.resolve(import.meta.dirname, "../..");

export async function runReadmeExample(name: string): Promise<string[]> {
  const readme = readFileSync(path.join(root, "README.md"), "utf8");
  const match = new RegExp(`<!-- example: ${name}[^>]*-->\\s*\`\`\`ts\\n([\\s\\S]*?)\`\`\``).exec(readme);
  if (!match) throw new Error(`README has no example "${name}"`);
  // Written inside the project (test/generated, git-ignored) so that vitest compiles it with the
  // project's tsconfig: decorators and their metadata included.
  const dir = path.join(root, "test", "generated");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `readme-${name}.ts`);
  writeFileSync(file, match[1]!.replaceAll('from "stratastore"', 'from "../../src/index.js"').replaceAll('from "stratastore/conformance"', 'from "../../src/conformance/index.js"'));
  const lines: string[] = [];
  const spy = vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => void lines.push(args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" ")));
  try {
    await import(/* @vite-ignore */ file);
  } finally {
    spy.mockRestore();
  }
  return lines;
}
