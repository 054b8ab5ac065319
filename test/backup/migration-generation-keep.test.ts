/**
 * file: a migration run's own schema changes each make a generation (reason `compaction`), and `keep` counts
 * them with the others. A run of `keep` migrations or more must still leave the generation made before it:
 * README, "Backups": "Restoring it undoes the whole run".
 */
import "reflect-metadata";
import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { Task } from "../../entities/index.js";
import { createStorage, defineMigration } from "../../src/index.js";
import { listGenerations } from "../../src/backup/backup-generations.js";
import { backupPlanOf } from "../../src/backup/backup-plan.js";
import { restoreGeneration } from "../../src/backup/restore-generation.js";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "strata-migration-keep-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const step = (version: number) =>
  defineMigration({
    version,
    name: `step-${version}`,
    up: async (m) => void (await m.updateRows("tasks", (row) => ({ ...row, title: `${String(row["title"])} +${version}` }))),
    down: async () => {},
  });
const broken = defineMigration({ version: 9, name: "broken", up: async () => Promise.reject(new Error("this migration is broken")) });

describe("file: a migration run longer than keep", () => {
  test("keeps the generation made before it, and restoring that undoes the whole run", async () => {
    const data = path.join(dir, "data");
    const root = path.join(dir, "generations");
    const migrations = [step(1), step(2), step(3), step(4), broken];
    const storage = await createStorage({ url: `file:${data}`, entities: [Task], autoCreate: true, migrations, backup: { enabled: true, dir: root, intervalMs: 2 ** 31 - 1 } });
    await storage.repository(Task).save({ projectId: "p", title: "a" });
    await expect(storage.migrations.up()).rejects.toThrow(/broken/);
    await storage.close();

    const made = listGenerations(root).filter((g) => g.manifest.reason === "migration");
    expect(made).toHaveLength(1);
    await restoreGeneration({ backend: "file", location: data, plan: backupPlanOf("file", data, root)!, generation: made[0]!.name });
    const restored = await createStorage({ url: `file:${data}`, entities: [Task], migrations });
    try {
      expect((await restored.repository(Task).findAll()).map((t) => t.title)).toEqual(["a"]);
      expect((await restored.migrations.status()).every((s) => s.state === "pending")).toBe(true);
    } finally {
      await restored.close();
    }
  });
});
