/**
 * The default store of applied migrations: the table `strata_migrations`, kept through the backend's
 * own schema editor and data session, so it works on every backend that can run migrations at all.
 */
import { createHash } from "node:crypto";
import type { AppliedMigration, AppliedMigrationStore, Backend, SchemaEditor, TableDescription, TransactionHandle } from "../spi/index.js";
import { MigrationError, UnsupportedError } from "../errors.js";
import { normalizeQuery, normalizeWhere } from "../query/normalize-query.js";
import type { Row } from "../schema/entity-schema.js";
import { schemaOfTable } from "../schema/table-schema.js";

/** The table of applied migrations, on every backend. */
export const MIGRATIONS_TABLE = "strata_migrations";

export const MIGRATIONS_TABLE_DESCRIPTION: TableDescription = {
  name: MIGRATIONS_TABLE,
  columns: [
    { name: "version", type: "integer", nullable: false, primary: true, unique: false },
    { name: "name", type: "string", nullable: false, primary: false, unique: false },
    { name: "checksum", type: "string", nullable: false, primary: false, unique: false },
    { name: "applied_at", type: "datetime", nullable: false, primary: false, unique: false },
    { name: "duration_ms", type: "integer", nullable: false, primary: false, unique: false },
  ],
  indexes: [],
};

const schema = schemaOfTable(MIGRATIONS_TABLE_DESCRIPTION);

/** A transaction for migration work: the backend's {@link Backend.beginMigration} where it has one, else `begin`. */
export function beginMigration(backend: Backend): Promise<TransactionHandle> {
  return backend.beginMigration ? backend.beginMigration() : backend.begin();
}

/** The schema editor of a transaction, or an {@link UnsupportedError} naming the backend. */
export function editorOf(backend: Backend, tx: TransactionHandle): SchemaEditor {
  if (typeof tx.schema !== "function") {
    throw new UnsupportedError(
      `The ${backend.name} backend cannot run migrations: its transactions have no schema editor (TransactionHandle.schema). Implement it, or manage this backend's schema yourself`,
    );
  }
  return tx.schema();
}

/** Where a backend keeps its applied migrations: its own store, else the table `strata_migrations`. */
export function appliedStoreOf(backend: Backend): AppliedMigrationStore {
  return backend.appliedMigrations ?? new TableMigrationStore(backend);
}

/**
 * A short hash of the migrations applied to the data ("m0" for none, "m-" for a backend with no migrations
 * table to read), handed to the cache when the storage opens: every cache key carries it, so that a process
 * never reads entries written under another schema (see `CacheManager.appliedMark`). A function of the
 * migrations module, not a member of `storage.migrations`: it is no part of the public API.
 */
export async function appliedFingerprint(store: AppliedMigrationStore): Promise<string> {
  let applied: readonly AppliedMigration[];
  try {
    applied = await store.list();
  } catch {
    // A backend without a schema editor has no migrations table to read.
    return "m-";
  }
  if (applied.length === 0) return "m0";
  const digest = createHash("sha256").update(applied.map((a) => `${a.version}:${a.checksum}`).join(",")).digest("base64url");
  return `m${digest.slice(0, 10)}`;
}

/** Keeps applied migrations in `strata_migrations`, created on first use inside the caller's transaction. */
export class TableMigrationStore implements AppliedMigrationStore {
  constructor(private readonly backend: Backend) {}

  async list(): Promise<AppliedMigration[]> {
    const tx = await beginMigration(this.backend);
    try {
      const editor = editorOf(this.backend, tx);
      if (!(await editor.describeTable(MIGRATIONS_TABLE))) return [];
      const rows = await tx.find(schema, normalizeQuery(schema, { orderBy: { version: "asc" } }));
      return rows.map(toApplied);
    } finally {
      await tx.rollback();
    }
  }

  async record(tx: TransactionHandle, migration: AppliedMigration): Promise<void> {
    const editor = editorOf(this.backend, tx);
    if (!(await editor.describeTable(MIGRATIONS_TABLE))) await editor.createTable(MIGRATIONS_TABLE_DESCRIPTION);
    await tx.insert(schema, {
      version: migration.version,
      name: migration.name,
      checksum: migration.checksum,
      applied_at: migration.appliedAt,
      duration_ms: migration.durationMs,
    });
  }

  async remove(tx: TransactionHandle, version: number): Promise<void> {
    // No record to remove means another runner reverted this migration after our list() (a runner whose
    // lock was lost meanwhile): its down() has just run a second time in this transaction, which must
    // roll back. The delete waits on that runner's uncommitted delete, so this sees its outcome.
    if ((await tx.deleteMany(schema, normalizeWhere(schema, { version }))) === 0) {
      throw new MigrationError(`Migration ${version} is no longer recorded as applied: another runner reverted it meanwhile`, { version });
    }
  }
}

function toApplied(row: Row): AppliedMigration {
  return {
    version: row["version"] as number,
    name: row["name"] as string,
    checksum: row["checksum"] as string,
    appliedAt: row["applied_at"] as Date,
    durationMs: row["duration_ms"] as number,
  };
}
