/**
 * Times `repo.iterate` over every row ordered by an unindexed column, at N and 2N rows, on the sqlite (a
 * WAL file), memory and file backends, beside better-sqlite3's own `.iterate()` of the same ORDER BY, and
 * on postgres (with STRATA_PG_URL, in a database made for the run) beside a pg cursor: the README's "Cost"
 * figures, and the check that doubling the rows at most doubles the time of the walk.
 * Run: npm run build && node dist/bench/iterate-scaling.js [rows] [backends, e.g. sqlite,memory,postgres]
 */
import "reflect-metadata";
import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { createStorage } from "../src/index.js";
import type { BenchDatabase } from "./bench-database.js";
import { createBenchDatabase } from "./bench-database.js";

@Entity("walked")
class Walked {
  @PrimaryColumn({ type: "integer" }) id: number;
  @Column({ type: "string" }) name: string;
  @Index()
  @Column({ type: "integer" }) rank: number;
  /** Unindexed: the order the walk is timed in. */
  @Column({ type: "number" }) score: number;
}

const rows = Number(process.argv[2] ?? 200_000);
const backends = (process.argv[3] ?? "sqlite,memory,file").split(",");
const pageSize = 500;

function makeRows(count: number): Walked[] {
  // A fixed pseudo-random sequence: the same rows in every run.
  let seed = 42;
  const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
  return Array.from({ length: count }, (_, i) => ({ id: i + 1, name: `row ${i}`, rank: Math.floor(next() * 1000), score: next() }));
}

/** A database of its own on the STRATA_PG_URL server, dropped by the returned function. */
async function postgresDatabase(): Promise<BenchDatabase> {
  const database = await createBenchDatabase("walk", "postgres walks");
  if (!database) throw new Error("postgres needs STRATA_PG_URL (e.g. postgres://postgres@127.0.0.1:5432/test)");
  return database;
}

/** Every row of `text` through a pg cursor, 1000 a fetch, as the cities bench's anchor reads them. */
async function cursorWalk(url: string, text: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query("BEGIN");
    await client.query(`DECLARE walk NO SCROLL CURSOR FOR ${text}`);
    let n = 0;
    for (let rowCount = 1; rowCount > 0; n += rowCount) rowCount = (await client.query("FETCH 1000 FROM walk")).rowCount ?? 0;
    await client.query("COMMIT");
    return n;
  } finally {
    await client.end();
  }
}

async function timeWalk(backend: string, count: number, dir: string): Promise<void> {
  const database = backend === "postgres" ? await postgresDatabase() : undefined;
  const url = database?.url ?? (backend === "sqlite" ? `sqlite:${path.join(dir, `${count}.db`)}` : backend === "file" ? `file:${path.join(dir, `files-${count}`)}` : "memory:");
  const storage = await createStorage({ url, entities: [Walked], autoCreate: true, cache: false });
  const repo = storage.repository(Walked);
  await repo.saveMany(makeRows(count), { chunkSize: 5000 });
  let started = performance.now();
  let n = 0;
  for await (const _ of repo.iterate({ orderBy: { score: "desc" } }, { pageSize })) n++;
  const strataMs = performance.now() - started;
  let line = `${backend.padEnd(7)} ${String(count).padStart(8)} rows: iterate by an unindexed column ${(strataMs / 1000).toFixed(2)} s (${Math.round(n / (strataMs / 1000))} rows/s)`;
  await storage.close();
  if (backend === "sqlite") {
    const raw = new Database(path.join(dir, `${count}.db`), { readonly: true });
    started = performance.now();
    n = 0;
    for (const _ of raw.prepare("SELECT id, name, rank, score FROM walked ORDER BY score DESC NULLS LAST, id").iterate()) n++;
    const rawMs = performance.now() - started;
    raw.close();
    line += `; better-sqlite3 .iterate() ${(rawMs / 1000).toFixed(2)} s, ratio ${(rawMs / strataMs).toFixed(2)}`;
  }
  if (database) {
    started = performance.now();
    await cursorWalk(database.url, `SELECT id, name, rank, score FROM walked ORDER BY score DESC NULLS LAST, id`);
    const rawMs = performance.now() - started;
    line += `; pg cursor ${(rawMs / 1000).toFixed(2)} s, ratio ${(rawMs / strataMs).toFixed(2)}`;
    await database.drop();
  }
  console.log(line);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "strata-iterate-scaling-"));
try {
  for (const backend of backends) for (const count of [rows / 2, rows]) await timeWalk(backend, count, dir);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
