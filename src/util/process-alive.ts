/**
 * The one place Strata asks whether a process that left something behind (a lock file, a half-written
 * backup, a `sqlite::memory:` temp file, a migration lock row) is gone. Known limits, in every caller:
 *
 * - only this machine's processes of this pid namespace are seen: a process in another container that
 *   shares the directory (a bind-mounted `/tmp` or `backup.dir`) looks gone. Callers that can, also check
 *   something the other process would hold (the SQLite temp files: a SQLite lock, which the kernel keeps
 *   across pid namespaces); the others document that such a directory must not be shared;
 * - a pid is reused: a live process with the pid of a dead owner looks like the owner. Where the caller
 *   knows when the owner was last seen (the leftover's mtime, the lock's start time), {@link processGone}
 *   compares it with the live process's start time (Linux: `/proc/<pid>/stat`): a process that started
 *   after the leftover was last written cannot have written it. Elsewhere a reused pid keeps the leftover
 *   (never the other way round: a live owner's file is never taken).
 */
import fs from "node:fs";

/**
 * True unless the process with this id is known not to exist on this machine. Any failure but ESRCH
 * counts as alive (EPERM: it exists but is not ours to signal): a lock is never taken from a process
 * that might still be running.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

/** Linux's `USER_HZ`, the unit of `/proc/<pid>/stat`'s start time: 100 on every architecture Node runs on. */
const USER_HZ = 100;
/** `btime` has one-second steps, and an mtime may be coarse: a start within this of the mtime proves nothing. */
const START_SLACK_MS = 2000;

let bootTimeMs: number | null | undefined;

/** The boot time (Linux `/proc/stat` `btime`), or null where there is none. */
function bootTime(): number | null {
  if (bootTimeMs === undefined) {
    try {
      const match = /^btime (\d+)$/m.exec(fs.readFileSync("/proc/stat", "utf8"));
      bootTimeMs = match ? Number(match[1]) * 1000 : null;
    } catch {
      bootTimeMs = null;
    }
  }
  return bootTimeMs;
}

/** When the process `pid` started (epoch ms), on Linux; undefined where that cannot be read. */
export function processStartTime(pid: number): number | undefined {
  const boot = bootTime();
  if (boot === null || !Number.isSafeInteger(pid) || pid <= 0) return undefined;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: the fields after it follow the last `)`.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[19]);
    return Number.isFinite(ticks) ? boot + (ticks * 1000) / USER_HZ : undefined;
  } catch {
    return undefined;
  }
}

/**
 * True when the process `pid` that left something last written at `lastSeenMs` is gone: it does not exist,
 * or the process that has its pid now started after that (a reused pid; Linux only). See the module comment
 * for what this cannot see.
 */
export function processGone(pid: number, lastSeenMs?: number): boolean {
  if (!processAlive(pid)) return true;
  // Our own pid too: a container restarted gives its processes the same small pids as the run before.
  if (lastSeenMs === undefined) return false;
  const started = processStartTime(pid);
  return started !== undefined && started > lastSeenMs + START_SLACK_MS;
}
