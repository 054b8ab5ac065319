/**
 * The file backend against its anchors (issue 4):
 * - `file.save` (durable, one row) vs raw fdatasync'd 200-byte appends on the same disk: the cost of a
 *   commit should be the flush, not Strata;
 * - `file.save@50k` vs `file.save@500`: a write costs the same whatever the table holds (lowdb rewrites it all);
 * - `file.findById` vs `memory.findById`: reads come from the same table engine;
 * - `file.open`: rows per second loading a 100,000-row directory (snapshot + journal replay).
 */
import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createStorage } from "../../src/index.js";
import type { Storage } from "../../src/index.js";
import { BenchItem, benchRow } from "../bench-items.js";
import type { BenchGroup } from "../harness.js";

const item = benchRow;

async function filled(dir: string, rows: number, durable = true): Promise<Storage> {
  const storage = await createStorage({ url: `file:${dir}`, entities: [BenchItem], autoCreate: true, file: { fsync: durable ? "always" : "never" } });
  const repo = storage.repository(BenchItem);
  for (let start = 0; start < rows; start += 10_000) {
    await repo.saveMany(Array.from({ length: Math.min(10_000, rows - start) }, (_, i) => item(start + i)));
  }
  return storage;
}

export default async function fileBench(): Promise<BenchGroup> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "strata-bench-file-"));
  const opened: Storage[] = [];
  const at = (name: string) => path.join(root, name);

  // file.open: build 100,000 rows, close (which compacts them into the snapshot), time the reopen.
  const OPEN_ROWS = 100_000;
  await (await filled(at("open"), OPEN_ROWS, false)).close();
  const started = performance.now();
  const reopened = await createStorage({ url: `file:${at("open")}`, entities: [BenchItem] });
  const openMs = performance.now() - started;
  if ((await reopened.repository(BenchItem).count()) !== OPEN_ROWS) throw new Error("file.open: rows missing after reopen");
  await reopened.close();

  const small = await filled(at("small"), 500);
  const large = await filled(at("large"), 50_000);
  const reads = await filled(at("reads"), 10_000);
  const memory = await createStorage({ url: "memory:", entities: [BenchItem] });
  opened.push(small, large, reads, memory);
  await memory.repository(BenchItem).saveMany(Array.from({ length: 10_000 }, (_, i) => item(i)));
  const smallRepo = small.repository(BenchItem);
  const largeRepo = large.repository(BenchItem);
  const readRepo = reads.repository(BenchItem);
  const memoryRepo = memory.repository(BenchItem);

  // The anchor: what any durable append costs on this disk.
  const rawFd = fs.openSync(at("raw.log"), "a");
  const record = Buffer.alloc(200, "x");
  record[199] = 10;

  let n = 0;
  const save = (repo: typeof smallRepo, rows: number) => () => repo.save({ ...item(n++ % rows), note: `n${n}` });
  let r = 0;
  return {
    pairs: [
      {
        name: "file.save",
        anchor: "raw 200-byte append + fdatasync",
        minRatio: 0.5,
        run: save(smallRepo, 500),
        anchorRun: () => {
          fs.writeSync(rawFd, record);
          fs.fdatasyncSync(rawFd);
        },
      },
      { name: "file.save@50k", anchor: "file.save@500", minRatio: 0.67, run: save(largeRepo, 50_000), anchorRun: save(smallRepo, 500) },
      { name: "file.findById", anchor: "memory.findById", minRatio: 0.5, run: () => readRepo.findById(r++ % 10_000), anchorRun: () => memoryRepo.findById(r++ % 10_000) },
    ],
    figures: [{ name: "file.open (100,000 rows)", value: OPEN_ROWS / (openMs / 1000), unit: "rows/s" }],
    async close() {
      fs.closeSync(rawFd);
      for (const s of opened) await s.close();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}
