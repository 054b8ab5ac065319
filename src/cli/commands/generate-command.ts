/**
 * `strata migrate generate <name> [--ts] [--rename table.old:new]... [--yes] [--drop-and-add] [--allow-data-loss]`:
 * a migration file from the difference between the entities and the schema the migrations folder makes
 * (`migrations/generate-plan.ts`); nothing is written when they agree. A likely rename is asked about in a terminal,
 * taken from `--rename` or `--yes`, and refused otherwise; a drop of a column holding data is refused
 * unless `--allow-data-loss`. Each change is listed.
 */
import * as path from "node:path";
import { createInterface } from "node:readline/promises";
import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import { MigrationError } from "../../errors.js";
import { renameFlag, renameLabel } from "../../migrations/rename-candidates.js";
import type { Rename, RenameCandidate } from "../../migrations/rename-candidates.js";
import { UsageError } from "../cli-config.js";
import { err, out } from "../cli-output.js";
import { jsonOf, withStorage } from "../command-context.js";
import { dataLossError, planMigration } from "../../migrations/generate-plan.js";
import type { RenameDecider } from "../../migrations/generate-plan.js";
import { createStorage } from "../../storage.js";
import { checkName, writeMigration } from "../migration-file.js";

const IDENTIFIER = "[A-Za-z_][A-Za-z0-9_]*";
const RENAME = new RegExp(`^(${IDENTIFIER})(?:\\.(${IDENTIFIER}))?:(${IDENTIFIER})$`);

/** Parses one `--rename` value (`table.old:new` for a column, `old:new` for a table) and adds it to the list. */
function renameOption(value: string, previous: Rename[] = []): Rename[] {
  const match = RENAME.exec(value);
  if (!match) throw new InvalidArgumentError(`expected table.old:new for a column (e.g. tasks.views:viewCount) or old:new for a table (e.g. tasks:todos)`);
  const [, first, column, to] = match as unknown as [string, string, string | undefined, string];
  return [...previous, column === undefined ? { kind: "table", from: first, to } : { kind: "column", table: first, from: column, to }];
}

/** The error context naming the old side of `rename`: its table, and its column for a column rename. */
const contextOf = (rename: Rename) => (rename.kind === "column" ? { table: rename.table, field: rename.from } : { table: rename.from });

/** Asks about each candidate on the terminal; a candidate whose side was already renamed is not asked. */
async function ask(candidates: readonly RenameCandidate[]): Promise<Rename[]> {
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const used = new Set<string>();
    const accepted: Rename[] = [];
    for (const candidate of candidates) {
      const { from, to } = renameLabel(candidate.rename);
      if (used.has(from) || used.has(to)) continue;
      const what = candidate.rename.kind === "table" ? "table " : "";
      let answer: string;
      try {
        answer = await prompt.question(`Did you rename ${what}${from} to ${what}${to}? [y/N] `);
      } catch (error) {
        // Ctrl+D ends the input: no answer is not a "no" (that would drop the column), so nothing is written.
        if (!(error instanceof Error && error.name === "AbortError")) throw error;
        throw new MigrationError(
          `Nothing was written: the question was not answered (end of input). Run generate again and answer y or n, or say it with --rename ${renameFlag(candidate.rename)}, --yes or --drop-and-add`,
          contextOf(candidate.rename),
        );
      }
      if (!/^y(es)?$/i.test(answer.trim())) continue;
      accepted.push(candidate.rename);
      used.add(from);
      used.add(to);
    }
    return accepted;
  } finally {
    prompt.close();
  }
}

const listed = (candidates: readonly RenameCandidate[]) =>
  candidates.map((c) => {
    const { from, to } = renameLabel(c.rename);
    return `  - ${from} -> ${to}${c.type ? ` (${c.type})` : ""}: --rename ${renameFlag(c.rename)}`;
  });

/** How the options settle rename candidates. */
function renameDecider(opts: { yes: boolean; dropAndAdd: boolean; interactive: boolean }): RenameDecider {
  return async (candidates) => {
    if (opts.dropAndAdd) return [];
    if (opts.interactive && !opts.yes) return ask(candidates);
    const context = contextOf(candidates[0]!.rename);
    if (!opts.yes) {
      throw new MigrationError(
        `Nothing was written: these look like renames, and generate cannot ask (no terminal):\n${listed(candidates).join("\n")}\nFor a rename, pass its --rename (repeatable), or --yes to accept them all; to drop and add instead, pass --drop-and-add`,
        context,
      );
    }
    const ambiguous = candidates.filter((c) => c.ambiguous);
    if (ambiguous.length > 0) {
      throw new MigrationError(
        `Nothing was written: --yes cannot choose among these possible renames (one side fits more than one):\n${listed(ambiguous).join("\n")}\nSay which with --rename (repeatable); the rest are dropped and added`,
        context,
      );
    }
    return candidates.map((c) => c.rename);
  };
}

interface GenerateOptions {
  ts?: boolean;
  rename?: Rename[];
  yes?: boolean;
  dropAndAdd?: boolean;
  allowDataLoss?: boolean;
}

/** Adds `generate` to `migrate`. */
export function generateCommand(migrate: Command): Command {
  return migrate
    .command("generate <name>")
    .description("write a migration from the difference between the entities and the schema the migrations folder makes (nothing when none)")
    .option("--ts", "write TypeScript instead of an .mjs file")
    .option("--rename <table.old:new>", "a renamed column (tasks.views:viewCount) or table (tasks:todos); repeatable", renameOption)
    .option("--yes", "accept every rename generate finds (refused where one is ambiguous)")
    .option("--drop-and-add", "take no likely rename as one: drop and add (the data-loss check still applies)")
    .option("--allow-data-loss", "write the migration even when it drops columns that hold data")
    .action(async (name: string, opts: GenerateOptions, command: Command) => {
      checkName(name);
      const json = jsonOf(command);
      await withStorage(command, async (storage, settings) => {
        if (settings.entities.length === 0) throw new UsageError("generate needs the entities: set entities in strata.config.json (a module exporting them)");
        const decide = renameDecider({ yes: opts.yes === true, dropAndAdd: opts.dropAndAdd === true, interactive: process.stdin.isTTY === true });
        const plan = await planMigration(storage, settings.migrations, {
          renames: opts.rename ?? [],
          decide,
          warn: (line) => err(`warning: ${line}`),
          scratch: () => createStorage({ url: "memory:", autoCreate: false }),
        });
        for (const w of plan.warnings) err(`warning: ${w}`);
        const atStake = plan.atStake.filter((s) => s.rows > 0);
        if (atStake.length > 0 && opts.allowDataLoss !== true) throw dataLossError(atStake);
        const result = { up: plan.up, down: plan.down, changes: plan.changes, warnings: plan.warnings, drift: plan.drift, renames: plan.renames, atStake: plan.atStake };
        const against = plan.baseline === "migrations" ? "the schema the migrations make" : "the database schema";
        if (plan.up.length === 0) {
          if (json) out(JSON.stringify({ file: null, ...result }));
          else out(`No difference between the entities and ${against}: nothing written.`);
          return;
        }
        const file = writeMigration(settings.migrations, name, plan.up, plan.down, opts.ts === true);
        if (json) {
          out(JSON.stringify({ file, ...result }));
          return;
        }
        out(`Created ${path.relative(process.cwd(), file) || file} with ${plan.changes.length} change${plan.changes.length === 1 ? "" : "s"}:`);
        for (const change of plan.changes) out(`  ${change}`);
        for (const s of plan.atStake) {
          out(
            s.rows === 0
              ? `Dropping ${s.table}.${s.column}: no row of the database holds a value in it.`
              : `Dropping ${s.table}.${s.column} loses the values of ${s.rows} row${s.rows === 1 ? "" : "s"} (--allow-data-loss).`,
          );
        }
      });
    });
}
