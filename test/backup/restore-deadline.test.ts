/**
 * sqlite: the restore's in-place write (sqlite-backup-layout.ts, step 4) against a database another process
 * keeps busy. better-sqlite3's `backup()` steps a busy backup again at once with no limit, calling the progress
 * callback after each step; the restore's deadline must hold inside that loop: a `LockError`, nothing restored.
 * The busy steps are better-sqlite3's loop replayed by a spy (a real one needs SQLite to answer SQLITE_BUSY
 * mid-copy, which depends on timing); the spy is installed after the restore's checks, so only the in-place
 * write meets it.
 */
import "reflect-metadata";
import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { Task } from "../../entities/index.js";
import { createStorage, LockError } from "../../src/index.js";
import { sqliteRestoreHooks } from "../../src/backends/sqlite/sqlite-backup-layout.js";
import { backupPlanOf } from "../../src/backup/backup-plan.js";
import { restoreGeneration } from "../../src/backup/restore-generation.js";
import { coreOf } from "../../src/storage-core.js";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "strata-restore-deadline-"));
});
afterEach(() => {
  delete sqliteRestoreHooks.betweenCheckAndWrite;
  vi.restoreAllMocks();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Steps the spy takes before it gives up and reports the backup finished, as a step that found the database busy does. */
const STEP_LIMIT = 10_000;

describe("sqlite: a restore whose in-place write stays busy", () => {
  test("ends with a LockError once the deadline passes inside the attempt, and nothing is restored", async () => {
    const file = path.join(dir, "app.db");
    const root = path.join(dir, "generations");
    const storage = await createStorage({ url: `sqlite:${file}`, entities: [Task], autoCreate: true, backup: { enabled: true, dir: root, intervalMs: 2 ** 31 - 1 } });
    await storage.repository(Task).save({ projectId: "p", title: "a" });
    const generation = await coreOf(storage).backups!.create("manual");
    await storage.repository(Task).save({ projectId: "p", title: "b" });
    await storage.close();

    let steps = 0;
    let abandoned = false;
    sqliteRestoreHooks.betweenCheckAndWrite = async () => {
      // Each busy step moves the clock a second on: the 5 s deadline passes after a few steps, without waiting.
      const now = Date.now.bind(Date);
      const start = now();
      vi.spyOn(Date, "now").mockImplementation(() => start + steps * 1000);
      // better-sqlite3's runBackup: a step that left pages calls the progress callback, then steps again.
      vi.spyOn(Database.prototype, "backup").mockImplementation(async (_destination, options) => {
        const progress = options?.progress;
        for (; steps < STEP_LIMIT; steps++) {
          await new Promise((resolve) => setImmediate(resolve));
          try {
            progress?.({ totalPages: 10, remainingPages: 10 });
          } catch (error) {
            abandoned = true;
            throw error;
          }
        }
        return { totalPages: 10, remainingPages: 0 };
      });
    };

    const error = await restoreGeneration({ backend: "sqlite", location: file, plan: backupPlanOf("sqlite", file, root)!, generation: generation.name }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockError);
    expect((error as LockError).message).toContain(file);
    expect(abandoned).toBe(true);
    expect(steps).toBeLessThan(STEP_LIMIT);

    vi.restoreAllMocks();
    const reopened = await createStorage({ url: `sqlite:${file}`, entities: [Task] });
    try {
      expect((await reopened.repository(Task).findAll()).map((t) => t.title).sort()).toEqual(["a", "b"]);
    } finally {
      await reopened.close();
    }
  });
});
