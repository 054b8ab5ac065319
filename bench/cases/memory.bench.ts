/** memory.findById against its anchor: an awaited Map.get plus a shallow copy. */
import { Column, Entity, PrimaryColumn } from "typeorm";
import { createStorage } from "../../src/index.js";
import type { BenchGroup } from "../harness.js";

@Entity("bench_items")
class BenchItem {
  @PrimaryColumn({ type: "integer" }) id: number;
  @Column({ type: "string" }) name: string;
  @Column({ type: "integer" }) quantity: number;
  @Column({ type: "number" }) price: number;
  @Column({ type: "boolean" }) active: boolean;
  @Column({ type: "string", nullable: true }) note: string | null;
}

const ROWS = 10_000;

export default async function memoryBench(): Promise<BenchGroup> {
  const storage = await createStorage({ url: "memory:", entities: [BenchItem] });
  const items = storage.repository(BenchItem);
  const map = new Map<number, Record<string, unknown>>();
  const rows = Array.from({ length: ROWS }, (_, i) => ({ id: i, name: `item ${i}`, quantity: i % 17, price: i * 1.5, active: i % 2 === 0, note: null }));
  await items.saveMany(rows as BenchItem[]);
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
