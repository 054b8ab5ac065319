/**
 * sqlite: a restore killed (SIGKILL) after it copied the generation beside the database leaves that copy
 * (`<database>.restore-...`, as large as the database). The next restore removes it once its process is gone:
 * nothing else does, and each killed restore would otherwise leave one more.
 */
import "reflect-metadata";
import { spawn } from "node:child_process";
import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { Task } from "../../entities/index.js";
import { createStorage } from "../../src/index.js";
import { backupPlanOf } from "../../src/backup/backup-plan.js";
import { restoreGeneration } from "../../src/backup/restore-generation.js";
import { coreOf } from "../../src/storage-core.js";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "strata-restore-kill-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("sqlite: a restore killed mid-way", () => {
  test("leaves its copy beside the database only until the next restore", async () => {
    const file = path.join(dir, "app.db");
    const storage = await createStorage({ url: `sqlite:${file}`, entities: [Task], autoCreate: true, backup: { enabled: true, intervalMs: 2 ** 31 - 1 } });
    await storage.repository(Task).save({ projectId: "p", title: "a" });
    const generation = await coreOf(storage).backups!.create("manual");
    await storage.close();

    const proc = spawn(process.execPath, ["--import", "tsx", path.resolve("test/fixtures/backup-child.ts"), "restore-paused", file, generation.name], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    proc.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise((resolve) => proc.once("exit", resolve));
    await vi.waitFor(() => expect(stdout).toContain("paused"), { timeout: 20_000, interval: 10 });
    proc.kill("SIGKILL");
    await exited;
    const leftovers = () => fs.readdirSync(dir).filter((entry) => entry.startsWith("app.db.restore-"));
    expect(leftovers().length).toBeGreaterThan(0);

    await restoreGeneration({ backend: "sqlite", location: file, plan: backupPlanOf("sqlite", file, undefined)!, generation: generation.name });
    expect(leftovers()).toEqual([]);
  }, 30_000);
});
