/**
 * Writing to the user's logger where a failure must stay a report: a logger may throw too (a closed log
 * sink), and that must never turn a warning into a failed write, a failed `close()` or an unhandled rejection.
 */
import type { Logger } from "../logger.js";

/** Calls `logger[level](message, ...details)`, ignoring a logger that throws: nowhere is left to tell it. */
export function logSafely(logger: Logger, level: keyof Logger, message: string, ...details: unknown[]): void {
  try {
    logger[level](message, ...details);
  } catch {
    // Nowhere left to tell: the logger is what failed.
  }
}
