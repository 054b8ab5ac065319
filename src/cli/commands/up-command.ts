/** `strata migrate up [--to N] [--dry-run] [--allow-out-of-order]`: applies pending migrations. */
import type { Command } from "commander";
import { printResults } from "../cli-output.js";
import { jsonOf, version, withStorage } from "../command-context.js";

/** Adds `up` to `migrate`. */
export function upCommand(migrate: Command): Command {
  return migrate
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
      }, { migrationsFolder: true });
    });
}
