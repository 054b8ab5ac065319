/** `copyStorage`: the public face of the copier (`strata copy` runs it), storage to storage. */
import type { Storage } from "../storage.js";
import { coreOf } from "../storage-core.js";
import type { CopiedTable, CopyOptions } from "./copy-backend.js";
import { copyBackend } from "./copy-backend.js";

/**
 * Copies every table of `from` into `to` and verifies the copy. Refuses (a `MigrationError`) when the
 * target already has tables, unless `force`. A copy that fails after replacing the target's tables leaves
 * them partly filled (copy again with `force`); the target's cache forgets them either way.
 * @example const copied = await copyStorage(fileStorage, sqliteStorage, { batchSize: 1000 });
 */
export async function copyStorage(from: Storage, to: Storage, options: CopyOptions = {}): Promise<CopiedTable[]> {
  const target = coreOf(to);
  let replaced: readonly string[] = [];
  try {
    return await copyBackend(coreOf(from).backend, target.backend, options, to.backend, (tables) => (replaced = tables));
  } finally {
    // The target's tables were dropped and created, then filled (or, after a failure, partly): nothing its
    // cache holds of them may be served again.
    if (replaced.length > 0) await target.schemaChanged(replaced);
  }
}
