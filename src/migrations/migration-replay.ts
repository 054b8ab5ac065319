/**
 * The schema a list of migrations produces, found by running their `up` on a throwaway memory storage: what
 * `strata migrate generate` diffs the entities against (every migration of the folder, pending ones
 * included, so that a change a pending migration makes is not written again), and what the live database
 * should look like (the applied ones only), to tell drift. The memory backend runs every `m.*` operation
 * but `m.sql`: a migration that uses it, or fails on replay, blocks the replay and is named.
 */
import { UnsupportedError } from "../errors.js";
import { coreOf } from "../storage-core.js";
import type { EntitySchema } from "../schema/entity-schema.js";
import type { Storage } from "../storage.js";
import { editorOf } from "./applied-migration-store.js";
import type { LoadedMigration } from "./migration-loader.js";
import { createMigrationContext } from "./schema-migration-context.js";
import { readSnapshot } from "./schema-snapshot.js";
import type { SchemaSnapshot } from "./schema-snapshot.js";

/** The schema after the migrations, or the migration that stopped the replay and why. */
export type ReplayResult = { readonly schema: SchemaSnapshot } | { readonly blockedBy: LoadedMigration; readonly reason: string };

/**
 * Opens the throwaway storage a replay runs on: an empty `memory:` one (given by the caller, since this
 * module cannot import `createStorage`, whose module imports the migrations').
 */
export type ScratchStorage = () => Promise<Storage>;

/**
 * Runs the `up` of `migrations` (in the order given) on a new scratch storage, closed afterwards. `entityOf`
 * is the live storage's entity of a table: `m.insertRows` fills its dated and versioned columns on the replay
 * as the runner does, or a seed the database took would fail here.
 */
export async function replayMigrations(
  migrations: readonly LoadedMigration[],
  scratch: ScratchStorage,
  entityOf: (table: string) => EntitySchema | undefined = () => undefined,
): Promise<ReplayResult> {
  const storage = await scratch();
  const { backend } = coreOf(storage);
  try {
    for (const m of migrations) {
      const tx = await backend.begin();
      try {
        await m.migration.up(createMigrationContext(backend.name, editorOf(backend, tx), tx, new Set(), entityOf));
        await tx.commit();
      } catch (error) {
        await tx.rollback().catch(() => {});
        const reason =
          error instanceof UnsupportedError && /m\.sql/.test(error.message)
            ? "it uses m.sql, which a memory storage cannot run"
            : `it fails on a memory storage: ${error instanceof Error ? error.message : String(error)}`;
        return { blockedBy: m, reason };
      }
    }
    const tx = await backend.begin();
    try {
      return { schema: await readSnapshot(editorOf(backend, tx)) };
    } finally {
      await tx.rollback();
    }
  } finally {
    await storage.close();
  }
}
