/**
 * Leftovers of killed processes (util/process-alive.ts is the one pid check): `sqlite::memory:` temp files,
 * half-written backup generations and lock files, removed when their process is gone (dead, or its pid reused
 * by a process that started after the leftover was last written), and only then.
 */
import "reflect-metadata";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { Task } from "../../entities/index.js";
import { createStorage } from "../../src/index.js";
import { listGenerations } from "../../src/backup/backup-generations.js";
import { removeStaleTemporaryFiles } from "../../src/backends/sqlite/sqlite-temporary-files.js";
import { DirectoryLock, LOCK_FILE } from "../../src/util/directory-lock.js";
import { processGone } from "../../src/util/process-alive.js";

let dir: string;
const children: ReturnType<typeof spawn>[] = [];
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "strata-leftovers-"));
});
afterEach(() => {
  vi.restoreAllMocks();
  for (const child of children.splice(0)) child.kill("SIGKILL");
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The pid of a process that has exited. */
function deadPid(): number {
  const run = spawnSync(process.execPath, ["-e", ""]);
  return run.pid!;
}

/** A live process started now: its pid stands for a pid reused after a leftover was written. */
async function livePid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
  children.push(child);
  await new Promise((resolve) => child.once("spawn", resolve));
  return child.pid!;
}

const hex = "0123456789ab";
const anHourAgo = () => new Date(Date.now() - 3_600_000);
const touch = (file: string, content = "x", when?: Date) => {
  fs.writeFileSync(file, content);
  if (when) fs.utimesSync(file, when, when);
};
const onLinux = process.platform === "linux";

describe("sqlite::memory: temp files of killed processes", () => {
  test("those of a dead pid are removed; a live owner's, and names not exactly Strata's, are kept", () => {
    const dead = deadPid();
    touch(path.join(dir, `strata-memory-${dead}-${hex}.sqlite`));
    touch(path.join(dir, `strata-memory-${dead}-${hex}.sqlite-wal`));
    touch(path.join(dir, `strata-memory-${dead}-bbbbbbbbbbbb.sqlite-shm`));
    touch(path.join(dir, `strata-memory-${process.pid}-${hex}.sqlite`));
    touch(path.join(dir, `strata-memory-${dead}-abc.sqlite`));
    touch(path.join(dir, `strata-memory-${dead}-${hex}.sqlite.bak`));
    touch(path.join(dir, `my-memory-${dead}-${hex}.sqlite`));
    const removed = removeStaleTemporaryFiles(dir);
    expect(removed.sort()).toEqual([`strata-memory-${dead}-${hex}.sqlite`, `strata-memory-${dead}-${hex}.sqlite-wal`, `strata-memory-${dead}-bbbbbbbbbbbb.sqlite-shm`].sort());
    expect(fs.readdirSync(dir).sort()).toEqual(
      [`my-memory-${dead}-${hex}.sqlite`, `strata-memory-${dead}-${hex}.sqlite.bak`, `strata-memory-${dead}-abc.sqlite`, `strata-memory-${process.pid}-${hex}.sqlite`].sort(),
    );
  });

  test("a database whose pid looks dead but that a connection holds (another pid namespace) is kept", () => {
    const file = path.join(dir, `strata-memory-${deadPid()}-${hex}.sqlite`);
    const db = new Database(file);
    try {
      db.pragma("journal_mode = WAL");
      db.exec("CREATE TABLE t (x)");
      expect(removeStaleTemporaryFiles(dir)).toEqual([]);
      expect(fs.existsSync(file)).toBe(true);
    } finally {
      db.close();
    }
    expect(removeStaleTemporaryFiles(dir)).toContain(path.basename(file));
  });

  // The probe's answer when another connection holds the database may be an extended code: SQLITE_BUSY_RECOVERY
  // while that connection rebuilds the WAL index, SQLITE_LOCKED_SHAREDCACHE. Each means held, never "nobody".
  for (const code of ["SQLITE_BUSY", "SQLITE_BUSY_RECOVERY", "SQLITE_BUSY_SNAPSHOT", "SQLITE_LOCKED", "SQLITE_LOCKED_SHAREDCACHE"]) {
    test(`a database whose pid looks dead and whose probe answers ${code} is kept`, () => {
      const file = path.join(dir, `strata-memory-${deadPid()}-${hex}.sqlite`);
      const db = new Database(file);
      db.exec("CREATE TABLE t (x)");
      db.close();
      const exec = Database.prototype.exec;
      vi.spyOn(Database.prototype, "exec").mockImplementation(function (this: Database.Database, sql: string) {
        if (sql === "BEGIN EXCLUSIVE") throw Object.assign(new Error("database is locked"), { code });
        return exec.call(this, sql);
      });
      expect(removeStaleTemporaryFiles(dir)).toEqual([]);
      expect(fs.existsSync(file)).toBe(true);
    });
  }

  test.skipIf(!onLinux)("a pid reused by a process that started after the file was written is gone; one written since is kept", async () => {
    const pid = await livePid();
    const old = path.join(dir, `strata-memory-${pid}-${hex}.sqlite`);
    const fresh = path.join(dir, `strata-memory-${pid}-bbbbbbbbbbbb.sqlite`);
    touch(old, "x", anHourAgo());
    touch(fresh);
    expect(processGone(pid, anHourAgo().getTime())).toBe(true);
    expect(processGone(pid, Date.now())).toBe(false);
    expect(removeStaleTemporaryFiles(dir)).toEqual([path.basename(old)]);
    expect(fs.existsSync(fresh)).toBe(true);
  });

  test("the first sqlite::memory: storage a process opens removes them from the OS temporary directory", async () => {
    const stale = path.join(dir, `strata-memory-${deadPid()}-${hex}.sqlite`);
    touch(stale);
    const previous = process.env["TMPDIR"];
    process.env["TMPDIR"] = dir;
    try {
      const storage = await createStorage({ url: "sqlite::memory:", entities: [Task], autoCreate: true });
      expect(fs.existsSync(stale)).toBe(false);
      await storage.close();
    } finally {
      if (previous === undefined) delete process.env["TMPDIR"];
      else process.env["TMPDIR"] = previous;
    }
  });
});

describe.skipIf(!onLinux)("a reused pid (Linux: the live process started after the leftover)", () => {
  test("a half-written generation of it is removed by the listing; one written since is kept", async () => {
    const pid = await livePid();
    const old = path.join(dir, `generation-20260101T000000000Z-000001.tmp-${pid}`);
    const fresh = path.join(dir, `generation-20260101T000000000Z-000002.tmp-${pid}`);
    fs.mkdirSync(old);
    fs.utimesSync(old, anHourAgo(), anHourAgo());
    fs.mkdirSync(fresh);
    expect(listGenerations(dir)).toEqual([]);
    expect(fs.readdirSync(dir)).toEqual([path.basename(fresh)]);
  });

  test("a lock file naming it, taken before it started, is taken over at once", async () => {
    const pid = await livePid();
    fs.writeFileSync(path.join(dir, LOCK_FILE), `${JSON.stringify({ pid, startedAt: anHourAgo().toISOString(), token: "00000000-0000-4000-8000-000000000000" })}\n`);
    const lock = await DirectoryLock.acquire(dir, 0);
    lock.release();
    // Its own lock, taken now, is respected.
    fs.writeFileSync(path.join(dir, LOCK_FILE), `${JSON.stringify({ pid, startedAt: new Date().toISOString(), token: "00000000-0000-4000-8000-000000000001" })}\n`);
    await expect(DirectoryLock.acquire(dir, 0)).rejects.toThrow(/in use by process/);
  });
});
