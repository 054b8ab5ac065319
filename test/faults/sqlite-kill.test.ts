/**
 * SIGKILL at random moments while a child process commits transactions of adversarial strings to SQLite,
 * in journal modes wal and delete. After every kill: each acknowledged transaction is there exactly, no
 * transaction is there in part, and the file passes `PRAGMA integrity_check`.
 */
import "reflect-metadata";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { createInterface } from "node:readline";
import Database from "better-sqlite3";
import { afterAll, describe, expect, test } from "vitest";
import { createStorage } from "../../src/index.js";
import { sharedRow, transactionRows } from "../fixtures/adversarial-rows.js";
import { Thing } from "../fixtures/sql-entities.js";
import { backendSelected } from "../sql/sql-backend-cases.js";

const KILLS_PER_MODE = 5;
const dir = mkdtempSync(path.join(tmpdir(), "strata-sqlite-kill-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A deterministic pseudo-random sequence (mulberry32), so that a failing run can be replayed from its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Runs the writer from transaction `start` and SIGKILLs it once it has acknowledged `acks` commits plus
 * `extraMs` more (so the kill lands anywhere inside a transaction). Returns the last acknowledged number.
 */
async function writeAndKill(file: string, journalMode: string, start: number, acks: number, extraMs: number): Promise<number> {
  const child = spawn(process.execPath, [path.resolve("dist/test/fixtures/sqlite-kill-writer.js"), file, journalMode, String(start)], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let last = start - 1;
  let seen = 0;
  await new Promise<void>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      if (!line.startsWith("ack ")) return;
      last = Number(line.slice(4));
      if (++seen === acks) setTimeout(() => (child.kill("SIGKILL"), resolve()), extraMs);
    });
    void exited.then(() => (seen < acks ? reject(new Error(`the writer exited before ${acks} commits: ${stderr}`)) : resolve()));
  });
  await exited;
  return last;
}

/** Checks the file after a kill and returns the last committed transaction. */
async function verify(file: string, journalMode: "wal" | "delete", lastAcknowledged: number): Promise<number> {
  const storage = await createStorage({ url: `sqlite:${file}`, entities: [Thing], sqlite: { journalMode } });
  let committed: number;
  try {
    const stored = new Map((await storage.repository(Thing).findAll()).map((t) => [t.id, t]));
    const shared = stored.get(sharedRow(0).id);
    committed = shared?.rank ?? 0;
    // The last commit may have landed after the last acknowledgement, never more than one.
    expect(committed).toBeGreaterThanOrEqual(lastAcknowledged);
    expect(committed).toBeLessThanOrEqual(lastAcknowledged + 1);
    expect(shared).toEqual(sharedRow(committed));
    let expectedRows = 1;
    for (let n = 1; n <= committed; n++) {
      for (const row of transactionRows(n)) {
        expect(stored.get(row.id), `row ${JSON.stringify(row.id)} of transaction ${n}`).toEqual(row);
        expectedRows++;
      }
    }
    // Nothing of a later transaction: no half of the one the kill interrupted.
    expect(stored.size).toBe(expectedRows);
  } finally {
    await storage.close();
  }
  const probe = new Database(file, { readonly: true });
  try {
    expect(probe.pragma("integrity_check", { simple: true })).toBe("ok");
  } finally {
    probe.close();
  }
  return committed;
}

describe.skipIf(!backendSelected("sqlite"))("sqlite: SIGKILL while writing adversarial strings", () => {
  for (const journalMode of ["wal", "delete"] as const) {
    test.concurrent(`journal mode ${journalMode}: ${KILLS_PER_MODE} kills, every acknowledged commit kept exactly, no half transaction, integrity_check ok`, async () => {
      const seed = Number(process.env["STRATA_FAULT_SEED"] ?? Date.now() % 100_000);
      const next = random(seed);
      const file = path.join(dir, `${journalMode}.sqlite`);
      let committed = 0;
      let survived = 0;
      for (let kill = 0; kill < KILLS_PER_MODE; kill++) {
        const acks = 1 + Math.floor(next() * 12);
        const extraMs = Math.floor(next() * 8);
        const last = await writeAndKill(file, journalMode, committed + 1, acks, extraMs);
        committed = await verify(file, journalMode, last);
        survived++;
      }
      console.log(`sqlite ${journalMode}: ${survived} kills survived, ${committed} transactions committed (seed ${seed})`);
      expect(survived).toBe(KILLS_PER_MODE);
    }, 120_000); // most of it is starting the child process, seconds each on a loaded machine
  }
});
