/** `strata migrate validate`: checks the migrations without running anything (exit 1 when something is wrong). */
import type { Command } from "commander";
import { printStatus } from "../cli-output.js";
import { jsonOf, withStorage } from "../command-context.js";

/** Adds `validate` to `migrate`. */
export function validateCommand(migrate: Command): Command {
  return migrate
    .command("validate")
    .description("check the migrations without running any (exit 1 when one changed, went missing or is out of order)")
    .option("--allow-out-of-order", "accept pending migrations older than the newest applied one")
    .action(async (opts: { allowOutOfOrder?: boolean }, command: Command) => {
      await withStorage(command, async (storage) => printStatus(await storage.migrations.validate({ allowOutOfOrder: opts.allowOutOfOrder === true }), jsonOf(command)), { migrationsFolder: true });
    });
}
