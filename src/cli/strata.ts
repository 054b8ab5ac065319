#!/usr/bin/env node
/**
 * The `strata` command.
 *
 *   strata migrate status                         every migration and its state
 *   strata migrate up [--to N] [--dry-run] [--allow-out-of-order]
 *   strata migrate down [--to N] [--steps N] [--dry-run]
 *   strata migrate validate                       checks without running anything
 *   strata migrate create <name> [--ts]           a new, empty migration file
 *   strata migrate generate <name> [--ts] [--rename table.old:new]... [--yes] [--drop-and-add] [--allow-data-loss]
 *                                                 a migration from the entities vs the schema the migrations make
 *   strata copy --from URL --to URL [--force]     every table and the migration history
 *   strata backup list | create [--keep N] | restore <generation> [--dir <dir>]
 *                                                 backup generations of a SQLite database or a file directory
 *   strata doctor [--replica URL]...              each server's role, health and replica lag
 *
 * Global: `--url` (else `STRATA_URL`, else `url` of strata.config.{js,json}), `--config <file>`,
 * `--migrations <dir>`, `--json` (machine-readable output on stdout), `--version` (`-V`). `strata migrate
 * --direct-url <url>` (else `STRATA_DIRECT_URL`): PostgreSQL's own address for migrations and their lock,
 * where `--url` goes through PgBouncer.
 *
 * Exit codes: 0 done; 1 a Strata error (a failing, changed, missing or out-of-order migration, a lock
 * timeout, an unreachable database, a failed copy); 2 a usage error (unknown command or option, a bad
 * value, no database URL). `validate` exits 1 when something is wrong, `doctor` when a server is unhealthy.
 *
 * Each command is one module of `commands/` (as umzug's UpAction/DownAction): its options, its action, its
 * output. This file only wires them into the program and maps errors to exit codes; a new command is a new
 * module there and one line in {@link buildProgram}.
 */
import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { Command, CommanderError } from "commander";
import "reflect-metadata";
import { ConfigError, StorageError } from "../errors.js";
import { UsageError } from "./cli-config.js";
import { err, out } from "./cli-output.js";
import { backupCommand } from "./commands/backup-command.js";
import { copyCommand } from "./commands/copy-command.js";
import { createCommand } from "./commands/create-command.js";
import { doctorCommand, UnhealthyServers } from "./commands/doctor-command.js";
import { downCommand } from "./commands/down-command.js";
import { generateCommand } from "./commands/generate-command.js";
import { statusCommand } from "./commands/status-command.js";
import { upCommand } from "./commands/up-command.js";
import { validateCommand } from "./commands/validate-command.js";
import { packageVersion } from "./package-version.js";

/** The `strata` program: global options, then the commands (each registered by its module, in help order). */
export function buildProgram(): Command {
  const program = new Command("strata")
    .description("Strata migrations, data copy and backups")
    .version(packageVersion(), "-V, --version", "print the version of stratastore")
    .option("--url <url>", "the database (else STRATA_URL, else url in strata.config.json)")
    .option("--config <file>", "the config file (default: strata.config.js or strata.config.json here)")
    .option("--migrations <dir>", "the migrations folder (default: migrations in the config, else ./migrations)")
    .option("--json", "print machine-readable JSON")
    .exitOverride()
    .showHelpAfterError();

  const migrate = program
    .command("migrate")
    .description("apply, revert and inspect migrations")
    .option("--direct-url <url>", "PostgreSQL: the primary itself, for migrations and their lock when --url goes through PgBouncer (else STRATA_DIRECT_URL)");
  statusCommand(migrate);
  validateCommand(migrate);
  upCommand(migrate);
  downCommand(migrate);
  createCommand(migrate);
  generateCommand(migrate);
  copyCommand(program);
  backupCommand(program);
  doctorCommand(program);
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
    // The report is printed already, unhealthy servers among them.
    if (error instanceof UnhealthyServers) return 1;
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
