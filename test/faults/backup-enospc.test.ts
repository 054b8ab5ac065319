/**
 * Fault: `backup.dir` on a real full disk (a small tmpfs). A generation that does not fit is a
 * `CapacityError` naming the generations' directory (what `strata backup create` prints, and what a scheduled
 * backup's warning says), with no half generation left and the earlier ones intact; once space is freed, the
 * next one is made.
 */
import "reflect-metadata";
import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { Task } from "../../entities/index.js";
import { CapacityError, createStorage } from "../../src/index.js";
import { listGenerations } from "../../src/backup/backup-generations.js";
import { backupPlanOf } from "../../src/backup/backup-plan.js";
import { restoreGeneration } from "../../src/backup/restore-generation.js";
import { coreOf } from "../../src/storage-core.js";
import type { Tmpfs } from "../support/tmpfs.js";
import { fillDisk, mountTmpfs, tmpfsSkipReason } from "../support/tmpfs.js";

let disk: Tmpfs;
let dir: string;
beforeEach(() => {
  disk = mountTmpfs(1024 * 1024);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "strata-backup-enospc-"));
});
afterEach(() => {
  disk.unmount();
  fs.rmSync(dir, { recursive: true, force: true });
});

const skip = tmpfsSkipReason();

for (const kind of ["sqlite", "file"] as const) {
  describe.skipIf(skip)(`${kind}: a generation on a full disk`, () => {
    test("is a CapacityError naming the generations' directory, leaves nothing half made, and the next one fits once space is freed", async () => {
      const root = path.join(disk.dir, "generations");
      const url = kind === "sqlite" ? `sqlite:${path.join(dir, "app.db")}` : `file:${path.join(dir, "data")}`;
      const storage = await createStorage({ url, entities: [Task], autoCreate: true, backup: { enabled: true, dir: root, intervalMs: 2 ** 31 - 1 } });
      try {
        await storage.repository(Task).saveMany(Array.from({ length: 50 }, (_, i) => ({ projectId: "p", title: `${i} ${"x".repeat(200)}` })));
        const first = await coreOf(storage).backups!.create("manual");
        const filler = fillDisk(disk.dir);
        const error = await coreOf(storage).backups!.create("manual").catch((e: unknown) => e);
        expect(error).toBeInstanceOf(CapacityError);
        expect((error as CapacityError).message).toContain(root);
        expect(fs.readdirSync(root)).toEqual([first.name]);
        fs.rmSync(filler);
        await coreOf(storage).backups!.create("manual");
        expect(listGenerations(root)).toHaveLength(2);
      } finally {
        await storage.close();
      }
    });
  });
}

for (const kind of ["sqlite", "file"] as const) {
  describe.skipIf(skip)(`${kind}: a restore onto a full disk`, () => {
    test("is a CapacityError naming where the data is, with the data as it was and nothing of the restore left", async () => {
      const location = kind === "sqlite" ? path.join(disk.dir, "app.db") : path.join(disk.dir, "data");
      const root = path.join(dir, "generations");
      const storage = await createStorage({ url: `${kind}:${location}`, entities: [Task], autoCreate: true, backup: { enabled: true, dir: root, intervalMs: 2 ** 31 - 1 } });
      await storage.repository(Task).saveMany(Array.from({ length: 50 }, (_, i) => ({ projectId: "p", title: `${i} ${"x".repeat(200)}` })));
      const generation = await coreOf(storage).backups!.create("manual");
      await storage.repository(Task).save({ projectId: "p", title: "after" });
      await storage.close();
      const entriesBefore = fs.readdirSync(disk.dir).sort();
      const filler = fillDisk(disk.dir);

      const error = await restoreGeneration({ backend: kind, location, plan: backupPlanOf(kind, location, root)!, generation: generation.name }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CapacityError);
      expect((error as CapacityError).message).toContain(disk.dir);
      fs.rmSync(filler);
      expect(fs.readdirSync(disk.dir).sort()).toEqual(entriesBefore);
      const reopened = await createStorage({ url: `${kind}:${location}`, entities: [Task] });
      try {
        expect(await reopened.repository(Task).count()).toBe(51);
      } finally {
        await reopened.close();
      }
    });
  });
}

describe.skipIf(skip)("sqlite: a restore whose write into the database fills the disk", () => {
  test("is a CapacityError naming the database (SQLITE_FULL, not a driver error), with the old data intact", async () => {
    const file = path.join(disk.dir, "app.db");
    const root = path.join(dir, "generations");
    const storage = await createStorage({ url: `sqlite:${file}`, entities: [Task], autoCreate: true, backup: { enabled: true, dir: root, intervalMs: 2 ** 31 - 1 } });
    await storage.repository(Task).saveMany(Array.from({ length: 150 }, (_, i) => ({ projectId: "p", title: `${i} ${"x".repeat(500)}` })));
    const generation = await coreOf(storage).backups!.create("manual");
    await storage.repository(Task).deleteMany({ projectId: "p" });
    await storage.repository(Task).save({ projectId: "p", title: "after" });
    await storage.close();
    // The database shrinks to a few pages, so the generation's copy beside it fits (the restore's first write)
    // but writing the generation into the database, as large again, does not.
    const shrink = new Database(file);
    shrink.exec("VACUUM");
    shrink.close();
    const generationBytes = fs.statSync(path.join(root, generation.name, "data.db")).size;
    const reserve = path.join(disk.dir, "reserve.bin");
    fs.writeFileSync(reserve, Buffer.alloc(generationBytes + 128 * 1024));
    const filler = fillDisk(disk.dir);
    fs.rmSync(reserve);

    const error = await restoreGeneration({ backend: "sqlite", location: file, plan: backupPlanOf("sqlite", file, root)!, generation: generation.name }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CapacityError);
    expect((error as CapacityError).message).toContain(file);
    expect((error as CapacityError).file).toBe(file);
    fs.rmSync(filler);
    expect(fs.readdirSync(disk.dir).filter((entry) => entry.includes(".restore-"))).toEqual([]);
    const reopened = await createStorage({ url: `sqlite:${file}`, entities: [Task] });
    try {
      expect((await reopened.repository(Task).findAll()).map((t) => t.title)).toEqual(["after"]);
    } finally {
      await reopened.close();
    }
  });
});
