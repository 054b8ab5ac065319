/**
 * Restoring a generation into a file-backend directory, such that a crash at any point leaves either the old
 * data or the new data complete, and the directory opens. The data directory also holds the lock file and,
 * by default, the generations themselves (`backups/`), so it cannot be swapped whole by one rename; the swap
 * is a short intent log instead, rolled forward by whoever next takes the directory's lock:
 *
 * 1. under the directory's lock, the generation is copied into `.strata-restore-<id>/` (the staging
 *    directory) and fsynced, and the data being replaced becomes one more generation (reason `restore`).
 *    A crash here leaves the old data complete; the staging directory is removed by the next open;
 * 2. `strata-restore.json` (the intent: the staging directory, the aside directory, the entries to move
 *    out and those to move in) is written atomically (temp file, fsync, rename, directory fsync). This is the
 *    commit point: from here on the restore is finished by whoever comes next;
 * 3. each old entry is renamed into `.strata-replaced-<id>/`, then each staged entry into the directory;
 *    each step is a rename, and redoing them is harmless (an entry already moved is skipped);
 * 4. the directory is fsynced, the intent removed, then the aside and staging directories.
 *
 * {@link finishInterruptedRestore} does steps 3-4 for an intent a crash left behind, and removes staging or
 * aside directories with no intent; the file backend calls it on open (holding the lock), and so does the
 * next restore.
 */
import fs from "node:fs";
import { randomUUID } from "node:crypto";
import * as path from "node:path";
import { CorruptionError, StorageError } from "../../errors.js";
import { DirectoryLock, LOCK_FILE } from "../../util/directory-lock.js";
import type { Generation } from "../../backup/backup-generations.js";
import { createGeneration, fsyncTree, isGenerationEntry } from "../../backup/backup-generations.js";
import type { BackupPlan, RestoreResult } from "../../backup/backup-layout.js";
import { fsyncDirectory, writeFileAtomic } from "./file-snapshot.js";

/** The intent of a restore under way (step 2 of the module comment). */
export const RESTORE_INTENT_FILE = "strata-restore.json";
/** The directory a restore copies the generation into first. */
const STAGING_PREFIX = ".strata-restore-";
/** The directory the replaced entries are moved into before they are removed. */
const ASIDE_PREFIX = ".strata-replaced-";

interface RestoreIntent {
  readonly staging: string;
  readonly aside: string;
  /** The old data's entries, moved into `aside`. */
  readonly replaced: readonly string[];
  /** The generation's entries, moved in from `staging`. */
  readonly restored: readonly string[];
}

/** True for a name a restore writes in the data directory (never data of the storage). */
export function isRestoreEntry(entry: string): boolean {
  return entry.startsWith(RESTORE_INTENT_FILE) || entry.startsWith(STAGING_PREFIX) || entry.startsWith(ASIDE_PREFIX);
}

/** A plain entry name (what an intent read from disk may name): no separator, no `..`. */
function isPlainName(entry: unknown): entry is string {
  return typeof entry === "string" && entry !== "" && entry !== "." && entry !== ".." && !/[\\/]/.test(entry);
}

function readIntent(file: string): RestoreIntent | undefined {
  let value: Partial<RestoreIntent>;
  try {
    value = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<RestoreIntent>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  const names = [value.staging, value.aside, ...(value.replaced ?? []), ...(value.restored ?? [])];
  // Written atomically by Strata: anything else was put there by hand, and renaming by it could move files out of the directory.
  if (!Array.isArray(value.replaced) || !Array.isArray(value.restored) || !names.every(isPlainName) || !value.staging!.startsWith(STAGING_PREFIX) || !value.aside!.startsWith(ASIDE_PREFIX)) {
    throw new CorruptionError(`${file} is not a restore intent Strata wrote; remove it by hand once the directory's data is checked`, { file });
  }
  return value as RestoreIntent;
}

/** Steps 3-4 of the module comment (idempotent: a crash in them is finished by running them again). */
function rollForward(dir: string, intent: RestoreIntent): void {
  const aside = path.join(dir, intent.aside);
  const staging = path.join(dir, intent.staging);
  fs.mkdirSync(aside, { recursive: true });
  for (const entry of intent.replaced) {
    // Already moved aside: what is in the directory under that name now is the restored entry.
    if (fs.existsSync(path.join(aside, entry)) || !fs.existsSync(path.join(dir, entry))) continue;
    fs.renameSync(path.join(dir, entry), path.join(aside, entry));
  }
  for (const entry of intent.restored) {
    if (fs.existsSync(path.join(staging, entry))) fs.renameSync(path.join(staging, entry), path.join(dir, entry));
  }
  fsyncDirectory(dir);
  fs.rmSync(path.join(dir, RESTORE_INTENT_FILE));
  fsyncDirectory(dir);
  fs.rmSync(aside, { recursive: true, force: true });
  fs.rmSync(staging, { recursive: true, force: true });
}

/**
 * Finishes a restore of `dir` that a crash interrupted after its commit point, and removes what one left
 * before it. Call with the directory's lock held. Returns true when a restore was finished.
 */
export function finishInterruptedRestore(dir: string): boolean {
  const intent = readIntent(path.join(dir, RESTORE_INTENT_FILE));
  if (intent) rollForward(dir, intent);
  for (const entry of fs.readdirSync(dir)) {
    if (entry.startsWith(STAGING_PREFIX) || entry.startsWith(ASIDE_PREFIX) || entry === `${RESTORE_INTENT_FILE}.tmp`) {
      fs.rmSync(path.join(dir, entry), { recursive: true, force: true });
    }
  }
  return intent !== undefined;
}

/** Restores `generation` into the file-backend directory `dir` (see the module comment). */
export async function restoreDirectory(dir: string, plan: BackupPlan, generation: Generation): Promise<RestoreResult> {
  fs.mkdirSync(dir, { recursive: true });
  // The file backend's own lock, taken without waiting: a live holder is a LockError naming its pid.
  const lock = await DirectoryLock.acquire(dir, 0);
  try {
    finishInterruptedRestore(dir);
    // The generations' own directory (by default `backups` inside the data directory) is not data, nor, when
    // `backup.dir` is the data directory itself, the generations in it: the one being restored among them.
    // Compared as real paths: either may be named through a link (a deployment's `current`, a mount point).
    const realDir = fs.realpathSync(dir);
    const realRoot = fs.realpathSync(plan.root);
    const isData = (entry: string) =>
      entry !== LOCK_FILE &&
      !isRestoreEntry(entry) &&
      path.join(realDir, entry) !== realRoot &&
      !realRoot.startsWith(path.join(realDir, entry) + path.sep) &&
      !(realRoot === realDir && isGenerationEntry(entry));
    const replacedEntries = fs.readdirSync(dir).filter(isData);
    const id = randomUUID();
    const intent: RestoreIntent = {
      staging: `${STAGING_PREFIX}${id}`,
      aside: `${ASIDE_PREFIX}${id}`,
      replaced: replacedEntries,
      restored: fs.readdirSync(generation.dataPath).filter(isData),
    };
    const staging = path.join(dir, intent.staging);
    let committed = false;
    try {
      // The generation is copied in first: a copy that fails (a full disk, the generation pruned meanwhile)
      // then fails before anything of the data is touched. After the intent, only renames remain.
      fs.mkdirSync(staging);
      for (const entry of intent.restored) fs.cpSync(path.join(generation.dataPath, entry), path.join(staging, entry), { recursive: true });
      await fsyncTree(staging);
      const replaced =
        replacedEntries.length === 0
          ? undefined
          : await createGeneration(plan.root, {
              reason: "restore",
              backend: "file",
              source: plan.source,
              dataName: plan.dataName,
              write: (dataPath) => {
                fs.mkdirSync(dataPath);
                for (const entry of replacedEntries) fs.cpSync(path.join(dir, entry), path.join(dataPath, entry), { recursive: true });
              },
            });
      writeFileAtomic(path.join(dir, RESTORE_INTENT_FILE), `${JSON.stringify(intent, null, 2)}\n`, true);
      fsyncDirectory(dir);
      committed = true;
      rollForward(dir, intent);
      return { restored: generation, replaced };
    } catch (error) {
      if (committed) {
        throw new StorageError(
          `The restore of ${generation.name} into ${dir} was interrupted after its commit point (${(error as Error)?.message ?? String(error)}); ` +
            `opening the storage, or running the restore again, finishes it`,
          { file: dir, cause: error },
        );
      }
      fs.rmSync(staging, { recursive: true, force: true });
      throw error;
    }
  } finally {
    lock.release();
  }
}
