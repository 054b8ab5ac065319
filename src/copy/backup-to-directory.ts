/**
 * A backup for a backend with nothing on disk of its own (memory): its tables copied into a new
 * file-backend directory. `createStorage` hands it to the backend as `BackendContext.backupToDirectory`,
 * so that the memory backend needs neither the file backend nor the copier.
 */
import * as path from "node:path";
import type { ResolvedConfig } from "../config/resolved-config.js";
import { ConfigError } from "../errors.js";
import { loadBackend } from "../spi/backend-registry.js";
import type { Backend } from "../spi/index.js";
import { copyBackend } from "./copy-backend.js";

/**
 * Writes every table of `source` (the migration history included) as a file-backend directory at
 * `targetPath` (a new or empty one), which `createStorage("file:" + targetPath)` opens. `config` is the
 * source storage's: the directory is opened with its settings (fsync, timeouts), without cache or autoCreate.
 * Refuses (a `MigrationError`) a directory that already holds tables.
 */
export async function backupToDirectory(source: Backend, targetPath: string, config: ResolvedConfig): Promise<void> {
  if (typeof targetPath !== "string" || targetPath === "") throw new ConfigError(["backup: expected a target directory path"]);
  const target = path.resolve(targetPath);
  // Without the source's automatic backups: the copy is itself a backup, and would otherwise add generations of its own.
  const fileConfig: ResolvedConfig = { ...config, backend: "file", url: `file:${target}`, path: target, autoCreate: false, cache: false, backup: { ...config.backup, enabled: false } };
  // Through the registry, which alone loads the built-in backends.
  const openFile = await loadBackend("file");
  const copy = await openFile({ config: fileConfig, schemas: [], logger: config.logger });
  try {
    await copyBackend(source, copy, {}, `the backup directory ${target}`);
  } finally {
    await copy.close();
  }
}
