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
