/** `strata migrate create <name> [--ts]`: a new, empty migration file with the next version. */
import * as path from "node:path";
import type { Command } from "commander";
import { out } from "../cli-output.js";
import { jsonOf, settingsOf } from "../command-context.js";
import { checkName, writeMigration } from "../migration-file.js";

/** Adds `create` to `migrate`. */
export function createCommand(migrate: Command): Command {
  return migrate
    .command("create <name>")
    .description("write a new, empty migration file with the next version")
    .option("--ts", "write TypeScript (compile it before running) instead of an .mjs file")
    .action(async (name: string, opts: { ts?: boolean }, command: Command) => {
      const settings = await settingsOf(command);
      const file = writeMigration(settings.migrations, checkName(name), [], [], opts.ts === true);
      if (jsonOf(command)) out(JSON.stringify({ file }));
      else out(`Created ${path.relative(process.cwd(), file) || file}`);
    });
}
