/** `strata migrate down [--to N] [--steps N] [--dry-run]`: reverts the newest applied migrations. */
import type { Command } from "commander";
import { printResults } from "../cli-output.js";
import { jsonOf, version, withStorage } from "../command-context.js";

/** Adds `down` to `migrate`. */
export function downCommand(migrate: Command): Command {
  return migrate
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
      }, { migrationsFolder: true });
    });
}
