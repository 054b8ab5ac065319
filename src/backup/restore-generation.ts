/**
 * `strata backup restore`: puts a generation back in place of a storage's data, for a storage no process
 * has open. In order:
 *
 * 1. the generation is checked against its manifest (sizes, SHA-256), and a SQLite one with
 *    `PRAGMA integrity_check`: a damaged generation is refused before anything changes;
 * 2. the storage is taken for this process alone, or refused with a `LockError`: SQLite by a connection
 *    in `locking_mode = EXCLUSIVE` that runs `BEGIN EXCLUSIVE` without waiting (it fails while any other
 *    connection, in this process or another, has the database open, WAL readers included); the file
 *    backend by its lock file `strata.lock`, which a live process holds for as long as it has the directory open
 *    (a file SQLite cannot read at all, say overwritten, no connection can hold: it is not locked);
 * 3. the data being replaced becomes one more generation (reason `restore`), so a restore can be undone; it
 *    is kept as it is, not verified: the data a restore replaces is often damaged;
 * 4. the generation's data is copied in: SQLite to a temp file that is fsynced and renamed over the
 *    database (its `-wal` and `-shm` removed); the file backend's into a staging directory inside the data
 *    directory first (a failed copy changes nothing), then the old files are removed and the new ones
 *    renamed in, under its lock (a kill in that short step is undone by running the restore again).
 *
 * Known limit (SQLite): the exclusive connection is closed just before the rename, and a process that opens
 * the database in that instant keeps the replaced file. Stop the application before restoring.
 */
import fs from "node:fs";
import { randomUUID } from "node:crypto";
import * as path from "node:path";
import { ConfigError, LockError } from "../errors.js";
import { DirectoryLock, LOCK_FILE } from "../util/directory-lock.js";
import type { Generation } from "./backup-generations.js";
import { createGeneration, findGeneration, fsyncPath, fsyncTree, isGenerationEntry, verifyGeneration } from "./backup-generations.js";
import type { BackupPlan } from "./backup-plan.js";

/** What {@link restoreGeneration} did. */
export interface RestoreResult {
  /** The generation put in place. */
  readonly restored: Generation;
  /** The generation of the data it replaced; undefined when there was none (no database yet). */
  readonly replaced: Generation | undefined;
}

/**
 * Restores generation `name` (a name, or a generation's directory) of the `backend` storage at `location`
 * (a SQLite file or a file-backend directory) from `plan.root`.
 */
export async function restoreGeneration(backend: string, location: string, plan: BackupPlan, name: string): Promise<RestoreResult> {
  const generation = findGeneration(plan.root, name);
  if (generation.manifest.backend !== backend && !(backend === "file" && generation.manifest.backend === "memory")) {
    throw new ConfigError([`generation: ${generation.name} was taken from a ${generation.manifest.backend} storage, not ${backend}`], { file: generation.path });
  }
  await verifyGeneration(generation);
  await plan.verify?.(generation.dataPath);
  if (backend === "sqlite") return restoreSqlite(location, plan, generation);
  if (backend === "file") return restoreDirectory(location, plan, generation);
  throw new ConfigError([`generation: a ${backend} storage cannot be restored in place; open the generation's data with createStorage("file:" + its data directory)`]);
}

/** SQLite's answers that mean another connection holds the database, as opposed to a file it cannot read. */
const BUSY_CODES = new Set(["SQLITE_BUSY", "SQLITE_LOCKED"]);

async function restoreSqlite(file: string, plan: BackupPlan, generation: Generation): Promise<RestoreResult> {
  const { default: Database } = await import("better-sqlite3");
  let replaced: Generation | undefined;
  if (fs.existsSync(file)) {
    const db = new Database(file, { timeout: 0, fileMustExist: true });
    try {
      let readable = true;
      try {
        db.pragma("locking_mode = EXCLUSIVE");
        db.exec("BEGIN EXCLUSIVE");
        db.exec("COMMIT");
      } catch (error) {
        if (BUSY_CODES.has((error as { code?: string }).code ?? "")) {
          throw new LockError(`The SQLite database ${file} is open in another connection or process; close it (stop the application) before restoring`, { file, cause: error });
        }
        // Not a database SQLite can read (overwritten, a damaged header): what a restore is for. No
        // connection can hold such a file, so there is nothing to lock; it is kept as it is.
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
  // Restoring onto a new machine: the database's directory may not exist yet.
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temp = `${file}.restore-${randomUUID()}`;
  try {
    fs.copyFileSync(generation.dataPath, temp);
    await fsyncPath(temp);
    // A -wal or -journal left beside the database belongs to the replaced file: applied to the restored one it would corrupt it.
    for (const suffix of ["-wal", "-shm", "-journal"]) fs.rmSync(`${file}${suffix}`, { force: true });
    fs.renameSync(temp, file);
    await fsyncPath(path.dirname(file));
  } catch (error) {
    fs.rmSync(temp, { force: true });
    throw error;
  }
  return { restored: generation, replaced };
}

/** The directory a file restore copies the generation into first, inside the data directory (one file system: renames). */
const STAGING_PREFIX = ".strata-restore-";

async function restoreDirectory(dir: string, plan: BackupPlan, generation: Generation): Promise<RestoreResult> {
  fs.mkdirSync(dir, { recursive: true });
  // The file backend's own lock, taken without waiting: a live holder is a LockError naming its pid.
  const lock = await DirectoryLock.acquire(dir, 0);
  try {
    // The generations' own directory (by default `backups` inside the data directory) is not data, nor, when
    // `backup.dir` is the data directory itself, the generations in it: the one being restored among them.
    const isData = (entry: string) =>
      entry !== LOCK_FILE &&
      !entry.startsWith(STAGING_PREFIX) &&
      path.join(dir, entry) !== plan.root &&
      !plan.root.startsWith(path.join(dir, entry) + path.sep) &&
      !(path.resolve(plan.root) === path.resolve(dir) && isGenerationEntry(entry));
    const all = fs.readdirSync(dir);
    // A staging directory left by a restore that was killed (we hold the lock: its process is gone).
    for (const entry of all) if (entry.startsWith(STAGING_PREFIX)) fs.rmSync(path.join(dir, entry), { recursive: true, force: true });
    const entries = all.filter(isData);
    // The generation is copied in first: a copy that fails (a full disk, the generation pruned meanwhile)
    // then fails before anything of the data is removed. After it, only renames remain.
    const staging = path.join(dir, `${STAGING_PREFIX}${randomUUID()}`);
    fs.mkdirSync(staging);
    try {
      const restored = fs.readdirSync(generation.dataPath).filter(isData);
      for (const entry of restored) fs.cpSync(path.join(generation.dataPath, entry), path.join(staging, entry), { recursive: true });
      await fsyncTree(staging);
      const replaced =
        entries.length === 0
          ? undefined
          : await createGeneration(plan.root, {
              reason: "restore",
              backend: "file",
              source: plan.source,
              dataName: plan.dataName,
              write: (dataPath) => {
                fs.mkdirSync(dataPath);
                for (const entry of entries) fs.cpSync(path.join(dir, entry), path.join(dataPath, entry), { recursive: true });
              },
            });
      for (const entry of entries) fs.rmSync(path.join(dir, entry), { recursive: true, force: true });
      for (const entry of restored) fs.renameSync(path.join(staging, entry), path.join(dir, entry));
      await fsyncPath(dir);
      return { restored: generation, replaced };
    } finally {
      fs.rmSync(staging, { recursive: true, force: true });
    }
  } finally {
    lock.release();
  }
}
