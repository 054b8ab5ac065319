/**
 * `npm run bench`: runs every case module in bench/cases (or those named in BENCH=memory,sqlite), each case
 * interleaved with its anchor in this process, and writes bench/results.json plus a table.
 *
 * bench/results.json is the last recorded run, overwritten by each run, and labelled as such: when it ran
 * (`recordedAt`), on what (`machine`), which case files (`ran`: those BENCH picked, else "all"). A BENCH
 * that picks no case file is an error and leaves the file as it is. The README's ratios are copied from
 * such a run; they are measurements, not a target the file is checked against.
 */
import "reflect-metadata";
import { readdirSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Bench } from "tinybench";
import type { BenchModule, BenchResult } from "./harness.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const only = process.env["BENCH"]?.split(",").filter(Boolean);
const timeMs = Number(process.env["BENCH_TIME_MS"] ?? 400);

async function measure(run: () => unknown, anchorRun: () => unknown): Promise<[number, number]> {
  // Interleave case and anchor in rounds so that drift (GC, CPU frequency, the other core) hits both alike.
  const totals = [0, 0];
  for (let round = 0; round < 3; round++) {
    const bench = new Bench({ time: timeMs / 3, warmup: true, warmupTime: 50 });
    bench.add("case", async () => void (await run())).add("anchor", async () => void (await anchorRun()));
    await bench.run();
    bench.tasks.forEach((task, i) => {
      const result = task.result as { state: string; error?: unknown; throughput?: { mean: number } } | undefined;
      if (result?.state === "errored") throw result.error;
      totals[i]! += result?.throughput?.mean ?? 0;
    });
  }
  return [totals[0]! / 3, totals[1]! / 3];
}

async function main(): Promise<void> {
  const casesDir = path.join(here, "cases");
  const files = readdirSync(casesDir)
    .filter((f) => f.endsWith(".bench.js"))
    .filter((f) => !only || only.some((o) => f.startsWith(`${o}.`)))
    .sort();
  if (files.length === 0) {
    // Writing an empty run would replace the last recorded one with nothing.
    const groups = readdirSync(casesDir).filter((f) => f.endsWith(".bench.js")).map((f) => f.slice(0, -".bench.js".length));
    throw new Error(`BENCH=${process.env["BENCH"] ?? ""} picks no case file (the groups: ${groups.join(", ")}); bench/results.json is left as it was`);
  }
  const results: BenchResult[] = [];
  const figures: { name: string; value: number; unit: string }[] = [];
  for (const file of files) {
    const module = (await import(pathToFileURL(path.join(casesDir, file)).href)) as BenchModule;
    const group = await module.default();
    try {
      figures.push(...(group.figures ?? []));
      for (const pair of group.pairs) {
        const [opsPerSec, anchorOpsPerSec] = await measure(pair.run, pair.anchorRun);
        const ratio = anchorOpsPerSec > 0 ? opsPerSec / anchorOpsPerSec : 0;
        const row: BenchResult = { name: pair.name, opsPerSec: Math.round(opsPerSec), anchor: pair.anchor, anchorOpsPerSec: Math.round(anchorOpsPerSec), ratio: Number(ratio.toFixed(3)) };
        if (pair.minRatio !== undefined) Object.assign(row, { minRatio: pair.minRatio, ok: ratio >= pair.minRatio });
        results.push(row);
        console.log(
          `${pair.name.padEnd(34)} ${String(row.opsPerSec).padStart(10)} ops/s   vs ${pair.anchor.padEnd(40)} ${String(row.anchorOpsPerSec).padStart(10)} ops/s   ratio ${row.ratio.toFixed(3)}${pair.minRatio !== undefined ? `  (goal >= ${pair.minRatio}: ${row.ok ? "met" : "NOT met"})` : ""}`,
        );
      }
    } finally {
      await group.close();
    }
  }
  for (const f of figures) console.log(`${f.name.padEnd(34)} ${f.value.toFixed(0)} ${f.unit}`);
  const out = path.join(here, "..", "..", "bench", "results.json");
  const cpus = os.cpus();
  const recorded = {
    note: "The last recorded run of `npm run bench`, overwritten by each run: ratios move by about 0.1 from run to run on a 2-core machine",
    recordedAt: new Date().toISOString(),
    machine: { node: process.version, platform: `${os.platform()} ${os.release()}`, arch: os.arch(), cpus: `${cpus.length} x ${cpus[0]?.model.trim() ?? "unknown"}` },
    ran: only ? files : "all",
    cases: results,
    figures,
  };
  writeFileSync(out, `${JSON.stringify(recorded, null, 2)}\n`);
  console.log(`\nwrote ${path.relative(process.cwd(), out)}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
