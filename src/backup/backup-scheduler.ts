/**
 * Automatic backups of one open storage (`backup.enabled`): a generation every `backup.intervalMs`, one
 * before every migration run that applies or reverts something, and (memory) one on close. Each is the
 * backend's own consistent copy (`Backend.backup`: SQLite's online backup API, the file backend's snapshot
 * copy, memory's `file:` directory) written into the generation store (backup-generations.ts).
 *
 * Backups never overlap: each waits for the one before it. The timer is `unref()`ed, so it never keeps a
 * process alive, and the next one is armed only when the previous backup has ended. A scheduled backup
 * that fails is a warning through the logger: it never fails a user's write. One before a migration run
 * that fails stops that run (migrating without its safety copy is what the option exists to prevent).
 */
import type { ResolvedConfig } from "../config/resolved-config.js";
import type { Backend } from "../spi/index.js";
import { logSafely } from "../util/safe-log.js";
import type { Generation } from "./backup-generations.js";
import { createGeneration } from "./backup-generations.js";
import type { BackupEvent, BackupPlan, BackupReason } from "./backup-layout.js";

export type { BackupEvent, BackupReason } from "./backup-layout.js";

/** What a generation is taken from: a backend, or a storage (its public `backup`, for the CLI). */
export interface BackupSource {
  backup(targetPath: string): Promise<void>;
}

/** Writes one generation of `source` (a `backend` storage) by `plan`. */
export async function backUp(
  source: BackupSource,
  backend: string,
  plan: BackupPlan,
  reason: BackupReason,
  keep: number | undefined,
): Promise<{ generation: Generation; durationMs: number }> {
  const started = performance.now();
  const generation = await createGeneration(plan.root, {
    reason,
    backend,
    source: plan.source,
    dataName: plan.dataName,
    write: (dataPath) => source.backup(dataPath),
    ...(plan.verify ? { verify: plan.verify } : {}),
    ...(keep !== undefined ? { keep } : {}),
  });
  return { generation, durationMs: Math.round(performance.now() - started) };
}

/** See the module comment. Made by `createStorage` when `backup.enabled` on a backend Strata backs up. */
export class BackupScheduler {
  private timer: NodeJS.Timeout | undefined;
  /** The backup running or queued last: the next one starts after it. */
  private last: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly backend: Backend,
    private readonly config: ResolvedConfig,
    readonly plan: BackupPlan,
    private readonly emit: (event: BackupEvent) => void,
  ) {}

  /**
   * Tells the logger of a backup that failed (util/safe-log.ts): the failure must stay a warning, never an
   * unhandled rejection of the timer's chain nor a `close()` that fails.
   */
  private warn(message: string, error: unknown): void {
    logSafely(this.config.logger, "warn", message, error);
  }

  /** Arms the first scheduled backup. */
  start(): void {
    this.arm();
  }

  private arm(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.create("schedule")
        .catch((error: unknown) => {
          this.warn(`Scheduled backup of the ${this.backend.name} storage into ${this.plan.root} failed; the next one is in ${this.config.backup.intervalMs} ms: ${(error as Error)?.message ?? String(error)}`, error);
        })
        .finally(() => this.arm());
    }, this.config.backup.intervalMs);
    this.timer.unref();
  }

  /** Makes a generation now, after any backup still running; resolves once it is complete and pruned to `keep`. */
  create(reason: BackupReason): Promise<Generation> {
    const run = this.last.catch(() => {}).then(async () => {
      const { generation, durationMs } = await backUp(this.backend, this.backend.name, this.plan, reason, this.config.backup.keep);
      this.emit({ generation: generation.name, path: generation.path, reason, durationMs, sizeBytes: generation.manifest.sizeBytes });
      return generation;
    });
    this.last = run;
    return run;
  }

  /** Stops the schedule and waits for a running backup; memory makes its last generation here (its data dies with it). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.plan.onClose) {
      await this.create("close").catch((error: unknown) => {
        this.warn(`The backup on close of the ${this.backend.name} storage into ${this.plan.root} failed: ${(error as Error)?.message ?? String(error)}`, error);
      });
    }
    await this.last.catch(() => {});
  }
}
