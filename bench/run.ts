/**
 * `npm run bench`: runs every case module in bench/cases (or those named in BENCH=memory,sqlite), each in a
 * process of its own (so that one file's heap, such as the L1 test's million entities, does not slow the
 * cases after it) and each case interleaved with its anchor, and writes bench/results.json plus a table.
 *
 * bench/results.json is the last recorded run, overwritten by each run, and labelled as such: when it ran
 * (`recordedAt`), on what (`machine`), which case files (`ran`: those BENCH picked, else "all"). A BENCH
 * that picks no case file is an error and leaves the file as it is. The README's ratios are copied from
 * such a run; they are measurements, not a target the file is checked against.
 */
import "reflect-metadata";
import { spawnSync } from "node:child_process";
import { readdirSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Bench } from "tinybench";
import type { BenchModule, BenchPair, BenchResult } from "./harness.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const only = process.env["BENCH"]?.split(",").filter(Boolean);
const timeMs = Number(process.env["BENCH_TIME_MS"] ?? 400);

async function measure(pair: BenchPair): Promise<[number, number]> {
  // Interleave case and anchor in rounds so that drift (GC, CPU frequency, the other core) hits both alike.
  const totals = [0, 0];
  for (let round = 0; round < 3; round++) {
    const runs = pair.iterations === undefined ? {} : { iterations: pair.iterations, warmupIterations: 1 };
    const bench = new Bench({ time: timeMs / 3, warmup: true, warmupTime: 50, ...runs });
    // beforeEach hooks run outside the timed window of each iteration.
    const before = (setup: (() => unknown) | undefined) => (setup ? { beforeEach: async () => void (await setup()) } : {});
    bench
      .add("case", async () => void (await pair.run()), before(pair.beforeRun?.bind(pair)))
      .add("anchor", async () => void (await pair.anchorRun()), before(pair.beforeAnchorRun?.bind(pair)));
    await bench.run();
    bench.tasks.forEach((task, i) => {
      const result = task.result as { state: string; error?: unknown; throughput?: { mean: number }; period?: number } | undefined;
      if (result?.state === "errored") throw result.error;
      if (pair.byTotalTime) totals[i]! += result?.period ? 1000 / result.period : 0;
      else totals[i]! += result?.throughput?.mean ?? 0;
    });
  }
  return [totals[0]! / 3, totals[1]! / 3];
}

type Figure = { name: string; value: number; unit: string };
/** Set in a child's environment: the one case file it runs. */
const CHILD_FILE = "STRATA_BENCH_FILE";
/** Starts the line on which a child hands its results back. */
const REPORT = "BENCH_REPORT ";

/** In a child: runs the pairs of one case file, prints each as it is measured, then the report line. */
async function runCaseFile(file: string): Promise<void> {
  const results: BenchResult[] = [];
  const module = (await import(pathToFileURL(path.join(here, "cases", file)).href)) as BenchModule;
  const group = await module.default();
  try {
    for (const pair of group.pairs) {
      const [opsPerSec, anchorOpsPerSec] = await measure(pair);
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
  console.log(`${REPORT}${JSON.stringify({ results, figures: group.figures ?? [] })}`);
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
  const figures: Figure[] = [];
  for (const file of files) {
    const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url)], {
      env: { ...process.env, [CHILD_FILE]: file },
      stdio: ["ignore", "pipe", "inherit"],
      encoding: "utf8",
      maxBuffer: 64 * 2 ** 20,
    });
    const lines = (child.stdout ?? "").split("\n").filter(Boolean);
    for (const line of lines) if (!line.startsWith(REPORT)) console.log(line);
    const report = lines.find((line) => line.startsWith(REPORT));
    if (child.status !== 0 || report === undefined) throw new Error(`bench/cases/${file} failed (exit ${child.status ?? child.signal})`);
    const done = JSON.parse(report.slice(REPORT.length)) as { results: BenchResult[]; figures: Figure[] };
    results.push(...done.results);
    figures.push(...done.figures);
  }
  // Figures under 10 (ms of an overhead) keep two decimals: rounded to a whole number they would read 0.
  for (const f of figures) console.log(`${f.name.padEnd(34)} ${f.value < 10 ? f.value.toFixed(2) : f.value.toFixed(0)} ${f.unit}`);
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

const childFile = process.env[CHILD_FILE];
(childFile ? runCaseFile(childFile) : main()).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
