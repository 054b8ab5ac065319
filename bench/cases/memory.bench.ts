/** memory.findById against its anchor: an awaited Map.get plus a shallow copy. */
import { createStorage } from "../../src/index.js";
import { BenchItem, benchRow } from "../bench-items.js";
import type { BenchGroup } from "../harness.js";

const ROWS = 10_000;

export default async function memoryBench(): Promise<BenchGroup> {
  const storage = await createStorage({ url: "memory:", entities: [BenchItem] });
  const items = storage.repository(BenchItem);
  const map = new Map<number, Record<string, unknown>>();
  const rows = Array.from({ length: ROWS }, (_, i) => benchRow(i));
  await items.saveMany(rows);
  for (const row of rows) map.set(row.id, row);
  let i = 0;
  return {
    pairs: [
      {
        name: "memory.findById",
        anchor: "awaited Map.get + shallow copy",
        minRatio: 0.3,
        run: () => items.findById(i++ % ROWS),
        anchorRun: async () => {
          const row = await Promise.resolve(map.get(i++ % ROWS));
          return row ? { ...row } : null;
        },
      },
    ],
    close: () => storage.close(),
  };
}
