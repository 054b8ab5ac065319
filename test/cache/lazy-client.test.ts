import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, test } from "vitest";

/** Opens a storage in a fresh node process (the built package) and says whether ioredis was loaded. */
function loadsIoredis(cache: unknown): boolean {
  const index = pathToFileURL(path.resolve("dist/src/index.js")).href;
  const script = `
    import { createRequire } from "node:module";
    const { createStorage } = await import(${JSON.stringify(index)});
    const storage = await createStorage({ url: "memory:", entities: [], cache: ${JSON.stringify(cache)}, logger: { debug() {}, info() {}, warn() {}, error() {} } });
    const loaded = Object.keys(createRequire(import.meta.url).cache).some((file) => file.includes("/node_modules/ioredis/"));
    await storage.close();
    console.log(JSON.stringify(loaded));`;
  return JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" }).trim()) as boolean;
}

describe("memory: cache clients", () => {
  test("ioredis is loaded only when a Redis tier is configured", () => {
    expect(loadsIoredis({ l1: {} })).toBe(false);
    expect(loadsIoredis({ l1: {}, l2: { type: "redis", url: "redis://127.0.0.1:1" } })).toBe(true);
  });
});
