/** A full disk told apart from other write failures, for every module that writes files (the file backend, the backups). */
import { CapacityError } from "../errors.js";

/** The error codes of a full disk or an exhausted quota. */
const DISK_FULL = new Set(["ENOSPC", "EDQUOT"]);

/**
 * A `CapacityError` naming `file` when `error` says the disk (or the quota) is full, else undefined.
 * `what` says what could not be done, e.g. "append to <file>".
 */
export function diskFullError(error: unknown, file: string, what: string): CapacityError | undefined {
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code === undefined || !DISK_FULL.has(code)) return undefined;
  return new CapacityError(
    `Could not ${what}: the disk is full (${code}${code === "EDQUOT" ? ", the quota is used up" : ""}); nothing of this write was kept. Free space and retry.`,
    { file, cause: error },
  );
}
