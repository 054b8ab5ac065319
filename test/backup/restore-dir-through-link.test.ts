/**
 * file: `backup.dir` inside the data directory, but named through a symbolic link (a deployment's `current`
 * link, a mount point): the restore must tell the generations' directory from the data as it does when the
 * paths are spelled alike, and neither copy it into itself nor move it aside with the replaced data.
 */
import "reflect-metadata";
import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { Task } from "../../entities/index.js";
import { createStorage } from "../../src/index.js";
import { listGenerations } from "../../src/backup/backup-generations.js";
import { backupPlanOf } from "../../src/backup/backup-plan.js";
import { restoreGeneration } from "../../src/backup/restore-generation.js";
import { coreOf } from "../../src/storage-core.js";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "strata-restore-link-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("file: restore with backup.dir reached through a link", () => {
  test("restores, and keeps every generation", async () => {
    fs.mkdirSync(path.join(dir, "release-1"));
    fs.symlinkSync(path.join(dir, "release-1"), path.join(dir, "current"));
    const data = path.join(dir, "current", "data");
    const root = path.join(dir, "release-1", "data", "backups");
    const storage = await createStorage({ url: `file:${data}`, entities: [Task], autoCreate: true, backup: { enabled: true, dir: root, intervalMs: 2 ** 31 - 1 } });
    await storage.repository(Task).save({ projectId: "p", title: "a" });
    const generation = await coreOf(storage).backups!.create("manual");
    await storage.repository(Task).save({ projectId: "p", title: "b" });
    await storage.close();

    const before = listGenerations(root).map((g) => g.name);
    expect(before).toContain(generation.name);
    const { replaced } = await restoreGeneration({ backend: "file", location: data, plan: backupPlanOf("file", data, root)!, generation: generation.name });
    expect(listGenerations(root).map((g) => g.name)).toEqual([...before, replaced!.name]);
    const restored = await createStorage({ url: `file:${data}`, entities: [Task] });
    try {
      expect((await restored.repository(Task).findAll()).map((t) => t.title)).toEqual(["a"]);
    } finally {
      await restored.close();
    }
  });
});
