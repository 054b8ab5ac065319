/**
 * sqlite: a generation holds exactly what its manifest lists (and the manifest), when it is made and after it
 * was checked for a restore. Its copy is a WAL database, and a read-only connection (the integrity check)
 * creates `-wal` and `-shm` beside it, files no manifest lists and no verification covers.
 */
import "reflect-metadata";
import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { Task } from "../../entities/index.js";
import { createStorage } from "../../src/index.js";
import { backupPlanOf } from "../../src/backup/backup-plan.js";
import { restoreGeneration } from "../../src/backup/restore-generation.js";
import { coreOf } from "../../src/storage-core.js";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "strata-generation-files-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("sqlite: the files of a generation", () => {
  test("are its manifest and data.db only, after it is made and after a restore checked it", async () => {
    const file = path.join(dir, "app.db");
    const storage = await createStorage({ url: `sqlite:${file}`, entities: [Task], autoCreate: true, backup: { enabled: true, intervalMs: 2 ** 31 - 1 } });
    await storage.repository(Task).save({ projectId: "p", title: "a" });
    const generation = await coreOf(storage).backups!.create("manual");
    await storage.close();
    expect(fs.readdirSync(generation.path).sort()).toEqual(["data.db", "manifest.json"]);

    await restoreGeneration({ backend: "sqlite", location: file, plan: backupPlanOf("sqlite", file, undefined)!, generation: generation.name });
    expect(fs.readdirSync(generation.path).sort()).toEqual(["data.db", "manifest.json"]);
  });
});
