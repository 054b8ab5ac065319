/**
 * `strata backup list | create | restore <generation>` [--dir <dir>]: the generations of a SQLite database
 * or a file-backend directory (README, "Backups").
 *
 * - `list`: every complete generation, oldest first (leftovers of a killed backup are removed on the way).
 * - `create [--keep N]`: a generation now (the storage's own consistent copy, verified), pruned to `N` when given.
 * - `restore <generation> [--force-source]`: checks the generation (refusing one of another source unless
 *   `--force-source`), refuses a storage open elsewhere, keeps the data it replaces as one more generation,
 *   then puts the generation in place (src/backup/restore-generation.ts).
 */
import fs from "node:fs";
import * as path from "node:path";
import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import { parseUrl } from "../../config/storage-config.js";
import { ConfigError } from "../../errors.js";
import { listGenerations } from "../../backup/backup-generations.js";
import type { Generation } from "../../backup/backup-generations.js";
import type { BackupPlan } from "../../backup/backup-plan.js";
import { backupPlanOf } from "../../backup/backup-plan.js";
import { backUp } from "../../backup/backup-scheduler.js";
import { restoreGeneration } from "../../backup/restore-generation.js";
import { backupLayoutOf } from "../../spi/backend-registry.js";
import { UsageError } from "../cli-config.js";
import { out, table } from "../cli-output.js";
import { jsonOf, open, settingsOf } from "../command-context.js";

/** Where the database of the settings is and where its generations go. */
interface BackupTarget {
  readonly backend: string;
  readonly location: string;
  readonly plan: BackupPlan;
}

async function targetOf(command: Command, dir: string | undefined): Promise<BackupTarget> {
  const settings = await settingsOf(command);
  if (!settings.url) throw new UsageError("No database: pass --url, set STRATA_URL, or put url in strata.config.json");
  const parsed = parseUrl(settings.url);
  if (!parsed) throw new UsageError(`--url: expected a URL such as "sqlite:./data/app.db", got ${JSON.stringify(settings.url)}`);
  const { backend } = parsed;
  if (backend === "postgres") {
    throw new ConfigError(["url: Strata does not back up PostgreSQL; use pg_dump (logical) or pg_basebackup with continuous archiving (WAL, point-in-time recovery)"]);
  }
  // A backend whose layout can restore in place has its data at a path: a SQLite file or a file-backend directory.
  if (!backupLayoutOf(backend)?.restore || !parsed.path || parsed.path === ":memory:") {
    throw new UsageError(`strata backup works on a SQLite database file or a file-backend directory, not ${settings.url} (a memory storage backs itself up from its own process, with backup.dir)`);
  }
  const location = path.resolve(parsed.path);
  const plan = backupPlanOf(backend, location, dir ? path.resolve(dir) : undefined)!;
  return { backend, location, plan };
}

/** Parses `--keep`: a positive integer (keeping none would remove the generation just made). */
function positiveCount(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n === 0) throw new InvalidArgumentError("expected a positive integer");
  return n;
}

/** A generation as `--json` prints it. */
function describe(generation: Generation) {
  const { name, path: dir, dataPath, manifest } = generation;
  return { name, path: dir, data: dataPath, reason: manifest.reason, backend: manifest.backend, source: manifest.source ?? null, createdAt: manifest.createdAt, sizeBytes: manifest.sizeBytes };
}

function printGenerations(generations: Generation[], root: string): void {
  if (generations.length === 0) {
    out(`No generations in ${root}.`);
    return;
  }
  out(table(["Generation", "Reason", "Created at", "Size"], generations.map((g) => [g.name, g.manifest.reason, g.manifest.createdAt, `${g.manifest.sizeBytes} B`])));
}

/** Adds `backup` (with `list`, `create` and `restore`) to the program. */
export function backupCommand(program: Command): Command {
  const backup = program.command("backup").description("list, make and restore backup generations (sqlite and file)");
  const dirOption = ["--dir <dir>", "the generations' directory (default: <database>.backups for sqlite, backups inside a file directory)"] as const;

  backup
    .command("list")
    .description("every complete generation, oldest first")
    .option(...dirOption)
    .action(async (opts: { dir?: string }, command: Command) => {
      const { plan } = await targetOf(command, opts.dir);
      const generations = listGenerations(plan.root);
      if (jsonOf(command)) out(JSON.stringify(generations.map(describe)));
      else printGenerations(generations, plan.root);
    });

  backup
    .command("create")
    .description("make a generation now (a consistent copy, verified)")
    .option(...dirOption)
    .option("--keep <n>", "then keep only the newest n generations", positiveCount)
    .action(async (opts: { dir?: string; keep?: number }, command: Command) => {
      const { location, plan } = await targetOf(command, opts.dir);
      // Opening a mistyped path would make an empty database and back that up, as if all were well.
      if (!fs.existsSync(location)) throw new UsageError(`--url: there is no database at ${location} to back up`);
      const storage = await open(await settingsOf(command));
      try {
        const { generation, durationMs } = await backUp(storage, storage.backend, plan, "manual", opts.keep);
        if (jsonOf(command)) out(JSON.stringify({ ...describe(generation), durationMs }));
        else out(`Created ${generation.name} (${generation.manifest.sizeBytes} B in ${durationMs} ms) in ${plan.root}.`);
      } finally {
        await storage.close();
      }
    });

  backup
    .command("restore")
    .description("put a generation back in place of the data (the storage must not be open elsewhere); the data it replaces becomes one more generation")
    .argument("<generation>", "the generation's name, as `strata backup list` shows it")
    .option(...dirOption)
    .option("--force-source", "restore a generation taken from another database file or directory (a moved database) or from a memory storage")
    .action(async (name: string, opts: { dir?: string; forceSource?: boolean }, command: Command) => {
      const { backend, location, plan } = await targetOf(command, opts.dir);
      const { restored, replaced } = await restoreGeneration({ backend, location, plan, generation: name, forceSource: opts.forceSource === true });
      if (jsonOf(command)) out(JSON.stringify({ restored: describe(restored), replaced: replaced ? describe(replaced) : null }));
      else out(`Restored ${restored.name} into ${location}.${replaced ? ` The data it replaced is ${replaced.name}.` : ""}`);
    });
  return backup;
}
