import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { loadMigrations, MigrationError } from "../../src/index.js";

describe("memory: migration loader", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "strata-loader-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test("loads .mjs, .js and .cjs files in version order; a compiled file wins over its .ts source", async () => {
    writeFileSync(path.join(dir, "package.json"), JSON.stringify({ type: "module" }));
    writeFileSync(path.join(dir, "0003-third.cjs"), `module.exports = { version: 3, name: "third", async up() {} };`);
    writeFileSync(path.join(dir, "0001-first.mjs"), `export default { version: 1, name: "first", async up() {} };`);
    writeFileSync(path.join(dir, "0002-second.js"), `export default { version: 2, name: "second", async up() {} };`);
    writeFileSync(path.join(dir, "0002-second.ts"), `this is not valid TypeScript, and it is never loaded`);
    writeFileSync(path.join(dir, "0002-second.d.ts"), `export {};`);
    writeFileSync(path.join(dir, "README.md"), `notes`);
    const loaded = await loadMigrations(dir);
    expect(loaded.map((m) => [m.version, m.name, path.basename(m.file!)])).toEqual([
      [1, "first", "0001-first.mjs"],
      [2, "second", "0002-second.js"],
      [3, "third", "0003-third.cjs"],
    ]);
    expect(new Set(loaded.map((m) => m.checksum)).size).toBe(3);
  });

  test("a file that does not load is a MigrationError naming it", async () => {
    writeFileSync(path.join(dir, "0001-broken.mjs"), `export default {`);
    const error = await loadMigrations(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as MigrationError).file).toBe(path.join(dir, "0001-broken.mjs"));
    expect((error as Error).message).toMatch(/^0001-broken\.mjs: could not be loaded/);
  });

  test("a missing folder is a MigrationError naming it", async () => {
    await expect(loadMigrations(path.join(dir, "nope"))).rejects.toThrow(/Cannot read the migrations folder .*nope/);
  });
});
