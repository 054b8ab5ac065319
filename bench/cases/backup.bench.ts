/**
 * Issue 16: write throughput on SQLite while an automatic backup of a 100 MB database runs, against the same
 * writes with no backup running (goal: >= 0.7x). The case's iterations each make sure a backup is under way
 * (one is started, outside the timed part, whenever none is running), so every timed save competes with one:
 * its online-backup steps, its checksums and fsyncs, its integrity check (in a worker thread). The anchor's
 * iterations first wait for the running backup to end, outside the timed part.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
import { createStorage } from "../../src/index.js";
import { coreOf } from "../../src/storage-core.js";
import { SqlBenchItem, benchRow } from "../bench-items.js";
import type { BenchGroup } from "../harness.js";

/** 100,000 rows of about 1 KB: a database of about 100 MB (reported as a figure). */
const ROWS = 100_000;
const NOTE = "n".repeat(1000);

export default async function backupBench(): Promise<BenchGroup> {
  const dir = mkdtempSync(path.join(tmpdir(), "strata-bench-backup-"));
  const file = path.join(dir, "bench.db");
  // Filled with raw inserts in one transaction: building 100 MB through the repository would only slow the setup.
  const seed = await createStorage({ url: `sqlite:${file}`, entities: [SqlBenchItem], autoCreate: true });
  await seed.close();
  const raw = new Database(file);
  const insert = raw.prepare(`INSERT INTO bench_sql_items (id, name, quantity, price, active, note) VALUES (?, ?, ?, ?, ?, ?)`);
  raw.transaction(() => {
    for (let i = 0; i < ROWS; i++) {
      const r = benchRow(i);
      insert.run(r.id, r.name, r.quantity, r.price, r.active ? 1 : 0, NOTE);
    }
  })();
  raw.pragma("wal_checkpoint(TRUNCATE)");
  const sizeMb = (raw.prepare("SELECT page_count * page_size AS bytes FROM pragma_page_count(), pragma_page_size()").get() as { bytes: number }).bytes / 1e6;
  raw.close();

  const storage = await createStorage({ url: `sqlite:${file}`, entities: [SqlBenchItem], backup: { enabled: true, keep: 1, dir: path.join(dir, "generations") } });
  const items = storage.repository(SqlBenchItem);
  const backups = coreOf(storage).backups!;
  let running: Promise<unknown> | undefined;
  let backupsMade = 0;
  let next = 10_000_000;
  const save = () => items.save({ ...benchRow(next), id: next++, note: "written during the bench" });

  return {
    pairs: [
      {
        name: `sqlite.save during a backup (${Math.round(sizeMb)} MB)`,
        anchor: "sqlite.save, no backup running",
        minRatio: 0.7,
        beforeRun: () => {
          running ??= backups.create("manual").then(
            () => ((running = undefined), backupsMade++),
            () => (running = undefined),
          );
        },
        run: save,
        beforeAnchorRun: () => running,
        anchorRun: save,
      },
    ],
    figures: [
      { name: "sqlite backup bench: database size", value: Math.round(sizeMb), unit: "MB" },
      // Read when the results are written, after the pairs ran.
      {
        name: "sqlite backup bench: backups completed during the case",
        get value() {
          return backupsMade;
        },
        unit: "backups",
      },
    ],
    async close() {
      await running;
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
