import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import type { StorageConfig } from "../../src/index.js";
import { createStorage } from "../../src/index.js";
import { migrationBackends } from "./migration-backends.js";

const CHILD = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../dist/test/fixtures/migrate-child.js");

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CHILD, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

// Only backends that several processes open at once: the file backend's directory lock admits one.
const shared = migrationBackends().filter((b) => b.name === "sqlite" || b.name === "postgres");

if (shared.length === 0) {
  describe("three processes migrating at once", () => {
    test.skip("needs a backend that several processes open at once (sqlite, or postgres with STRATA_PG_URL)", () => {});
  });
}

for (const backend of shared) {
  describe(`${backend.name}: three processes migrating at once`, () => {
    let dir: string;
    let config: StorageConfig;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      dir = mkdtempSync(path.join(tmpdir(), "strata-mp-"));
      ({ config, cleanup } = await backend.fresh());
    });
    afterEach(async () => {
      await cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    test("apply each version exactly once", async () => {
      writeFileSync(
        path.join(dir, "0001-create-runs.mjs"),
        `export default { version: 1, name: "create-runs", async up(m) { await m.createTable("runs", { version: { type: "integer", primary: true }, pid: { type: "integer" } }); await m.insertRows("runs", [{ version: 1, pid: process.pid }]); } };`,
      );
      for (const v of [2, 3, 4]) {
        // A second application would insert the same key: an IntegrityError in that child.
        writeFileSync(
          path.join(dir, `000${v}-step-${v}.mjs`),
          `export default { version: ${v}, name: "step-${v}", async up(m) { await new Promise((r) => setTimeout(r, 30)); await m.insertRows("runs", [{ version: ${v}, pid: process.pid }]); } };`,
        );
      }
      const url = config.url!;
      const results = await Promise.all([run([url, dir]), run([url, dir]), run([url, dir])]);
      for (const r of results) expect(r.stderr, r.stderr).toBe("");
      expect(results.map((r) => r.code)).toEqual([0, 0, 0]);
      const applied = results.flatMap((r) => JSON.parse(r.stdout) as number[]).sort();
      expect(applied).toEqual([1, 2, 3, 4]);
      const storage = await createStorage({ ...config, migrations: dir });
      try {
        expect((await storage.migrations.status()).map((s) => s.state)).toEqual(["applied", "applied", "applied", "applied"]);
      } finally {
        await storage.close();
      }
    });

    test("a runner killed while it holds the lock does not keep it: the next one migrates at once", async () => {
      const hang = path.join(dir, "0001-hangs.mjs");
      writeFileSync(hang, `export default { version: 1, name: "hangs", async up(m) { await m.createTable("half", { id: { type: "integer", primary: true } }); process.stdout.write("started\\n"); await new Promise(() => setInterval(() => {}, 1000)); } };`);
      const child = spawn(process.execPath, [CHILD, config.url!, dir], { stdio: ["ignore", "pipe", "pipe"] });
      await new Promise<void>((resolve, reject) => {
        child.stdout.on("data", (d: Buffer) => d.toString().includes("started") && resolve());
        child.on("exit", () => reject(new Error("the child ended before its migration started")));
      });
      child.kill("SIGKILL");
      await new Promise((resolve) => child.on("close", resolve));
      writeFileSync(hang, `export default { version: 1, name: "hangs", async up(m) { await m.createTable("half", { id: { type: "integer", primary: true } }); } };`);
      // Far below the row lock's 30 s staleness: the dead holder is recognized, not waited out.
      const storage = await createStorage({ ...config, migrations: dir, timeoutMs: 3000 });
      try {
        expect((await storage.migrations.up()).map((r) => r.version)).toEqual([1]);
      } finally {
        await storage.close();
      }
    });
  });
}
