/**
 * `strata backup restore`: puts a generation back in place of a storage's data, for a storage no process
 * has open. The shared steps are here; how the data is put in place is the backend's backup layout's
 * (backup-layout.ts: SQLite writes it through the online backup API, the file backend swaps its directory
 * by an intent log; each module says how a crash or a second process is handled). In order:
 *
 * 1. the generation must be of a backend the storage's layout restores from, and of the same source (the
 *    same database file or directory) unless `forceSource` says otherwise: a `GenerationSourceError` naming
 *    the generation and both sources. A generation whose manifest records no source (written before sources
 *    were recorded) is taken as the storage's own;
 * 2. the generation is checked against its manifest (sizes, SHA-256), and by the layout's own check (SQLite:
 *    `PRAGMA integrity_check`): a damaged generation is refused before anything changes;
 * 3. the layout's restore: it refuses a storage open elsewhere (`LockError`), keeps the data being replaced
 *    as one more generation (reason `restore`, not verified: the data a restore replaces is often damaged),
 *    and puts the generation in place.
 */
import { ConfigError, GenerationSourceError } from "../errors.js";
import { backupLayoutOf } from "../spi/backend-registry.js";
import { findGeneration, verifyGeneration } from "./backup-generations.js";
import type { BackupPlan, RestoreResult } from "./backup-layout.js";

export type { RestoreResult } from "./backup-layout.js";

/** What {@link restoreGeneration} restores, where, and how it may deviate from its checks. */
export interface RestoreRequest {
  /** The storage's backend name (`"sqlite"`, `"file"`). */
  readonly backend: string;
  /** The storage's data: a SQLite file or a file-backend directory. */
  readonly location: string;
  /** The storage's backup plan (backup-plan.ts): where its generations are, what its source is. */
  readonly plan: BackupPlan;
  /** The generation to restore: a name, or a generation's directory. */
  readonly generation: string;
  /**
   * Restore a generation taken from another source (another database file or directory, or an in-memory
   * storage) than the storage's. @default false
   */
  readonly forceSource?: boolean;
}

/**
 * Restores `request.generation` of the `request.backend` storage at `request.location` from `request.plan.root`.
 * One object, not five positional parameters: three of them are strings a caller could swap unnoticed.
 */
export async function restoreGeneration(request: RestoreRequest): Promise<RestoreResult> {
  const { backend, location, plan } = request;
  const generation = findGeneration(plan.root, request.generation);
  const layout = backupLayoutOf(backend);
  if (!layout?.restore) {
    throw new ConfigError([`generation: a ${backend} storage cannot be restored in place; open the generation's data with createStorage("file:" + its data directory)`]);
  }
  const { backend: from, source } = generation.manifest;
  if (!layout.restoresFrom.includes(from)) {
    throw new ConfigError([`generation: ${generation.name} was taken from a ${from} storage, not ${backend}`], { file: generation.path });
  }
  if (source !== undefined && source !== plan.source && request.forceSource !== true) {
    throw new GenerationSourceError(generation.name, source, plan.source, { file: generation.path });
  }
  await verifyGeneration(generation);
  await plan.verify?.(generation.dataPath);
  return layout.restore(location, plan, generation);
}
