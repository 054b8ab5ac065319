/**
 * The files of `sqlite::memory:` storages: a database in the OS temporary directory, named
 * `strata-memory-<pid>-<12 hex>.sqlite` (with its `-wal`, `-shm` and `-journal`), removed on `close()`.
 * A process that was killed leaves them behind; the first `sqlite::memory:` storage a process opens removes
 * those of processes that are gone.
 *
 * A file is removed only when all of these hold: its name is exactly that pattern (nothing else in the
 * temporary directory is touched); the pid in it is gone, by util/process-alive.ts (dead, or reused by a
 * process that started after the file was last written); and, for the database itself, no connection holds
 * it: a `locking_mode = EXCLUSIVE` probe that does not wait gets the lock. The last check is what keeps
 * the files of a live storage in another container (another pid namespace, whose pids look dead here) that
 * shares the temporary directory: its connections hold SQLite locks (WAL), which the kernel keeps across
 * namespaces. Not covered: a temporary directory shared over a network file system by several machines,
 * whose locks may not reach here.
 */
import fs from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
import { processGone } from "../../util/process-alive.js";
import { lockConflictOf } from "./sqlite-errors.js";

/** Exactly what {@link temporaryFile} makes, and the companions SQLite adds beside it. */
const TEMPORARY_NAME = /^(strata-memory-(\d+)-[0-9a-f]{12}\.sqlite)(-wal|-shm|-journal)?$/;
const COMPANIONS = ["-wal", "-shm", "-journal"];

/** A new file name for a `sqlite::memory:` database, in the OS temporary directory. */
export function temporaryFile(): string {
  return path.join(tmpdir(), `strata-memory-${process.pid}-${randomBytes(6).toString("hex")}.sqlite`);
}

/** Deletes a database file and its companions. */
export function removeDatabaseFiles(file: string): void {
  for (const suffix of ["", ...COMPANIONS]) fs.rmSync(`${file}${suffix}`, { force: true });
}

/** True when some connection (of any process on this machine) has the database open. */
function heldByAConnection(file: string): boolean {
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { timeout: 0, fileMustExist: true });
    db.pragma("locking_mode = EXCLUSIVE");
    db.exec("BEGIN EXCLUSIVE");
    db.exec("COMMIT");
    return false;
  } catch (error) {
    // Busy or locked, extended codes too (SQLITE_BUSY_RECOVERY: its owner is rebuilding the WAL index): someone
    // has it. Anything else (not a database, gone meanwhile): nobody can be using it.
    return lockConflictOf(error) !== undefined;
  } finally {
    db?.close();
  }
}

/**
 * Removes the files of `sqlite::memory:` storages whose process is gone (see the module comment) from
 * `dir`; returns the names removed. Never throws: a leftover that cannot be removed is left for later.
 */
export function removeStaleTemporaryFiles(dir: string = tmpdir()): string[] {
  const removed: string[] = [];
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch {
    return removed;
  }
  const databases = new Map<string, string[]>();
  for (const entry of entries) {
    const match = TEMPORARY_NAME.exec(entry);
    if (match) databases.set(match[1]!, [...(databases.get(match[1]!) ?? []), entry]);
  }
  for (const [database, files] of databases) {
    try {
      const pid = Number(TEMPORARY_NAME.exec(database)![2]);
      // The newest write of any of its files: a live owner writes its -wal long after creating the database.
      const lastWritten = Math.max(...files.map((f) => fs.statSync(path.join(dir, f), { throwIfNoEntry: false })?.mtimeMs ?? 0));
      if (!processGone(pid, lastWritten)) continue;
      if (files.includes(database) && heldByAConnection(path.join(dir, database))) continue;
      removeDatabaseFiles(path.join(dir, database));
      removed.push(...files);
    } catch {
      /* removed by another process meanwhile, or not ours to remove: left for later */
    }
  }
  return removed;
}

let swept = false;

/** {@link removeStaleTemporaryFiles} of the OS temporary directory, once per process. */
export function sweepTemporaryFilesOnce(): void {
  if (swept) return;
  swept = true;
  removeStaleTemporaryFiles();
}
