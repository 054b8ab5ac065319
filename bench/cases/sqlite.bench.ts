/**
 * SQLite cases of issue 3, each beside its anchor on the same file: findById against a raw prepared
 * better-sqlite3 get and TypeORM's findOneBy, saveMany of 20,000 rows against raw prepared inserts in one
 * transaction (also of 20,000 eight-column rows with a Date, a json value and a version), and an autocommit
 * save against a raw autocommit insert (WAL, synchronous=NORMAL). Issue 11:
 * iterate over all 10,000 rows in pages of 500 (by keyset) against one raw SELECT of the same rows in the
 * same order, streamed: by the primary key (each page an index seek) and by an unindexed column (each page a
 * scan of the table, with a top-500 sort instead of OFFSET's sort of every row before the page).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
import { DataSource } from "typeorm";
import { createStorage } from "../../src/index.js";
import { SqlBenchItem, WideItem, benchRow, wideRow } from "../bench-items.js";
import type { BenchGroup } from "../harness.js";

const ROWS = 10_000;
const BATCH = 20_000;
const item = benchRow;

export default async function sqliteBench(): Promise<BenchGroup> {
  const dir = mkdtempSync(path.join(tmpdir(), "strata-bench-sqlite-"));
  const file = path.join(dir, "bench.db");
  const storage = await createStorage({ url: `sqlite:${file}`, entities: [SqlBenchItem, WideItem], autoCreate: true });
  const items = storage.repository(SqlBenchItem);
  await items.saveMany(Array.from({ length: ROWS }, (_, i) => item(i)));

  const raw = new Database(file);
  raw.pragma("journal_mode = WAL");
  raw.pragma("synchronous = NORMAL");
  raw.exec(`CREATE TABLE raw_items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, quantity INTEGER NOT NULL, price REAL NOT NULL, active INTEGER NOT NULL, note TEXT)`);
  const get = raw.prepare(`SELECT id, name, quantity, price, active, note FROM bench_sql_items WHERE id = ?`);
  const selectPage = raw.prepare(`SELECT id, name FROM bench_sql_items WHERE id >= ? ORDER BY id ASC LIMIT 200`);
  const scanById = raw.prepare(`SELECT id, name, quantity, price, active, note FROM bench_sql_items ORDER BY id`);
  const scanByPrice = raw.prepare(`SELECT id, name, quantity, price, active, note FROM bench_sql_items ORDER BY price DESC, id`);
  /** Reads every row of `query` through iterate, returning how many (so that nothing is optimized away). */
  const walk = async (query: Parameters<typeof items.iterate>[0]) => {
    let n = 0;
    for await (const row of items.iterate(query, { pageSize: 500 })) n += row.quantity >= 0 ? 1 : 0;
    return n;
  };
  const stream = (statement: Database.Statement) => {
    let n = 0;
    for (const row of statement.iterate() as Iterable<{ quantity: number }>) n += row.quantity >= 0 ? 1 : 0;
    return n;
  };
  const insert = raw.prepare(`INSERT INTO raw_items (id, name, quantity, price, active, note) VALUES (?, ?, ?, ?, ?, ?)`);
  const insertAll = raw.transaction((from: number) => {
    for (let id = from; id < from + BATCH; id++) {
      const r = item(id);
      insert.run(r.id, r.name, r.quantity, r.price, r.active ? 1 : 0, r.note);
    }
  });

  raw.exec(
    `CREATE TABLE raw_wide_items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, quantity INTEGER NOT NULL, price REAL NOT NULL, createdAt INTEGER NOT NULL, tags TEXT NOT NULL, version INTEGER NOT NULL)`,
  );
  const insertWide = raw.prepare(`INSERT INTO raw_wide_items (id, name, email, quantity, price, createdAt, tags, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
  const insertAllWide = raw.transaction((from: number) => {
    for (let id = from; id < from + BATCH; id++) {
      const r = wideRow(id);
      insertWide.run(r.id, r.name, r.email, r.quantity, r.price, r.createdAt.getTime(), JSON.stringify(r.tags), 1);
    }
  });
  const wideItems = storage.repository(WideItem);

  const typeorm = new DataSource({ type: "better-sqlite3", database: file, entities: [SqlBenchItem], synchronize: false, logging: false });
  await typeorm.initialize();
  const typeormItems = typeorm.getRepository(SqlBenchItem);

  let i = 0;
  let nextMany = ROWS;
  let nextRawMany = ROWS;
  let nextWide = 0;
  let nextRawWide = 0;
  let nextOne = 10_000_000;
  let nextRawOne = 10_000_000;
  return {
    // The iterate pairs come first: saveMany and save below add rows to the table they walk.
    pairs: [
      {
        name: "sqlite.iterate by key (10,000 rows)",
        anchor: "one raw SELECT ORDER BY id, streamed",
        run: () => walk({}),
        anchorRun: () => stream(scanById),
      },
      {
        name: "sqlite.iterate by unindexed column",
        anchor: "one raw SELECT ORDER BY price DESC, streamed",
        run: () => walk({ orderBy: { price: "desc" } }),
        anchorRun: () => stream(scanByPrice),
      },
      {
        name: "sqlite.findById",
        anchor: "better-sqlite3 prepared get",
        minRatio: 0.5,
        run: () => items.findById(i++ % ROWS),
        anchorRun: () => get.get(i++ % ROWS),
      },
      {
        name: "sqlite.findById",
        anchor: "TypeORM repository.findOneBy",
        minRatio: 5,
        run: () => items.findById(i++ % ROWS),
        anchorRun: () => typeormItems.findOneBy({ id: i++ % ROWS }),
      },
      {
        name: "sqlite.saveMany (20,000 rows)",
        anchor: "raw prepared inserts in one transaction",
        minRatio: 0.4,
        run: () => {
          const from = nextMany;
          nextMany += BATCH;
          return items.saveMany(Array.from({ length: BATCH }, (_, k) => item(from + k)));
        },
        anchorRun: () => {
          insertAll(nextRawMany);
          nextRawMany += BATCH;
        },
      },
      {
        name: "sqlite.saveMany (20,000 rows, 8 columns)",
        anchor: "raw prepared inserts in one transaction",
        minRatio: 0.5,
        run: () => {
          const from = nextWide;
          nextWide += BATCH;
          return wideItems.saveMany(Array.from({ length: BATCH }, (_, k) => wideRow(from + k)));
        },
        anchorRun: () => {
          insertAllWide(nextRawWide);
          nextRawWide += BATCH;
        },
      },
      {
        name: "sqlite.save (one row, autocommit)",
        anchor: "raw autocommit prepared insert",
        minRatio: 0.5,
        run: () => items.save(item(nextOne++)),
        anchorRun: () => {
          const r = item(nextRawOne++);
          insert.run(r.id, r.name, r.quantity, r.price, r.active ? 1 : 0, r.note);
        },
      },
      {
        name: "sqlite.findAll select 1 of 6 (200 rows)",
        anchor: "better-sqlite3 prepared all, same columns",
        run: () => items.findAll({ where: { id: { $gte: i++ % (ROWS - 200) } }, orderBy: { id: "asc" }, limit: 200, select: ["name"] }),
        anchorRun: () => selectPage.all(i++ % (ROWS - 200)),
      },
      {
        name: "sqlite.findAll select 1 of 6 (200 rows)",
        anchor: "sqlite.findAll every column (200 rows)",
        run: () => items.findAll({ where: { id: { $gte: i++ % (ROWS - 200) } }, orderBy: { id: "asc" }, limit: 200, select: ["name"] }),
        anchorRun: () => items.findAll({ where: { id: { $gte: i++ % (ROWS - 200) } }, orderBy: { id: "asc" }, limit: 200 }),
      },
    ],
    close: async () => {
      await typeorm.destroy();
      raw.close();
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
