/**
 * The migration runner, `storage.migrations` (docs/migrations.md). Small like umzug's (a three-method store
 * of applied versions, typed events), but each migration commits in one transaction with its record
 * (kysely's migrator), applied checksums are compared before anything runs, out-of-order migrations are
 * refused unless allowed, and a cross-process lock keeps two runners from applying a version twice.
 */
import type { AppliedMigration, AppliedMigrationStore, Backend, MigrationLock } from "../spi/index.js";
import { ConfigError, CorruptionError, LockError, MigrationError, StorageError } from "../errors.js";
import type { StorageCore } from "../storage-core.js";
import type { EntitySchema } from "../schema/entity-schema.js";
import { AsyncMutex } from "../util/async-mutex.js";
import { appliedStoreOf, beginMigration, editorOf, MIGRATIONS_TABLE } from "./applied-migration-store.js";
import type { SchemaDiff } from "./diff-schema.js";
import { diffSchema } from "./diff-schema.js";
import type { LoadedMigration } from "./migration-loader.js";
import { loadMigrations } from "./migration-loader.js";
import { RowMigrationLock } from "./row-migration-lock.js";
import { joinTablesOf } from "../schema/read-relations.js";
import { createMigrationContext } from "./schema-migration-context.js";

/** Where a migration stands. */
export type MigrationState = "applied" | "pending" | "changed" | "missing";

/** One line of {@link MigrationRunner.status}. */
export interface MigrationStatus {
  readonly version: number;
  readonly name: string;
  /**
   * `applied`: recorded, file unchanged. `pending`: not yet applied. `changed`: applied, but the file's
   * checksum differs from the recorded one. `missing`: recorded, but no file has this version any more.
   */
  readonly state: MigrationState;
  readonly appliedAt?: Date;
  /** The file's checksum (the recorded one for a missing migration). */
  readonly checksum: string;
  /** The migration's file, when it came from a folder. */
  readonly file?: string;
}

/** Options of {@link MigrationRunner.up}. */
export interface UpOptions {
  /** Apply pending migrations up to and including this version. @default the newest */
  to?: number;
  /** List what would run (with the SQL on SQL backends) and change nothing. @default false */
  dryRun?: boolean;
  /** Apply a pending migration older than the newest applied one instead of refusing. @default false */
  allowOutOfOrder?: boolean;
}

/** Options of {@link MigrationRunner.down}. */
export interface DownOptions {
  /** Revert every applied migration newer than this version (0 reverts all). Overrides `steps`. */
  to?: number;
  /** How many applied migrations to revert, newest first. @default 1 */
  steps?: number;
  /** List what would be reverted and change nothing. @default false */
  dryRun?: boolean;
}

/** A migration applied or reverted (or that would be, in a dry run). */
export interface MigrationResult {
  readonly version: number;
  readonly name: string;
  readonly direction: "up" | "down";
  readonly durationMs: number;
  readonly dryRun: boolean;
  readonly file?: string;
  /**
   * In a dry run on a SQL backend with transactional DDL: the statements the migration ran before the
   * dry run rolled everything back.
   */
  readonly statements?: readonly string[];
}

/** What the runner's events carry. */
export interface MigrationEvent {
  readonly version: number;
  readonly name: string;
  readonly file?: string;
  /** Set on `migrated` and `reverted`. */
  readonly durationMs?: number;
}

/** The runner's events: before and after each migration applied or reverted. */
export type MigrationEventName = "migrating" | "migrated" | "reverting" | "reverted";

/** Runners with no cross-process lock of their own share one in-process mutex per backend. */
const inProcessLocks = new WeakMap<Backend, AsyncMutex>();
const rowLocks = new WeakMap<Backend, MigrationLock>();

/**
 * The backend's own lock; else, when several processes may open it, a lock row (`strata_migration_lock`);
 * else an in-process mutex.
 */
function lockOf(backend: Backend): MigrationLock {
  if (backend.migrationLock) return backend.migrationLock;
  if (backend.capabilities.supportsMultipleConnections) {
    let lock = rowLocks.get(backend);
    if (!lock) rowLocks.set(backend, (lock = new RowMigrationLock(backend)));
    return lock;
  }
  let mutex = inProcessLocks.get(backend);
  if (!mutex) inProcessLocks.set(backend, (mutex = new AsyncMutex()));
  const held = mutex;
  return {
    acquire: async (timeoutMs) => {
      const release = await held.acquire(timeoutMs, () => new LockError(`Waited ${timeoutMs} ms for the migration lock: another runner is migrating`));
      return async () => release();
    },
  };
}

function label(m: { version: number; name: string; file?: string }): string {
  return `migration ${m.version} "${m.name}"${m.file ? ` (${m.file})` : ""}`;
}

/** Set by the class's static block: `Storage` builds its runner through it (the constructor is private). */
let newRunner: (core: StorageCore) => MigrationRunner;

/** Handed to the constructor by {@link newRunner} only, so that JavaScript callers cannot build a runner either. */
const SEAL = Symbol("MigrationRunner");

/** @internal The runner of a storage's core; `storage.migrations` is the public way to it. */
export function createMigrationRunner(core: StorageCore): MigrationRunner {
  return newRunner(core);
}

export class MigrationRunner {
  private readonly listeners = new Map<MigrationEventName, Array<(event: MigrationEvent) => void>>();
  private readonly store: AppliedMigrationStore;
  /** The lock of the run under way, if any. */
  private lock: MigrationLock | undefined;

  static {
    newRunner = (core) => new MigrationRunner(core, SEAL);
  }

  /** Use `storage.migrations`; a `ConfigError` otherwise. */
  private constructor(
    private readonly core: StorageCore,
    seal: symbol,
  ) {
    if (seal !== SEAL) throw new ConfigError(["new MigrationRunner(): use storage.migrations"]);
    this.store = appliedStoreOf(core.backend);
  }

  /** The storage's entity mapping `table`, if any: `m.insertRows` fills its dated and versioned columns. */
  private readonly entityOf = (table: string): EntitySchema | undefined => {
    for (const schema of this.core.schemas.values()) if (schema.table === table) return schema;
    return undefined;
  };

  /**
   * Listens to an event: `migrating`/`reverting` before a migration runs, `migrated`/`reverted` after it
   * committed (with its duration).
   * @example storage.migrations.on("migrated", (e) => console.log(`applied ${e.version} ${e.name}`));
   */
  on(event: MigrationEventName, listener: (event: MigrationEvent) => void): this {
    const list = this.listeners.get(event) ?? [];
    list.push(listener);
    this.listeners.set(event, list);
    return this;
  }

  /** Stops listening. */
  off(event: MigrationEventName, listener: (event: MigrationEvent) => void): this {
    const list = this.listeners.get(event);
    if (list) this.listeners.set(event, list.filter((l) => l !== listener));
    return this;
  }

  private emit(event: MigrationEventName, payload: MigrationEvent): void {
    for (const listener of this.listeners.get(event) ?? []) {
      try {
        listener(payload);
      } catch (error) {
        this.core.config.logger.error(`A "${event}" listener failed`, error);
      }
    }
  }

  /** Every migration known from the folder or the records, by version, with its state. */
  async status(): Promise<MigrationStatus[]> {
    const [loaded, applied] = await Promise.all([this.load(), this.store.list()]);
    return compare(loaded, applied);
  }

  /**
   * Checks the migrations without running any: the folder loads, no applied migration changed or went
   * missing, and no pending one is older than the newest applied one (unless `allowOutOfOrder`).
   * Throws a {@link MigrationError}; resolves to the status otherwise.
   */
  async validate(options: { allowOutOfOrder?: boolean } = {}): Promise<MigrationStatus[]> {
    const status = await this.status();
    checkApplied(status);
    if (!options.allowOutOfOrder) checkOrder(status);
    return status;
  }

  /**
   * The difference between this storage's entities and the database schema, as the statements of a
   * migration (what `strata migrate generate` writes); both lists are empty when nothing differs. Reads
   * the schema in a transaction that is rolled back: nothing is changed.
   * @example const { up, down, warnings } = await storage.migrations.diff();
   */
  async diff(): Promise<SchemaDiff> {
    const { backend, schemas } = this.core;
    const tx = await beginMigration(backend);
    try {
      // Many-to-many join tables are the entities' tables too: a migration creates them like any other.
      return await diffSchema([...schemas.values(), ...joinTablesOf(schemas.values())], editorOf(backend, tx));
    } finally {
      await tx.rollback();
    }
  }

  /** Applies pending migrations in version order, each in one transaction with its record. */
  async up(options: UpOptions = {}): Promise<MigrationResult[]> {
    if (options.to !== undefined && !(Number.isSafeInteger(options.to) && options.to >= 0)) {
      throw new MigrationError(`up: "to" must be a version (a non-negative integer), got ${String(options.to)}`);
    }
    if (!options.dryRun) await this.safetyCopy(() => this.planUp(options));
    return this.locked(async () => {
      const plan = await this.planUp(options);
      if (options.dryRun) return this.rehearse(plan, "up");
      const out: MigrationResult[] = [];
      for (const m of plan) out.push(await this.apply(m, "up"));
      return out;
    });
  }

  /** What `up(options)` would apply, in order; throws what it would refuse. */
  private async planUp(options: UpOptions): Promise<LoadedMigration[]> {
    const loaded = await this.load();
    const status = compare(loaded, await this.store.list());
    checkApplied(status);
    const byVersion = new Map(loaded.map((m) => [m.version, m]));
    let pending = status.filter((s) => s.state === "pending");
    if (!options.allowOutOfOrder) checkOrder(status);
    if (options.to !== undefined) pending = pending.filter((s) => s.version <= options.to!);
    return pending.map((s) => byVersion.get(s.version)!);
  }

  /** Reverts applied migrations, newest first: one by default, or every one newer than `to`. */
  async down(options: DownOptions = {}): Promise<MigrationResult[]> {
    if (options.to !== undefined && !(Number.isSafeInteger(options.to) && options.to >= 0)) {
      throw new MigrationError(`down: "to" must be a version (a non-negative integer), got ${String(options.to)}`);
    }
    const steps = options.steps ?? 1;
    if (!(Number.isSafeInteger(steps) && steps >= 0)) throw new MigrationError(`down: "steps" must be a non-negative integer, got ${String(steps)}`);
    if (!options.dryRun) await this.safetyCopy(() => this.planDown(options, steps));
    return this.locked(async () => {
      const plan = await this.planDown(options, steps);
      if (options.dryRun) return this.rehearse(plan, "down");
      const out: MigrationResult[] = [];
      for (const m of plan) out.push(await this.apply(m, "down"));
      return out;
    });
  }

  /** What `down(options)` would revert, newest first; throws what it would refuse. */
  private async planDown(options: DownOptions, steps: number): Promise<LoadedMigration[]> {
    const loaded = await this.load();
    const status = compare(loaded, await this.store.list());
    checkApplied(status);
    const applied = status.filter((s) => s.state === "applied").reverse();
    const targets = options.to !== undefined ? applied.filter((s) => s.version > options.to!) : applied.slice(0, steps);
    const byVersion = new Map(loaded.map((m) => [m.version, m]));
    const plan = targets.map((s) => byVersion.get(s.version)!);
    // Refuse before reverting anything: half a rollback is worse than none.
    for (const m of plan) {
      if (!m.migration.down) {
        throw new MigrationError(`Cannot revert ${label(m)}: it has no down(); add one, or revert by a new migration`, {
          version: m.version,
          ...(m.file ? { file: m.file } : {}),
        });
      }
    }
    return plan;
  }

  /**
   * With `backup.enabled`, a generation before a run that will apply or revert something (none for a dry run
   * or an empty plan): `strata backup restore` of it undoes the run. If it cannot be made, nothing runs.
   * Taken before the migration lock, whose row (SQL backends) would otherwise be in the copy, held: a
   * restored copy would then keep the next runner waiting. The plan is looked at without the lock for
   * this: a plan it cannot make (a changed migration...) is left for the locked run to report.
   */
  private async safetyCopy(plan: () => Promise<readonly LoadedMigration[]>): Promise<void> {
    const backups = this.core.backups;
    if (!backups) return;
    const planned = await plan().catch(() => []);
    if (planned.length === 0) return;
    try {
      await backups.create("migration");
    } catch (error) {
      // A copy that fails integrity_check says the database itself is damaged: that is the news, as it is.
      if (error instanceof CorruptionError) throw error;
      throw new MigrationError(
        `The backup before this migration run could not be made in ${backups.plan.root}, so nothing was applied: ${(error as Error)?.message ?? String(error)}. ` +
          `Fix backup.dir (space, permissions), or run the migrations with backup turned off.`,
        { file: backups.plan.root, cause: error },
      );
    }
  }

  private async load(): Promise<LoadedMigration[]> {
    const source = this.core.config.migrations;
    if (source === undefined) {
      throw new MigrationError(`No migrations configured: pass migrations: "./migrations" (a folder) or a list of defineMigration() to createStorage`);
    }
    return loadMigrations(source);
  }

  private async locked<T>(fn: () => Promise<T>): Promise<T> {
    const { backend, config } = this.core;
    // A backend that cannot run migrations at all fails in the first store.list(), under the lock.
    const lock = lockOf(backend);
    const release = await lock.acquire(config.timeoutMs);
    this.lock = lock;
    try {
      return await fn();
    } finally {
      this.lock = undefined;
      await release();
    }
  }

  /**
   * A dry run. Where DDL is transactional, the plan runs for real in one transaction that is then rolled
   * back, which shows that it would succeed and (on SQL backends) the statements it would run; elsewhere
   * the plan is only listed.
   */
  private async rehearse(plan: readonly LoadedMigration[], direction: "up" | "down"): Promise<MigrationResult[]> {
    const { backend } = this.core;
    if (plan.length === 0 || !backend.capabilities.supportsTransactionalDdl) return plan.map((m) => result(m, direction, 0, true));
    const out: MigrationResult[] = [];
    const tx = await beginMigration(backend);
    try {
      const editor = editorOf(backend, tx);
      for (const m of plan) {
        const before = editor.statements?.length ?? 0;
        const started = performance.now();
        try {
          const m$ = createMigrationContext(backend.name, editor, tx, new Set(), this.entityOf);
          if (direction === "up") {
            await m.migration.up(m$);
            await this.store.record(tx, { version: m.version, name: m.name, checksum: m.checksum, appliedAt: new Date(), durationMs: 0 });
          } else {
            await m.migration.down!(m$);
            await this.store.remove(tx, m.version);
          }
        } catch (error) {
          throw new MigrationError(`Dry run: ${label(m)} would fail (nothing was changed): ${error instanceof Error ? error.message : String(error)}`, {
            version: m.version,
            ...(m.file ? { file: m.file } : {}),
            cause: error,
          });
        }
        const statements = editor.statements?.slice(before);
        out.push({ ...result(m, direction, Math.round(performance.now() - started), true), ...(statements ? { statements } : {}) });
      }
    } finally {
      await tx.rollback();
    }
    return out;
  }

  private async apply(m: LoadedMigration, direction: "up" | "down"): Promise<MigrationResult> {
    const { backend } = this.core;
    const event: MigrationEvent = { version: m.version, name: m.name, ...(m.file ? { file: m.file } : {}) };
    this.emit(direction === "up" ? "migrating" : "reverting", event);
    const touched = new Set<string>([MIGRATIONS_TABLE]);
    const started = performance.now();
    const tx = await beginMigration(backend);
    try {
      const m$ = createMigrationContext(backend.name, editorOf(backend, tx), tx, touched, this.entityOf);
      if (direction === "up") {
        await m.migration.up(m$);
        const durationMs = Math.round(performance.now() - started);
        await this.store.record(tx, { version: m.version, name: m.name, checksum: m.checksum, appliedAt: new Date(), durationMs });
      } else {
        await m.migration.down!(m$);
        await this.store.remove(tx, m.version);
      }
      // Without the lock another runner may be running this very migration, or reverting the one it needs.
      const lockLost = this.lock?.lost?.();
      if (lockLost) throw lockLost;
      await tx.commit();
    } catch (error) {
      await tx.rollback().catch(() => {});
      const what = direction === "up" ? "Applying" : "Reverting";
      const aftermath = backend.capabilities.supportsTransactionalDdl
        ? "it was rolled back: data and recorded version are as before"
        : `the ${backend.name} backend cannot roll back schema changes, so those made before the failure remain, but the migration is not recorded as ${direction === "up" ? "applied" : "reverted"}; fix them by hand before retrying`;
      const reason = error instanceof Error ? error.message : String(error);
      throw new MigrationError(`${what} ${label(m)} failed (${aftermath}): ${reason}`, {
        version: m.version,
        ...(m.file ? { file: m.file } : {}),
        ...(error instanceof StorageError && error.table ? { table: error.table } : {}),
        cause: error,
      });
    }
    const durationMs = Math.round(performance.now() - started);
    await this.core.schemaChanged(touched);
    this.emit(direction === "up" ? "migrated" : "reverted", { ...event, durationMs });
    return result(m, direction, durationMs, false);
  }
}

function result(m: LoadedMigration, direction: "up" | "down", durationMs: number, dryRun: boolean): MigrationResult {
  return { version: m.version, name: m.name, direction, durationMs, dryRun, ...(m.file ? { file: m.file } : {}) };
}

function compare(loaded: readonly LoadedMigration[], applied: readonly AppliedMigration[]): MigrationStatus[] {
  const records = new Map(applied.map((a) => [a.version, a]));
  const out: MigrationStatus[] = [];
  for (const m of loaded) {
    const record = records.get(m.version);
    records.delete(m.version);
    const file = m.file ? { file: m.file } : {};
    if (!record) out.push({ version: m.version, name: m.name, state: "pending", checksum: m.checksum, ...file });
    else {
      const state = record.checksum === m.checksum ? "applied" : "changed";
      out.push({ version: m.version, name: m.name, state, appliedAt: record.appliedAt, checksum: m.checksum, ...file });
    }
  }
  for (const record of records.values()) {
    out.push({ version: record.version, name: record.name, state: "missing", appliedAt: record.appliedAt, checksum: record.checksum });
  }
  return out.sort((a, b) => a.version - b.version);
}

/** Changed and missing migrations stop everything: the database no longer matches the files. */
function checkApplied(status: readonly MigrationStatus[]): void {
  const changed = status.filter((s) => s.state === "changed");
  const missing = status.filter((s) => s.state === "missing");
  if (changed.length === 0 && missing.length === 0) return;
  const lines = [
    ...changed.map((s) => `${label(s)} was changed after it was applied (checksum differs): restore the file, and put new changes in a new migration`),
    ...missing.map((s) => `migration ${s.version} "${s.name}" is recorded as applied but no file has this version: restore it`),
  ];
  const first = changed[0] ?? missing[0]!;
  throw new MigrationError(`Nothing was run: ${lines.join("; ")}`, { version: first.version, ...(first.file ? { file: first.file } : {}) });
}

function checkOrder(status: readonly MigrationStatus[]): void {
  const newest = Math.max(0, ...status.filter((s) => s.state !== "pending").map((s) => s.version));
  const late = status.filter((s) => s.state === "pending" && s.version < newest);
  if (late.length === 0) return;
  throw new MigrationError(
    `Nothing was run: ${late.map((s) => label(s)).join(", ")} ${late.length === 1 ? "is" : "are"} older than the newest applied migration (${newest}); renumber ${late.length === 1 ? "it" : "them"} above ${newest}, or pass allowOutOfOrder: true (--allow-out-of-order)`,
    { version: late[0]!.version, ...(late[0]!.file ? { file: late[0]!.file } : {}) },
  );
}
