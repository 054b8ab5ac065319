/**
 * sqlite: the restore's check that no other connection holds the database. SQLite answers a held database
 * with SQLITE_BUSY or one of its extended codes (SQLITE_BUSY_RECOVERY while another connection rebuilds the
 * WAL index, SQLITE_BUSY_SNAPSHOT, SQLITE_LOCKED_SHAREDCACHE). Each must be a `LockError` with nothing
 * changed, never taken for "a file SQLite cannot read", which is renamed over with its -wal deleted.
 */
import "reflect-metadata";
import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { Task } from "../../entities/index.js";
import { createStorage, LockError } from "../../src/index.js";
import { backupPlanOf } from "../../src/backup/backup-plan.js";
import { restoreGeneration } from "../../src/backup/restore-generation.js";
import { coreOf } from "../../src/storage-core.js";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "strata-restore-busy-"));
});
afterEach(() => {
  vi.restoreAllMocks();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("sqlite: a restore told the database is busy by an extended code", () => {
  for (const code of ["SQLITE_BUSY_RECOVERY", "SQLITE_BUSY_SNAPSHOT", "SQLITE_LOCKED_SHAREDCACHE"]) {
    test(`${code}: a LockError, and the database is the same file with the same rows`, async () => {
      const file = path.join(dir, `${code}.db`);
      const storage = await createStorage({ url: `sqlite:${file}`, entities: [Task], autoCreate: true, backup: { enabled: true, intervalMs: 2 ** 31 - 1 } });
      await storage.repository(Task).save({ projectId: "p", title: "a" });
      const generation = await coreOf(storage).backups!.create("manual");
      await storage.repository(Task).save({ projectId: "p", title: "b" });
      const inode = fs.statSync(file).ino;
      const exec = Database.prototype.exec;
      vi.spyOn(Database.prototype, "exec").mockImplementation(function (this: Database.Database, sql: string) {
        if (sql === "BEGIN EXCLUSIVE") throw Object.assign(new Error("database is locked"), { code });
        return exec.call(this, sql);
      });
      try {
        const error = await restoreGeneration({ backend: "sqlite", location: file, plan: backupPlanOf("sqlite", file, undefined)!, generation: generation.name }).catch((e: unknown) => e);
        vi.restoreAllMocks();
        expect(error).toBeInstanceOf(LockError);
        expect(fs.statSync(file).ino).toBe(inode);
        expect((await storage.repository(Task).findAll({ orderBy: { title: "asc" } })).map((t) => t.title)).toEqual(["a", "b"]);
      } finally {
        await storage.close();
      }
    });
  }
});
