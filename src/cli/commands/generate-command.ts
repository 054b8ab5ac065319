/**
 * `strata migrate generate <name> [--ts]`: a migration file from the difference between the entities and
 * the database schema (`storage.migrations.diff()`); nothing is written when they agree.
 */
import * as path from "node:path";
import type { Command } from "commander";
import { UsageError } from "../cli-config.js";
import { err, out } from "../cli-output.js";
import { jsonOf, withStorage } from "../command-context.js";
import { checkName, writeMigration } from "../migration-file.js";

/** Adds `generate` to `migrate`. */
export function generateCommand(migrate: Command): Command {
  return migrate
    .command("generate <name>")
    .description("write a migration from the difference between the entities and the database schema (nothing when none)")
    .option("--ts", "write TypeScript instead of an .mjs file")
    .action(async (name: string, opts: { ts?: boolean }, command: Command) => {
      checkName(name);
      await withStorage(command, async (storage, settings) => {
        if (settings.entities.length === 0) throw new UsageError("generate needs the entities: set entities in strata.config.json (a module exporting them)");
        // The storage was opened with the settings' entities: its diff compares exactly those.
        const diff = await storage.migrations.diff();
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
}
