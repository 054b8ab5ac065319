/**
 * The benchmark harness: each case runs beside its anchor (the raw driver, raw lru-cache, TypeORM's own
 * repository, ...) in the same process, interleaved, and the ratio case/anchor is what we judge.
 * A case module in `bench/cases/` default-exports a function returning a {@link BenchGroup}.
 */

/** One case and the anchor it is measured against. */
export interface BenchPair {
  /** e.g. `"sqlite.findById"`; the same case may appear with several anchors. */
  name: string;
  /** What the anchor is, e.g. `"better-sqlite3 prepared get"`. */
  anchor: string;
  /** The ratio (case ops/s over anchor ops/s) the issue asks for, e.g. 0.5; a ratio of "at most" is `maxRatio`. */
  minRatio?: number;
  /**
   * Timed runs of each side per round (tinybench's `iterations`, default 64, which it runs even past the
   * round's time), and one warm-up run: for a case whose one run takes seconds (a walk of 100,000 rows).
   */
  iterations?: number;
  /**
   * Measure each side by its runs over their total time (tinybench's `period`) rather than by the mean of the
   * runs' rates (the default): for a case that rotates through inputs of very different cost (a 100 µs search
   * and a 4 ms one), whose mean of rates the cheap inputs decide alone.
   */
  byTotalTime?: boolean;
  /** For flat-cost checks where the case must not be slower than the anchor by more than 1/ratio. */
  run(): unknown;
  anchorRun(): unknown;
  /** Runs before each iteration of `run`, outside the timed part (e.g. re-inserting what `run` deletes). */
  beforeRun?(): unknown;
  /** Runs before each iteration of `anchorRun`, outside the timed part. */
  beforeAnchorRun?(): unknown;
}

/** A set of pairs sharing setup; `close` releases what the setup opened. */
export interface BenchGroup {
  pairs: BenchPair[];
  /** Figures that are not ratios (e.g. rows per second on open), reported as they are. */
  figures?: { name: string; value: number; unit: string }[];
  close(): Promise<void>;
}

export type BenchModule = { default: () => Promise<BenchGroup> };

/** One row of `bench/results.json`. */
export interface BenchResult {
  name: string;
  opsPerSec: number;
  anchor: string;
  anchorOpsPerSec: number;
  ratio: number;
  minRatio?: number;
  ok?: boolean;
}
