/** What the `strata` commands print: lines on stdout and stderr, aligned tables, migration status and results. */
import type { MigrationResult, MigrationStatus } from "../migrations/migration-runner.js";

/** A line on stdout (the result; JSON with `--json`). */
export const out = (text: string) => process.stdout.write(`${text}\n`);
/** A line on stderr (warnings, progress, errors). */
export const err = (text: string) => process.stderr.write(`${text}\n`);

/** A plain text table with aligned columns. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** The output of `status` and `validate`. */
export function printStatus(status: MigrationStatus[], json: boolean): void {
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

/** The output of `up` and `down`; `verb` names what there was nothing to do. */
export function printResults(results: MigrationResult[], json: boolean, verb: string): void {
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
