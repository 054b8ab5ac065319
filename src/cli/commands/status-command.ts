/** `strata migrate status`: every migration and its state. */
import type { Command } from "commander";
import { printStatus } from "../cli-output.js";
import { jsonOf, withStorage } from "../command-context.js";

/** Adds `status` to `migrate`. */
export function statusCommand(migrate: Command): Command {
  return migrate
    .command("status")
    .description("list every migration with its state: applied, pending, changed, missing")
    .action(async (_opts, command: Command) => {
      await withStorage(command, async (storage) => printStatus(await storage.migrations.status(), jsonOf(command)), { migrationsFolder: true });
    });
}
