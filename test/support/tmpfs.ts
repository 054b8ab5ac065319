/**
 * A small tmpfs for disk-full tests: a real ENOSPC from the kernel, not a mocked `fs`. Mounting needs
 * root (CI and the developers' machines are root); elsewhere the tests skip, saying why, unless
 * STRATA_REQUIRE_SERVICES=1, under which a machine that cannot mount one fails the run.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import * as path from "node:path";

export interface Tmpfs {
  /** The mount point, an empty directory of `sizeBytes`. */
  readonly dir: string;
  /** Unmounts and removes the mount point. Safe to call twice. */
  unmount(): void;
}

let probed: string | undefined | null = null;

/** Why a tmpfs cannot be mounted here, or undefined when it can (probed once per process). */
export function tmpfsSkipReason(): string | undefined {
  if (probed !== null) return probed;
  try {
    mountTmpfs(64 * 1024).unmount();
    probed = undefined;
  } catch (error) {
    probed = `tmpfs tests skipped: cannot mount a tmpfs here (${(error as Error).message.split("\n")[0]})`;
    if (process.env["STRATA_REQUIRE_SERVICES"] === "1") throw new Error(`STRATA_REQUIRE_SERVICES=1 but ${probed}`);
    console.warn(probed);
  }
  return probed;
}

/** Mounts a fresh tmpfs of `sizeBytes` (rounded up to whole pages by the kernel). */
export function mountTmpfs(sizeBytes: number): Tmpfs {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "strata-tmpfs-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeBytes}`, "tmpfs", dir], { stdio: "pipe" });
  } catch (error) {
    fs.rmdirSync(dir);
    throw error;
  }
  let mounted = true;
  return {
    dir,
    unmount() {
      if (!mounted) return;
      // A file still open in a closing storage keeps the mount busy for a moment; lazy unmount detaches it now.
      execFileSync("umount", ["-l", dir], { stdio: "pipe" });
      mounted = false;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Fills the rest of the file system holding `dir` with one file, so the next write there fails with ENOSPC. */
export function fillDisk(dir: string): string {
  const filler = path.join(dir, "filler.bin");
  const fd = fs.openSync(filler, "a");
  try {
    // Whole pages first, then single bytes for whatever part of a page is left.
    for (const chunk of [Buffer.alloc(4096), Buffer.alloc(1)]) {
      try {
        for (;;) fs.writeSync(fd, chunk);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return filler;
}
