/**
 * What a backend tells the shared backup code (src/backup/) about its generations: where they go, what the
 * data in one is called, how a copy is checked, and how a generation is put back in place. Each built-in
 * backend that Strata backs up itself has one, beside its other parts (`backends/<name>/<name>-backup-layout.ts`),
 * and the registry hands it out by name: the shared code asks the layout, and never branches on a backend's name.
 */
import type { Generation } from "./backup-generations.js";

/** Why a generation was made. */
export type BackupReason = "schedule" | "migration" | "compaction" | "close" | "manual" | "restore";

/** What a `backup` listener receives once a generation is complete. */
export interface BackupEvent {
  /** The generation's name, e.g. `generation-20261129T230654123Z-000007`. */
  readonly generation: string;
  /** Its directory. */
  readonly path: string;
  /**
   * Why it was made: `schedule`, `migration`, `compaction` (the file backend, before it folds its journal
   * into its snapshots or writes a schema change), `close`, `manual` or `restore`.
   */
  readonly reason: BackupReason;
  /** How long the backup took, in ms. */
  readonly durationMs: number;
  /** The size of its data, in bytes. */
  readonly sizeBytes: number;
}

/** What a layout decides for one storage. */
export interface BackupPlan {
  /** The directory of the generations. */
  readonly root: string;
  /** `data.db` (SQLite) or `data` (a file-backend directory). */
  readonly dataName: string;
  /** What the generations are taken from (recorded in each manifest; `keep` counts per source). */
  readonly source: string;
  /** Checks a copy before it is sealed; throws a `CorruptionError` when it is bad. */
  readonly verify?: (dataPath: string) => Promise<void>;
  /** Make a generation on `close()`: the data of an in-memory storage dies with it. */
  readonly onClose: boolean;
}

/** What a restore did. */
export interface RestoreResult {
  /** The generation put in place. */
  readonly restored: Generation;
  /** The generation of the data it replaced; undefined when there was none (no database yet). */
  readonly replaced: Generation | undefined;
}

/** Puts a checked generation in place of the storage's data at `location` (see restore-generation.ts for the steps). */
export type RestoreInPlace = (location: string, plan: BackupPlan, generation: Generation) => Promise<RestoreResult>;

/** A backend's backup layout: see the module comment. */
export interface BackupLayout {
  /**
   * The plan for a storage at `location` (a database file or a directory; undefined in memory) with `dir`
   * (the configured `backup.dir`); undefined when the storage has no place of its own for generations and
   * no `dir` was given.
   */
  planOf(location: string | undefined, dir: string | undefined): BackupPlan | undefined;
  /** The backends whose generations this one can restore (its own, and those that write the same data). */
  readonly restoresFrom: readonly string[];
  /** Restores in place; absent for a backend with nothing on disk to restore into (memory). */
  readonly restore?: RestoreInPlace;
}
