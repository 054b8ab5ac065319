/**
 * memory.findById against its anchor, an awaited Map.get plus a shallow copy; and a small page ordered by an
 * unindexed column over 100,000 rows against better-sqlite3 running the same query on the same rows (both
 * must select the page without sorting every row).
 */
import Database from "better-sqlite3";
import { createStorage } from "../../src/index.js";
import { BenchItem, benchRow } from "../bench-items.js";
import type { BenchGroup } from "../harness.js";

const ROWS = 10_000;
const PAGE_ROWS = 100_000;

export default async function memoryBench(): Promise<BenchGroup> {
  const storage = await createStorage({ url: "memory:", entities: [BenchItem] });
  const items = storage.repository(BenchItem);
  const map = new Map<number, Record<string, unknown>>();
  const rows = Array.from({ length: ROWS }, (_, i) => benchRow(i));
  await items.saveMany(rows);
  for (const row of rows) map.set(row.id, row);

  // Prices in a scrambled order (i * 7919 mod n is a permutation), so neither side meets its rows presorted.
  const pageRows = Array.from({ length: PAGE_ROWS }, (_, i) => ({ ...benchRow(i), price: ((i * 7919) % PAGE_ROWS) * 1.5 }));
  const big = await createStorage({ url: "memory:", entities: [BenchItem], cache: false });
  const bigItems = big.repository(BenchItem);
  await bigItems.saveMany(pageRows);
  const sqlite = new Database(":memory:");
  sqlite.exec("CREATE TABLE bench_items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, quantity INTEGER NOT NULL, price REAL NOT NULL, active INTEGER NOT NULL, note TEXT)");
  const insert = sqlite.prepare("INSERT INTO bench_items VALUES (?, ?, ?, ?, ?, ?)");
  sqlite.transaction(() => {
    for (const r of pageRows) insert.run(r.id, r.name, r.quantity, r.price, r.active ? 1 : 0, r.note);
  })();
  const topByPrice = sqlite.prepare("SELECT * FROM bench_items ORDER BY price DESC, id ASC LIMIT 10");

  const pageIds = Array.from({ length: 1_000 }, (_, k) => k * 7);
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
      {
        name: "memory.findAll top 10 (100k, unindexed)",
        anchor: "better-sqlite3, same query, no index",
        minRatio: 1,
        run: () => bigItems.findAll({ orderBy: { price: "desc" }, limit: 10 }),
        anchorRun: async () => (await Promise.resolve(topByPrice.all())).map((row) => ({ ...(row as object) })),
      },
      {
        name: "memory.findAll select 1 of 6 (1,000 ids)",
        anchor: "memory.findAll every column (1,000 ids)",
        run: () => items.findAll({ where: { id: { $in: pageIds } }, select: ["name"] }),
        anchorRun: () => items.findAll({ where: { id: { $in: pageIds } } }),
      },
    ],
    close: async () => {
      sqlite.close();
      await big.close();
      await storage.close();
    },
  };
}
