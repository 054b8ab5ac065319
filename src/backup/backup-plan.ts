/**
 * Where a storage's generations go and what they hold: asked of the backend's backup layout
 * (backup-layout.ts), which the registry hands out by name. Shared code never branches on a backend here.
 */
import type { ResolvedConfig } from "../config/resolved-config.js";
import { backupLayoutOf } from "../spi/backend-registry.js";
import type { BackupPlan } from "./backup-layout.js";

export type { BackupPlan } from "./backup-layout.js";

/** True for a backend whose generations Strata makes itself (one with a backup layout). */
export function isBackedUp(backend: string): boolean {
  return backupLayoutOf(backend) !== undefined;
}

/**
 * The plan for `backend` at `location` (a database file or a directory; none for memory) with `dir` (the
 * configured `backup.dir`), or undefined for a backend Strata does not back up itself, or one with no place
 * of its own for generations and no `dir`.
 */
export function backupPlanOf(backend: string, location: string | undefined, dir: string | undefined): BackupPlan | undefined {
  return backupLayoutOf(backend)?.planOf(location, dir);
}

/** {@link backupPlanOf} of a storage's resolved configuration. */
export function backupPlanOfConfig(config: ResolvedConfig): BackupPlan | undefined {
  return backupPlanOf(config.backend, config.path, config.backup.dir);
}
