#!/usr/bin/env node
/**
 * The `strata` command.
 *
 *   strata migrate status                         every migration and its state
 *   strata migrate up [--to N] [--dry-run] [--allow-out-of-order]
 *   strata migrate down [--to N] [--steps N] [--dry-run]
 *   strata migrate validate                       checks without running anything
 *   strata migrate create <name> [--ts]           a new, empty migration file
 *   strata migrate generate <name> [--ts]         a migration from the entities vs the database schema
 *   strata copy --from URL --to URL [--force]     every table and the migration history
 *
 * Global: `--url` (else `STRATA_URL`, else `url` of strata.config.{js,json}), `--config <file>`,
 * `--migrations <dir>`, `--json` (machine-readable output on stdout).
 *
 * Exit codes: 0 done; 1 a Strata error (a failing, changed, missing or out-of-order migration, a lock
 * timeout, an unreachable database, a failed copy); 2 a usage error (unknown command or option, a bad
 * value, no database URL). `validate` exits 1 when something is wrong.
 */
import { existsSync, mkdirSync, readdirSync, realpathSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import * as path from "node:path";
import { Command, CommanderError, InvalidArgumentError } from "commander";
import "reflect-metadata";
import { editorOf } from "../migrations/applied-migration-store.js";
import { copyStorage } from "../copy/copy-storage.js";
import type { MigrationResult, MigrationStatus } from "../migrations/migration-runner.js";
import { readEntitySchema } from "../schema/read-entity-schema.js";
import { createStorage } from "../storage.js";
import type { Storage } from "../storage.js";
import { ConfigError, StorageError } from "../errors.js";
import { resolveCliSettings, UsageError } from "./cli-config.js";
import type { CliSettings } from "./cli-config.js";
import { diffSchema, migrationFileText } from "./generate-migration.js";

interface GlobalFlags {
  url?: string;
  config?: string;
  migrations?: string;
  json?: boolean;
}

const out = (text: string) => process.stdout.write(`${text}\n`);
const err = (text: string) => process.stderr.write(`${text}\n`);

function version(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError("expected a version number (a non-negative integer)");
  return n;
}

/** A plain text table with aligned columns. */
function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

function settingsOf(command: Command): Promise<CliSettings> {
  const flags = command.optsWithGlobals<GlobalFlags>();
  return resolveCliSettings(flags);
}

function jsonOf(command: Command): boolean {
  return command.optsWithGlobals<GlobalFlags>().json === true;
}

async function open(settings: CliSettings, url = settings.url): Promise<Storage> {
  if (!url) throw new UsageError("No database: pass --url, set STRATA_URL, or put url in strata.config.json");
  // Never create tables from the entities here: the schema is the migrations' business.
  return createStorage({ url, entities: settings.entities, migrations: settings.migrations, autoCreate: false });
}

async function withStorage<T>(command: Command, fn: (storage: Storage, settings: CliSettings) => Promise<T>): Promise<T> {
  const settings = await settingsOf(command);
  const storage = await open(settings);
  try {
    return await fn(storage, settings);
  } finally {
    await storage.close();
  }
}

function printStatus(status: MigrationStatus[], json: boolean): void {
  if (json) {
    out(JSON.stringify(status.map((s) => ({ ...s, appliedAt: s.appliedAt?.toISOString() ?? null, file: s.file ?? null }))));
    return;
  }
  if (status.length === 0) {
    out("No migrations.");
    return;
  }
  out(table(["Version", "Name", "State", "Applied at"], status.map((s) => [String(s.version), s.name, s.state, s.appliedAt?.toISOString() ?? ""])));
}

function printResults(results: MigrationResult[], json: boolean, verb: string): void {
  if (json) {
    out(JSON.stringify(results));
    return;
  }
  if (results.length === 0) {
    out(`Nothing to ${verb}.`);
    return;
  }
  for (const r of results) {
    const what = r.dryRun ? `Would ${r.direction === "up" ? "apply" : "revert"}` : r.direction === "up" ? "Applied" : "Reverted";
    out(`${what} ${r.version} ${r.name}${r.dryRun ? "" : ` (${r.durationMs} ms)`}`);
    for (const statement of r.statements ?? []) out(`    ${statement};`);
  }
}

/** The next version in a folder: one above the highest file number. */
function nextVersion(dir: string): number {
  if (!existsSync(dir)) return 1;
  const versions = readdirSync(dir)
    .map((f) => /^(\d+)[-_]/.exec(f)?.[1])
    .filter((v): v is string => v !== undefined)
    .map(Number);
  return Math.max(0, ...versions) + 1;
}

function checkName(name: string): string {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new UsageError(`The migration name ${JSON.stringify(name)} must be kebab-case (lower-case letters, digits and dashes), e.g. add-task-priority`);
  return name;
}

function writeMigration(dir: string, name: string, up: string[], down: string[], typescript: boolean): string {
  mkdirSync(dir, { recursive: true });
  const v = nextVersion(dir);
  const file = path.join(dir, `${String(v).padStart(4, "0")}-${name}.${typescript ? "ts" : "mjs"}`);
  writeFileSync(file, migrationFileText(v, name, up, down, typescript), { flag: "wx" });
  return file;
}

export function buildProgram(): Command {
  const program = new Command("strata")
    .description("Strata migrations and data copy")
    .option("--url <url>", "the database (else STRATA_URL, else url in strata.config.json)")
    .option("--config <file>", "the config file (default: strata.config.js or strata.config.json here)")
    .option("--migrations <dir>", "the migrations folder (default: migrations in the config, else ./migrations)")
    .option("--json", "print machine-readable JSON")
    .exitOverride()
    .showHelpAfterError();

  const migrate = program.command("migrate").description("apply, revert and inspect migrations");

  migrate
    .command("status")
    .description("list every migration with its state: applied, pending, changed, missing")
    .action(async (_opts, command: Command) => {
      await withStorage(command, async (storage) => printStatus(await storage.migrations.status(), jsonOf(command)));
    });

  migrate
    .command("validate")
    .description("check the migrations without running any (exit 1 when one changed, went missing or is out of order)")
    .option("--allow-out-of-order", "accept pending migrations older than the newest applied one")
    .action(async (opts: { allowOutOfOrder?: boolean }, command: Command) => {
      await withStorage(command, async (storage) => printStatus(await storage.migrations.validate({ allowOutOfOrder: opts.allowOutOfOrder === true }), jsonOf(command)));
    });

  migrate
    .command("up")
    .description("apply pending migrations")
    .option("--to <version>", "stop after this version", version)
    .option("--dry-run", "list what would run and change nothing")
    .option("--allow-out-of-order", "apply pending migrations older than the newest applied one")
    .action(async (opts: { to?: number; dryRun?: boolean; allowOutOfOrder?: boolean }, command: Command) => {
      await withStorage(command, async (storage) => {
        const results = await storage.migrations.up({
          ...(opts.to !== undefined ? { to: opts.to } : {}),
          dryRun: opts.dryRun === true,
          allowOutOfOrder: opts.allowOutOfOrder === true,
        });
        printResults(results, jsonOf(command), "apply");
      });
    });

  migrate
    .command("down")
    .description("revert the newest applied migration (or --steps N, or every one newer than --to N)")
    .option("--to <version>", "revert every migration newer than this version (0: all)", version)
    .option("--steps <n>", "how many to revert", version)
    .option("--dry-run", "list what would be reverted and change nothing")
    .action(async (opts: { to?: number; steps?: number; dryRun?: boolean }, command: Command) => {
      await withStorage(command, async (storage) => {
        const results = await storage.migrations.down({
          ...(opts.to !== undefined ? { to: opts.to } : {}),
          ...(opts.steps !== undefined ? { steps: opts.steps } : {}),
          dryRun: opts.dryRun === true,
        });
        printResults(results, jsonOf(command), "revert");
      });
    });

  migrate
    .command("create <name>")
    .description("write a new, empty migration file with the next version")
    .option("--ts", "write TypeScript (compile it before running) instead of an .mjs file")
    .action(async (name: string, opts: { ts?: boolean }, command: Command) => {
      const settings = await settingsOf(command);
      const file = writeMigration(settings.migrations, checkName(name), [], [], opts.ts === true);
      if (jsonOf(command)) out(JSON.stringify({ file }));
      else out(`Created ${path.relative(process.cwd(), file) || file}`);
    });

  migrate
    .command("generate <name>")
    .description("write a migration from the difference between the entities and the database schema (nothing when none)")
    .option("--ts", "write TypeScript instead of an .mjs file")
    .action(async (name: string, opts: { ts?: boolean }, command: Command) => {
      checkName(name);
      await withStorage(command, async (storage, settings) => {
        if (settings.entities.length === 0) throw new UsageError("generate needs the entities: set entities in strata.config.json (a module exporting them)");
        const schemas = settings.entities.map((e) => readEntitySchema(e));
        const tx = await storage.core.backend.begin();
        let diff;
        try {
          diff = await diffSchema(schemas, editorOf(storage.core.backend, tx));
        } finally {
          await tx.rollback();
        }
        for (const w of diff.warnings) err(`warning: ${w}`);
        if (diff.up.length === 0) {
          if (jsonOf(command)) out(JSON.stringify({ file: null, warnings: diff.warnings }));
          else out("No difference between the entities and the database schema: nothing written.");
          return;
        }
        const file = writeMigration(settings.migrations, name, diff.up, diff.down, opts.ts === true);
        if (jsonOf(command)) out(JSON.stringify({ file, up: diff.up, down: diff.down, warnings: diff.warnings }));
        else out(`Created ${path.relative(process.cwd(), file) || file} with ${diff.up.length} change${diff.up.length === 1 ? "" : "s"}`);
      });
    });

  program
    .command("copy")
    .description("copy every table and the migration history from one backend to another, verified")
    .requiredOption("--from <url>", "the source database")
    .requiredOption("--to <url>", "the target database (must be empty unless --force)")
    .option("--force", "copy into a non-empty target, replacing the tables the source has")
    .option("--batch-size <n>", "rows per batch", version, 500)
    .action(async (opts: { from: string; to: string; force?: boolean; batchSize: number }, command: Command) => {
      const settings = await settingsOf(command);
      const json = jsonOf(command);
      const from = await open(settings, opts.from);
      try {
        const to = await open(settings, opts.to);
        try {
          const progress = !json && process.stderr.isTTY;
          const copied = await copyStorage(from, to, {
            force: opts.force === true,
            batchSize: Math.max(1, opts.batchSize),
            onProgress: ({ table: name, copied: n, total }) => {
              const width = 24;
              const filled = total === 0 ? width : Math.round((n / total) * width);
              const bar = `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${name} ${n}/${total}`;
              if (progress) process.stderr.write(`\r${bar}\x1b[K${n === total ? "\n" : ""}`);
              else if (n === total && !json) err(bar);
            },
          });
          if (json) out(JSON.stringify(copied));
          else {
            out(table(["Table", "Rows", "Checksum"], copied.map((c) => [c.table, String(c.rows), c.checksum.slice(0, 16)])));
            out(`Copied and verified ${copied.length} table${copied.length === 1 ? "" : "s"} from ${from.backend} to ${to.backend}.`);
          }
        } finally {
          await to.close();
        }
      } finally {
        await from.close();
      }
    });

  return program;
}

/** Runs the command line; resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv], { from: "user" });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    if (error instanceof UsageError || error instanceof ConfigError) {
      err(`strata: ${error.message}`);
      return 2;
    }
    const json = argv.includes("--json");
    if (error instanceof StorageError) {
      if (json) out(JSON.stringify({ error: { code: error.code, name: error.name, message: error.message, ...(error.version !== undefined ? { version: error.version } : {}), ...(error.file ? { file: error.file } : {}) } }));
      err(`strata: ${error.name}: ${error.message}`);
      return 1;
    }
    err(`strata: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return 1;
  }
}

/** True when this module is the program node runs (directly, or through the `strata` bin link). */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return pathToFileURL(realpathSync(script)).href === import.meta.url;
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
