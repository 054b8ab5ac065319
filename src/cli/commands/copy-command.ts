/** `strata copy --from URL --to URL [--force] [--batch-size N]`: every table and the migration history, verified. */
import type { Command } from "commander";
import { copyStorage } from "../../copy/copy-storage.js";
import { err, out, table } from "../cli-output.js";
import { jsonOf, open, settingsOf, version } from "../command-context.js";

/** Adds `copy` to the program. */
export function copyCommand(program: Command): Command {
  return program
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
}
