/**
 * Measures the heap a loaded file-backend table takes per row, for a typical entity (a few strings, an
 * integer, a date, a small json), and per byte of its snapshot: the figures the README states and the
 * file backend's heap check (HEAP_BYTES_PER_FILE_BYTE in file-backend.ts) rests on. Then the same rows
 * written into the memory backend (`memory`: heap per row, and per byte of the file backend's snapshot of them).
 * Run: npm run build && node --expose-gc dist/bench/heap-per-row.js [rows]
 */
import "reflect-metadata";
import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Column, Entity, PrimaryColumn } from "typeorm";
import { createStorage } from "../src/index.js";

@Entity("typical")
class Typical {
  @PrimaryColumn({ type: "string" }) id: string;
  @Column({ type: "string" }) name: string;
  @Column({ type: "string" }) email: string;
  @Column({ type: "string", nullable: true }) note: string | null;
  @Column({ type: "integer" }) count: number;
  @Column({ type: "datetime" }) createdAt: Date;
  @Column({ type: "simple-json" }) tags: unknown;
}

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with node --expose-gc");
const rows = Number(process.argv[2] ?? 200_000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "strata-heap-"));
/** Writes the table in a scope of its own, so that nothing of the writer stays reachable. */
function typicalRows(): Typical[] {
  const batch: Typical[] = [];
  for (let i = 0; i < rows; i++) {
    batch.push({
      id: `user-${i.toString().padStart(8, "0")}`,
      name: `Person number ${i}`,
      email: `person${i}@example.com`,
      note: i % 3 ? `note ${i}` : null,
      count: i * 13,
      createdAt: new Date(Date.UTC(2026, 0, 1) + i * 1000),
      tags: { role: i % 2 ? "admin" : "user", level: i % 10, flags: ["a", "b"] },
    });
  }
  return batch;
}

async function writeTable(): Promise<void> {
  const writer = await createStorage({ url: `file:${dir}`, entities: [Typical], autoCreate: true, file: { fsync: "never", compactAfterBytes: 1 << 30 } });
  await writer.repository(Typical).saveMany(typicalRows());
  await writer.close();
}

try {
  await writeTable();
  const bytes = fs.statSync(path.join(dir, "typical.table.json")).size;
  gc();
  const before = process.memoryUsage().heapUsed;
  const reader = await createStorage({ url: `file:${dir}`, entities: [Typical], file: { fsync: "never" } });
  gc();
  const after = process.memoryUsage().heapUsed;
  const perRow = (after - before) / rows;
  console.log(JSON.stringify({ backend: "file", rows, snapshotBytes: bytes, bytesPerRowOnDisk: Math.round(bytes / rows), heapBytesPerRow: Math.round(perRow), heapPerFileByte: +((after - before) / bytes).toFixed(2) }));
  await reader.close();

  gc();
  const memoryBefore = process.memoryUsage().heapUsed;
  const memory = await createStorage({ url: "memory:", entities: [Typical], cache: false });
  await memory.repository(Typical).saveMany(typicalRows());
  gc();
  const memoryAfter = process.memoryUsage().heapUsed;
  const memoryPerRow = (memoryAfter - memoryBefore) / rows;
  console.log(JSON.stringify({ backend: "memory", rows, heapBytesPerRow: Math.round(memoryPerRow), heapPerFileByte: +((memoryAfter - memoryBefore) / bytes).toFixed(2) }));
  await memory.close();
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
