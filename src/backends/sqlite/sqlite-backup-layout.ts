/**
 * The SQLite backend's backup layout (src/backup/backup-layout.ts): a generation holds `data.db`, made with
 * the online backup API and checked with `PRAGMA integrity_check`; the generations go to `<database>.backups`
 * unless `backup.dir` says otherwise; a `sqlite::memory:` storage needs `backup.dir` and makes one on close.
 *
 * A restore writes the generation INTO the database file, through SQLite, with the online backup API (the
 * generation is the source, the live database the destination), in one step: one write transaction of the
 * destination, journaled like any other. It never renames a file over the database, so there is no moment
 * at which a process that opens the database keeps a replaced file: a connection opened before the restore's
 * commit reads the old data, after it the restored data, and a crash mid-restore is rolled back by SQLite's
 * own journal. In order:
 *
 * 1. the generation is copied to a temp file beside the database, `<database>.restore-<pid>-<uuid>` (the
 *    backup's source, so the generation itself is never written to); those a killed restore left are removed
 *    by the next restore once their process is gone;
 * 2. a connection in `locking_mode = EXCLUSIVE` takes `BEGIN EXCLUSIVE` without waiting: a `LockError` while any
 *    other connection has the database open; holding that lock, it copies the data being replaced into one
 *    more generation (reason `restore`);
 * 3. it closes, and the backup API writes the generation into the database at once (the temp copy first
 *    takes the database's page size when they differ: SQLite refuses a backup into a WAL database of another). The only window left is
 *    between that close and the backup's first lock (microseconds): a process that opens the database then
 *    is safe (it reads the old or the restored data through SQLite's locks), but a write it commits in that
 *    instant is replaced by the restore and is not in the `restore` generation;
 * 4. the database is compared with the generation (`serialize()`, the header's counters and schema cookie aside): better-sqlite3
 *    reports a step that found the database busy as finished, and a restore that did not happen must never
 *    say it did. A busy database is retried for `BUSY_RETRY_MS`, then a `LockError`, nothing changed; the deadline
 *    holds inside an attempt too (better-sqlite3 steps a busy backup again with no limit). A full disk
 *    (SQLITE_FULL) is a `CapacityError` naming the database, its old data kept (SQLite rolls the write back).
 *
 * A database file SQLite cannot read at all (overwritten, a damaged header) cannot be written through
 * SQLite, and no connection can hold it: the temp file is fsynced and renamed over it instead (its stale
 * `-wal`, `-shm` and `-journal` removed first, which applied to the restored file would corrupt it).
 */
import fs from "node:fs";
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import * as path from "node:path";
import type Database from "better-sqlite3";
import { CapacityError, CorruptionError, LockError } from "../../errors.js";
import type { Generation } from "../../backup/backup-generations.js";
import { createGeneration, fsyncPath } from "../../backup/backup-generations.js";
import type { BackupLayout, BackupPlan, RestoreResult } from "../../backup/backup-layout.js";
import { diskFullError } from "../../util/disk-full-error.js";
import { lockConflictOf } from "./sqlite-errors.js";
import { processGone } from "../../util/process-alive.js";

/** See the module comment. */
export const sqliteBackupLayout: BackupLayout = {
  planOf(location, dir) {
    const inMemory = !location || location === ":memory:";
    if (inMemory && !dir) return undefined;
    const source = inMemory ? ":memory:" : path.resolve(location);
    return { root: dir ?? `${location}.backups`, dataName: "data.db", source, verify: verifySqliteCopy, onClose: inMemory };
  },
  restoresFrom: ["sqlite"],
  restore: restoreSqlite,
};

/**
 * A seam for the tests of the window between the check and the write (step 3 of the module comment): a
 * test opens the database from a second process there. Unset in normal use.
 */
export const sqliteRestoreHooks: { betweenCheckAndWrite?: (file: string) => Promise<void> } = {};

/** How long a restore retries a database another process took in the instant between the check and the write. */
const BUSY_RETRY_MS = 5000;

async function restoreSqlite(file: string, plan: BackupPlan, generation: Generation): Promise<RestoreResult> {
  const { default: Sqlite } = await import("better-sqlite3");
  // Restoring onto a new machine: the database's directory may not exist yet.
  fs.mkdirSync(path.dirname(file), { recursive: true });
  removeStaleRestoreCopies(file);
  const temp = `${file}.restore-${process.pid}-${randomUUID()}`;
  try {
    fs.copyFileSync(generation.dataPath, temp);
    await fsyncPath(temp);
    let replaced: Generation | undefined;
    let readable = false;
    if (fs.existsSync(file)) {
      const db = new Sqlite(file, { timeout: 0, fileMustExist: true });
      try {
        readable = true;
        try {
          db.pragma("locking_mode = EXCLUSIVE");
          db.exec("BEGIN EXCLUSIVE");
          db.exec("COMMIT");
        } catch (error) {
          const code = (error as { code?: string }).code ?? "";
          if (lockConflictOf(error) !== undefined) {
            throw new LockError(`The SQLite database ${file} is open in another connection or process; close it (stop the application) before restoring`, { file, cause: error });
          }
          // Not a database SQLite can read (overwritten, a damaged header): what a restore is for. Any other
          // answer (an I/O error, a protocol error) proves nothing about who holds it, and the path below renames
          // over the file and deletes its -wal: refused.
          if (!code.startsWith("SQLITE_NOTADB") && !code.startsWith("SQLITE_CORRUPT")) throw error;
          readable = false;
        }
        // What is replaced is kept as it is, damaged or not (unverified): a restore is most often of a database
        // that fails integrity_check, and refusing that one would leave no way back to a good generation.
        replaced = await createGeneration(plan.root, {
          reason: "restore",
          backend: "sqlite",
          source: plan.source,
          dataName: plan.dataName,
          write: async (dataPath) => {
            if (readable) await db.backup(dataPath);
            else fs.copyFileSync(file, dataPath);
          },
        });
      } finally {
        db.close();
      }
    }
    await sqliteRestoreHooks.betweenCheckAndWrite?.(file);
    if (readable) await writeInPlace(Sqlite, temp, file);
    else {
      for (const suffix of ["-wal", "-shm", "-journal"]) fs.rmSync(`${file}${suffix}`, { force: true });
      fs.renameSync(temp, file);
      await fsyncPath(path.dirname(file));
    }
    return { restored: generation, replaced };
  } catch (error) {
    // The copy beside the database is the restore's first write there: a full disk is told as one, by its file.
    // The write into the database goes through SQLite, whose unix VFS reports ENOSPC as SQLITE_FULL; SQLite
    // rolled that transaction back, so the database holds its old data.
    const what = `restore ${generation.name} into ${file} (nothing was restored)`;
    throw diskFullError(error, file, what) ?? sqliteFullError(error, file, what) ?? error;
  } finally {
    for (const suffix of ["", "-wal", "-shm", "-journal"]) fs.rmSync(`${temp}${suffix}`, { force: true });
  }
}

/** A `CapacityError` naming `file` when `error` is SQLite's SQLITE_FULL, else undefined (disk-full-error.ts's words). */
function sqliteFullError(error: unknown, file: string, what: string): CapacityError | undefined {
  if ((error as { code?: unknown })?.code !== "SQLITE_FULL") return undefined;
  return new CapacityError(`Could not ${what}: the disk holding ${file} is full (SQLITE_FULL); the database holds its old data. Free space and retry.`, { file, cause: error });
}

/** What follows `<database>.restore-` in a restore's copy (step 1 of the module comment) and its companions. */
const RESTORE_COPY = /^(\d+)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(-wal|-shm|-journal)?$/;

/**
 * Removes the copies that restores of `file` killed mid-way left beside it (as large as the database), once
 * their process is gone (util/process-alive.ts); those of a restore still running are left alone.
 */
function removeStaleRestoreCopies(file: string): void {
  const prefix = `${path.basename(file)}.restore-`;
  const dir = path.dirname(file);
  for (const entry of fs.readdirSync(dir)) {
    const match = entry.startsWith(prefix) ? RESTORE_COPY.exec(entry.slice(prefix.length)) : null;
    if (!match) continue;
    const stat = fs.statSync(path.join(dir, entry), { throwIfNoEntry: false });
    if (stat && processGone(Number(match[1]), stat.mtimeMs)) fs.rmSync(path.join(dir, entry), { force: true });
  }
}

/**
 * Header bytes that differ between a database and the copy the backup API wrote of it: the WAL flags
 * (18-19), the change counter (24-27), the schema cookie (40-43, bumped so that other connections reload
 * the schema) and the version stamp (92-99).
 */
const HEADER_COUNTERS: ReadonlyArray<readonly [number, number]> = [
  [18, 20],
  [24, 28],
  [40, 44],
  [92, 100],
];

/** The header's end: the rest of page 1 and every later page are compared as they are, without a copy. */
const HEADER_BYTES = 100;

function sameDatabase(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length || a.length < HEADER_BYTES) return false;
  for (let at = 0; at < HEADER_BYTES; at++) {
    if (a[at] !== b[at] && !HEADER_COUNTERS.some(([from, to]) => at >= from && at < to)) return false;
  }
  return a.subarray(HEADER_BYTES).equals(b.subarray(HEADER_BYTES));
}

/** The page size in a SQLite database file's header; undefined when it is not one. */
function pageSizeOf(file: string): number | undefined {
  const header = Buffer.alloc(100);
  const fd = fs.openSync(file, "r");
  try {
    if (fs.readSync(fd, header, 0, 100, 0) < 100 || header.toString("latin1", 0, 16) !== "SQLite format 3\0") return undefined;
  } finally {
    fs.closeSync(fd);
  }
  const raw = header.readUInt16BE(16);
  const size = raw === 1 ? 65536 : raw;
  // Read from a file: only a valid page size (a power of two from 512) reaches the pragma.
  return size >= 512 && size <= 65536 && (size & (size - 1)) === 0 ? size : undefined;
}

/** Steps 3 and 4 of the module comment. */
async function writeInPlace(Sqlite: typeof Database, source: string, file: string): Promise<void> {
  const src = new Sqlite(source, { fileMustExist: true });
  try {
    // SQLite refuses to back up into a WAL database of another page size: the temp copy takes the database's.
    const pageSize = pageSizeOf(file);
    if (pageSize !== undefined && src.pragma("page_size", { simple: true }) !== pageSize) {
      src.pragma("journal_mode = DELETE");
      src.pragma(`page_size = ${pageSize}`);
      src.exec("VACUUM");
    }
    const wanted = src.serialize();
    const deadline = Date.now() + BUSY_RETRY_MS;
    const taken = () => new LockError(`The SQLite database ${file} was taken by another process while it was being restored; nothing was restored. Stop the application and restore again`, { file });
    for (;;) {
      // All the pages in one step: one transaction of the destination (pages beyond the first step would
      // otherwise be copied while other connections may commit between steps). better-sqlite3 calls the
      // progress callback after every step that left pages, a busy one included, and steps again at once, with
      // no limit: the deadline is checked here too. Its return value only sets the next step's page count (0
      // copies none and steps again), so the attempt is abandoned by throwing: better-sqlite3 then closes the
      // backup, which rolls back the destination's transaction (nothing restored), and rejects with the error.
      await src.backup(file, {
        progress: () => {
          if (Date.now() >= deadline) throw taken();
          return 0x7fffffff;
        },
      });
      const check = new Sqlite(file, { fileMustExist: true, timeout: BUSY_RETRY_MS });
      let done: boolean;
      try {
        done = sameDatabase(check.serialize(), wanted);
      } finally {
        check.close();
      }
      if (done) return;
      if (Date.now() >= deadline) throw taken();
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  } finally {
    src.close();
  }
}

/**
 * `PRAGMA integrity_check` on a SQLite copy, read-only, in a worker thread: on a large database it takes
 * seconds, which on the main thread would stop every write of the storage being backed up. better-sqlite3
 * is loaded there, when a SQLite copy is checked: importing Strata does not load it.
 */
export async function verifySqliteCopy(file: string): Promise<void> {
  const { Worker } = await import("node:worker_threads");
  const worker = new Worker(INTEGRITY_CHECK, { eval: true, workerData: { file, module: createRequire(import.meta.url).resolve("better-sqlite3") } });
  const answer = await new Promise<{ rows?: string[]; error?: string }>((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`the integrity check's worker exited with code ${code}`)));
  }).finally(() => void worker.terminate());
  if (answer.error !== undefined) throw new CorruptionError(`The SQLite copy ${file} cannot be read: ${answer.error}`, { file });
  const rows = answer.rows ?? [];
  if (rows.length !== 1 || rows[0] !== "ok") {
    throw new CorruptionError(`The SQLite copy ${file} fails PRAGMA integrity_check: ${rows.slice(0, 5).join("; ")}`, { file });
  }
}

/** The worker of {@link verifySqliteCopy} (CommonJS, as an eval'd worker is). */
const INTEGRITY_CHECK = `
const fs = require("node:fs");
const { parentPort, workerData } = require("node:worker_threads");
// A copy of a WAL database is one too: a read-only connection creates its -wal and -shm, and cannot remove
// them on close. Those it created are removed after it (an empty -wal only: nothing was written through it),
// so that a generation holds only what its manifest lists.
const companions = ["-wal", "-shm"].map((suffix) => workerData.file + suffix).filter((f) => !fs.existsSync(f));
let db;
let answer;
try {
  const Database = require(workerData.module);
  db = new Database(workerData.file, { readonly: true, fileMustExist: true });
  answer = { rows: db.prepare("PRAGMA integrity_check").pluck().all() };
} catch (error) {
  answer = { error: String(error && error.message || error) };
} finally {
  if (db) db.close();
  try {
    const wal = companions.find((f) => f.endsWith("-wal"));
    if (!wal || (fs.statSync(wal, { throwIfNoEntry: false })?.size ?? 0) === 0) for (const f of companions) fs.rmSync(f, { force: true });
  } catch {
    // Left behind: the check's answer matters more than two empty files.
  }
}
// Last: the answer ends the worker (the caller terminates it).
parentPort.postMessage(answer);
`;
