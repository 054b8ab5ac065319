/**
 * What `strata migrate generate` writes, worked out before anything is written: the baseline (the schema
 * the migrations folder produces, replayed on a throwaway memory storage, pending migrations included), the
 * drift between the live database and the applied migrations, the renames (given, asked or refused), the
 * diff of the entities against the renamed baseline, and the rows a dropped column would take with it.
 */
import { existsSync } from "node:fs";
import * as path from "node:path";
import { MigrationError } from "../errors.js";
import { beginMigration, editorOf } from "./applied-migration-store.js";
import { detailedDiffSchema } from "./diff-schema.js";
import { loadMigrations } from "./migration-loader.js";
import type { LoadedMigration } from "./migration-loader.js";
import { applyRename, checkRename, columnRenameCandidates, renameStatements, tableRenameCandidates } from "./rename-candidates.js";
import type { Rename, RenameCandidate } from "./rename-candidates.js";
import { compareSnapshots, readSnapshot, snapshotSource } from "./schema-snapshot.js";
import type { SchemaSnapshot } from "./schema-snapshot.js";
import { normalizeWhere } from "../query/normalize-query.js";
import { joinTablesOf } from "../schema/read-relations.js";
import { schemaOfTable } from "../schema/table-schema.js";
import type { Backend } from "../spi/index.js";
import { coreOf } from "../storage-core.js";
import type { Storage } from "../storage.js";
import { replayMigrations } from "./migration-replay.js";
import type { ScratchStorage } from "./migration-replay.js";

/** A dropped column and the rows of the live database that hold a value in it. */
export interface RowsAtStake {
  readonly table: string;
  readonly column: string;
  readonly rows: number;
}

/** The migration to write; `up` is empty when the entities match the baseline. */
export interface GeneratePlan {
  readonly up: string[];
  readonly down: string[];
  /** One line per statement of `up`, in words. */
  readonly changes: string[];
  /** Differences the `m` API cannot express, to write by hand. */
  readonly warnings: string[];
  /** What the entities were compared with: `"migrations"` (the folder replayed) or `"database"` (the fallback). */
  readonly baseline: "migrations" | "database";
  /** Live database vs applied migrations, one line per difference. */
  readonly drift: string[];
  readonly renames: Rename[];
  /** Every column `up` drops, with the rows of the live database that hold a value in it. */
  readonly atStake: RowsAtStake[];
}

/** How the plan settles rename candidates: resolves to the renames accepted (a subset of `candidates`). */
export type RenameDecider = (candidates: readonly RenameCandidate[]) => Promise<Rename[]>;

/** Options of {@link planMigration}. */
export interface PlanOptions {
  /** The `--rename` values, made before any candidate is looked for. */
  readonly renames: readonly Rename[];
  readonly decide: RenameDecider;
  /** Notes for the user as they come (the fallback baseline, drift), before any question is asked. */
  readonly warn: (line: string) => void;
  /** Opens an empty memory storage for the replays. */
  readonly scratch: ScratchStorage;
}

const label = (m: LoadedMigration) => `migration ${m.version} "${m.name}"${m.file ? ` (${path.basename(m.file)})` : ""}`;

/** The user tables of the live database. */
async function liveSnapshot(backend: Backend): Promise<SchemaSnapshot> {
  const tx = await beginMigration(backend);
  try {
    return await readSnapshot(editorOf(backend, tx));
  } finally {
    await tx.rollback();
  }
}

/** For each dropped column, the rows of the live database holding a value in it (0 where it is not there yet). */
async function rowsAtStake(backend: Backend, live: SchemaSnapshot, dropped: readonly { table: string; column: string; liveTable: string }[]): Promise<RowsAtStake[]> {
  if (dropped.length === 0) return [];
  const tx = await beginMigration(backend);
  try {
    const out: RowsAtStake[] = [];
    for (const d of dropped) {
      const table = live.get(d.liveTable);
      let rows = 0;
      if (table?.columns.some((c) => c.name === d.column)) {
        // The names come from the database's own description and go through the query compiler, never into SQL text.
        const schema = schemaOfTable(table);
        // $isNull is the one test every type takes (a json column refuses $ne).
        rows = await tx.count(schema, normalizeWhere(schema, { [d.column]: { $isNull: false } }));
      }
      out.push({ table: d.table, column: d.column, rows });
    }
    return out;
  } finally {
    await tx.rollback();
  }
}

/** Works out the migration `generate` would write for the entities of `storage` (opened on the live database). */
export async function planMigration(storage: Storage, folder: string, options: PlanOptions): Promise<GeneratePlan> {
  const { backend, schemas: bySchema } = coreOf(storage);
  // Many-to-many join tables are the entities' tables too: a migration creates them like any other.
  const schemas = [...bySchema.values(), ...joinTablesOf(bySchema.values())];
  const live = await liveSnapshot(backend);
  const hasFolder = existsSync(folder);
  const loaded = hasFolder ? await loadMigrations(folder) : [];
  const status = hasFolder ? await storage.migrations.status() : [];

  let baseline: SchemaSnapshot;
  let baselineKind: GeneratePlan["baseline"] = "migrations";
  const entityOf = (table: string) => schemas.find((s) => s.table === table);
  const all = await replayMigrations(loaded, options.scratch, entityOf);
  if ("schema" in all) baseline = all.schema;
  else {
    options.warn(
      `${label(all.blockedBy)} cannot be replayed (${all.reason}): comparing the entities with the live database instead, so a change a pending migration makes may be written again`,
    );
    baseline = live;
    baselineKind = "database";
  }

  const drift: string[] = [];
  const missing = status.filter((s) => s.state === "missing");
  if (missing.length > 0) {
    options.warn(`drift not checked: ${missing.map((s) => `migration ${s.version} "${s.name}"`).join(", ")} ${missing.length === 1 ? "is" : "are"} recorded as applied but no file has ${missing.length === 1 ? "its" : "their"} version`);
  } else if ("schema" in all) {
    const appliedVersions = new Set(status.filter((s) => s.state !== "pending").map((s) => s.version));
    const applied = loaded.filter((m) => appliedVersions.has(m.version));
    const replayed = applied.length === loaded.length ? all : await replayMigrations(applied, options.scratch, entityOf);
    if ("schema" in replayed) drift.push(...compareSnapshots(replayed.schema, live));
    else options.warn(`drift not checked: ${label(replayed.blockedBy)} cannot be replayed (${replayed.reason})`);
    if (drift.length > 0) {
      options.warn(`drift: the database differs from what its applied migrations make (changed by hand, or by autoCreate?):\n${drift.map((d) => `  - ${d}`).join("\n")}`);
    }
  }

  // Table renames first (a column rename names the table by its new name), each kind: given ones, then candidates.
  const renames: Rename[] = [];
  const made: ReturnType<typeof renameStatements>[] = [];
  const make = (rename: Rename) => {
    checkRename(rename, schemas, baseline);
    const applied = applyRename(baseline, rename, schemas);
    baseline = applied.baseline;
    renames.push(rename);
    made.push(renameStatements(rename, applied.staleIndexes));
  };
  for (const kind of ["table", "column"] as const) {
    const given = options.renames.filter((r) => r.kind === kind);
    for (const rename of given) make(rename);
    const found = kind === "table" ? tableRenameCandidates(schemas, baseline) : columnRenameCandidates(schemas, baseline);
    if (found.length === 0) continue;
    for (const rename of await options.decide(found)) make(rename);
  }

  const diff = await detailedDiffSchema(schemas, snapshotSource(baseline));
  const up = [...made.flatMap((r) => r.up), ...diff.up];
  const down = [...diff.down, ...[...made].reverse().flatMap((r) => r.down)];
  const changes = [...made.map((r) => r.change), ...diff.changes];

  // A dropped column of a renamed table sits in the live database under the table's old name.
  const oldName = (table: string) => renames.find((r) => r.kind === "table" && r.to === table)?.from ?? table;
  const atStake = await rowsAtStake(backend, live, diff.dropped.map((d) => ({ ...d, liveTable: oldName(d.table) })));
  return { up, down, changes, warnings: diff.warnings, baseline: baselineKind, drift, renames, atStake };
}

/** The refusal of a plan that drops values, listing each column and its rows. */
export function dataLossError(atStake: readonly RowsAtStake[]): MigrationError {
  const lines = atStake.map((s) => `  - ${s.table}.${s.column}: ${s.rows} row${s.rows === 1 ? "" : "s"} with a value`);
  const first = atStake[0]!;
  return new MigrationError(
    `Nothing was written: the migration would drop columns that hold data in the database:\n${lines.join("\n")}\nIf a column was renamed, say so with --rename ${first.table}.${first.column}:<new name>; to drop the values, pass --allow-data-loss`,
    { table: first.table, field: first.column },
  );
}
