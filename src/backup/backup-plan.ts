/**
 * How each built-in backend's data becomes a generation: where the generations go by default, the name of
 * the data in a generation, and how a copy is checked before it is sealed. Decided by the backend's name
 * (the only branch on a backend here: the built-in ones write different things), never by its class.
 */
import { createRequire } from "node:module";
import * as path from "node:path";
import type { ResolvedConfig } from "../config/resolved-config.js";
import { CorruptionError } from "../errors.js";

/** What {@link backupPlanOf} decides for a storage. */
export interface BackupPlan {
  /** The directory of the generations. */
  readonly root: string;
  /** `data.db` (SQLite) or `data` (a file-backend directory). */
  readonly dataName: string;
  /** What the generations are taken from (recorded in each manifest; `keep` counts per source). */
  readonly source: string;
  /** Checks a copy before it is sealed; throws a `CorruptionError` when it is bad. */
  readonly verify?: (dataPath: string) => Promise<void>;
  /** Make a generation on `close()`: the data of a memory storage dies with it. */
  readonly onClose: boolean;
}

/** The backends whose generations Strata makes itself. */
export const BACKED_UP_BACKENDS: readonly string[] = ["sqlite", "file", "memory"];

/**
 * The plan for `backend` at `location` (a database file or a directory; none for memory) with `dir` (the
 * configured `backup.dir`), or undefined for a backend Strata does not back up itself.
 */
export function backupPlanOf(backend: string, location: string | undefined, dir: string | undefined): BackupPlan | undefined {
  if (backend === "sqlite") {
    const inMemory = !location || location === ":memory:";
    if (inMemory && !dir) return undefined;
    const source = inMemory ? ":memory:" : path.resolve(location);
    return { root: dir ?? `${location}.backups`, dataName: "data.db", source, verify: verifySqliteCopy, onClose: inMemory };
  }
  if (backend === "file") return location ? { root: dir ?? path.join(location, "backups"), dataName: "data", source: path.resolve(location), onClose: false } : undefined;
  if (backend === "memory") return dir ? { root: dir, dataName: "data", source: "memory:", onClose: true } : undefined;
  return undefined;
}

/** {@link backupPlanOf} of a storage's resolved configuration. */
export function backupPlanOfConfig(config: ResolvedConfig): BackupPlan | undefined {
  return backupPlanOf(config.backend, config.path, config.backup.dir);
}

/**
 * `PRAGMA integrity_check` on a SQLite copy, read-only, in a worker thread: on a large database it takes
 * seconds, which on the main thread would stop every write of the storage being backed up. better-sqlite3
 * is loaded there, when a SQLite copy is checked: importing Strata does not load it.
 */
export async function verifySqliteCopy(file: string): Promise<void> {
  const { Worker } = await import("node:worker_threads");
  const worker = new Worker(INTEGRITY_CHECK, { eval: true, workerData: { file, module: createRequire(import.meta.url).resolve("better-sqlite3") } });
  const answer = await new Promise<{ rows?: string[]; error?: string }>((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`the integrity check's worker exited with code ${code}`)));
  }).finally(() => void worker.terminate());
  if (answer.error !== undefined) throw new CorruptionError(`The SQLite copy ${file} cannot be read: ${answer.error}`, { file });
  const rows = answer.rows ?? [];
  if (rows.length !== 1 || rows[0] !== "ok") {
    throw new CorruptionError(`The SQLite copy ${file} fails PRAGMA integrity_check: ${rows.slice(0, 5).join("; ")}`, { file });
  }
}

/** The worker of {@link verifySqliteCopy} (CommonJS, as an eval'd worker is). */
const INTEGRITY_CHECK = `
const { parentPort, workerData } = require("node:worker_threads");
let db;
try {
  const Database = require(workerData.module);
  db = new Database(workerData.file, { readonly: true, fileMustExist: true });
  parentPort.postMessage({ rows: db.prepare("PRAGMA integrity_check").pluck().all() });
} catch (error) {
  parentPort.postMessage({ error: String(error && error.message || error) });
} finally {
  if (db) db.close();
}
`;
