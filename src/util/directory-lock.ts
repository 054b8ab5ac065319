/**
 * The lock of a storage directory: one process at a time (the file backend holds it for the storage's life,
 * `backup/`'s restores while they replace the files). The lock file is created with
 * `O_EXCL` and holds the owner's pid, start time and a random token; it stays for the storage's life.
 * A lock whose pid no longer exists (the owner was killed) is taken over at once, so a restart after a
 * crash is not delayed, and so is one whose pid now belongs to a process that started after the lock was
 * taken (a reused pid, after a reboot or in a new container; Linux, see util/process-alive.ts). Known limit:
 * elsewhere, a stale lock's reused pid keeps the opener waiting `timeoutMs`, then a `LockError` names the
 * pid and the file to remove.
 */
import fs from "node:fs";
import { randomUUID } from "node:crypto";
import * as path from "node:path";
import { LockError } from "../errors.js";
import { diskFullError } from "./disk-full-error.js";
import { processGone } from "./process-alive.js";

/** The lock file's name inside the data directory. */
export const LOCK_FILE = "strata.lock";

/** What the lock file holds. */
export interface LockOwner {
  pid: number;
  startedAt: string;
  token: string;
}

const POLL_MS = 25;

function readOwner(file: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<LockOwner>;
    return typeof owner.pid === "number" && typeof owner.token === "string" ? (owner as LockOwner) : undefined;
  } catch {
    // Missing, or half-written by an owner that was killed between create and write.
    return undefined;
  }
}

/** Creates `file` holding `content` if it does not exist; false if it does. */
function createExclusive(file: string, content: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, "wx");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
  try {
    fs.writeSync(fd, content);
    fs.fsyncSync(fd);
  } catch (error) {
    // An empty lock file would keep the next opener waiting a second: remove it. A full disk is a limit, not a bug.
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
    throw diskFullError(error, file, `write the lock file ${file}`) ?? error;
  }
  fs.closeSync(fd);
  return true;
}

/** A held directory lock. */
export class DirectoryLock {
  private released = false;

  private constructor(
    readonly file: string,
    private readonly owner: LockOwner,
  ) {}

  /**
   * Takes the lock of `dir`, waiting up to `timeoutMs` for a live holder to release it.
   * @throws LockError naming the holder's pid when the wait runs out.
   */
  static async acquire(dir: string, timeoutMs: number): Promise<DirectoryLock> {
    const file = path.join(dir, LOCK_FILE);
    const owner: LockOwner = { pid: process.pid, startedAt: new Date().toISOString(), token: randomUUID() };
    const content = `${JSON.stringify(owner, null, 2)}\n`;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (createExclusive(file, content)) return new DirectoryLock(file, owner);
      const holder = readOwner(file);
      // The holder's lock time tells a reused pid apart (a process that started after it cannot hold it).
      if (holder ? processGone(holder.pid, Date.parse(holder.startedAt)) : DirectoryLock.unreadableForLong(file)) {
        DirectoryLock.takeOver(file, holder);
        continue;
      }
      if (Date.now() >= deadline) {
        const who = holder ? `process ${holder.pid} (since ${holder.startedAt})` : "another process";
        throw new LockError(
          `The data directory ${dir} is in use by ${who}; the file backend admits one process at a time. ` +
            `Close that storage, or remove ${file} if that process is gone.`,
          { file },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  /** A lock file that stays unreadable (empty) for a second was left by an owner killed mid-create. */
  private static unreadableForLong(file: string): boolean {
    try {
      return Date.now() - fs.statSync(file).mtimeMs > 1000;
    } catch {
      return false;
    }
  }

  /**
   * Removes a stale lock. Two processes may find the same stale lock at once: each renames it to a
   * private name first, and only the one whose renamed file still names the dead holder deletes it;
   * a process that grabbed a fresh lock by mistake puts it back.
   */
  private static takeOver(file: string, stale: LockOwner | undefined): void {
    const aside = `${file}.${process.pid}.${randomUUID()}.stale`;
    try {
      fs.renameSync(file, aside);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    const moved = readOwner(aside);
    if (moved && (!stale || moved.token !== stale.token)) {
      // Someone else took over and created a fresh lock in between: restore it unless yet another appeared.
      try {
        fs.linkSync(aside, file);
      } catch {
        /* a newer lock exists; ours was a lost race either way */
      }
    }
    fs.rmSync(aside, { force: true });
  }

  /** Releases the lock, if this process still holds it. Safe to call twice. */
  release(): void {
    if (this.released) return;
    this.released = true;
    if (readOwner(this.file)?.token === this.owner.token) fs.rmSync(this.file, { force: true });
  }
}
