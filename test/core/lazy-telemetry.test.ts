import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, test } from "vitest";

/**
 * Opens a storage with `options` in a fresh node process (the built package), adds a query listener, saves
 * and reads, and says whether @opentelemetry/api was loaded.
 */
function loadsOpenTelemetry(options: string): boolean {
  const index = pathToFileURL(path.resolve("dist/src/index.js")).href;
  const script = `
    import { createRequire } from "node:module";
    const { createStorage } = await import(${JSON.stringify(index)});
    const storage = await createStorage({ url: "memory:", entities: [], ${options} });
    storage.on("query", () => {});
    await storage.sql\`select 1\`.catch(() => {});
    const loaded = Object.keys(createRequire(import.meta.url).cache).some((file) => file.includes("/node_modules/@opentelemetry/api/"));
    await storage.close();
    console.log(JSON.stringify(loaded));`;
  return JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" }).trim()) as boolean;
}

describe("memory: telemetry client", () => {
  test("@opentelemetry/api is loaded only when telemetry is on, not for a listener or logQueries", () => {
    expect(loadsOpenTelemetry("logQueries: true, logger: { debug() {}, info() {}, warn() {}, error() {} }")).toBe(false);
    expect(loadsOpenTelemetry("telemetry: true")).toBe(true);
  });
});
