/**
 * PostgreSQL cases of issue 3: findById against a raw parameterized pg query and TypeORM's findOneBy, on
 * the same table of a database made for the run (and dropped after). Skips, saying why, without STRATA_PG_URL.
 */
import pg from "pg";
import { Column, DataSource, Entity, PrimaryColumn } from "typeorm";
import { createStorage } from "../../src/index.js";
import type { BenchGroup } from "../harness.js";
import { createBenchDatabase } from "../bench-database.js";

@Entity("bench_pg_items")
class PgItem {
  @PrimaryColumn({ type: "integer" }) id: number;
  @Column({ type: "varchar" }) name: string;
  @Column({ type: "integer" }) quantity: number;
  @Column({ type: "double precision" }) price: number;
  @Column({ type: "boolean" }) active: boolean;
  @Column({ type: "varchar", nullable: true }) note: string | null;
}

const ROWS = 10_000;

export default async function postgresBench(): Promise<BenchGroup> {
  const database = await createBenchDatabase("pg", "postgres bench");
  if (!database) return { pairs: [], close: async () => {} };
  const url = new URL(database.url);

  const storage = await createStorage({ url: url.href, entities: [PgItem], autoCreate: true });
  const items = storage.repository(PgItem);
  await items.saveMany(Array.from({ length: ROWS }, (_, id) => ({ id, name: `item ${id}`, quantity: id % 17, price: id * 1.5, active: id % 2 === 0, note: null })));
  const pool = new pg.Pool({ connectionString: url.href, max: 10 });
  // A connection whose backend outlives pool.end() is terminated by DROP DATABASE ... WITH (FORCE).
  pool.on("error", () => {});
  const typeorm = new DataSource({ type: "postgres", url: url.href, entities: [PgItem], synchronize: false, logging: false });
  await typeorm.initialize();
  const typeormItems = typeorm.getRepository(PgItem);

  let i = 0;
  return {
    pairs: [
      {
        name: "postgres.findById",
        anchor: "pg pool.query parameterized",
        minRatio: 0.8,
        run: () => items.findById(i++ % ROWS),
        anchorRun: () => pool.query(`SELECT id, name, quantity, price, active, note FROM bench_pg_items WHERE id = $1`, [i++ % ROWS]),
      },
      {
        name: "postgres.findById",
        anchor: "TypeORM repository.findOneBy",
        minRatio: 2,
        run: () => items.findById(i++ % ROWS),
        anchorRun: () => typeormItems.findOneBy({ id: i++ % ROWS }),
      },
    ],
    close: async () => {
      await typeorm.destroy();
      await pool.end();
      await storage.close();
      await database.drop();
    },
  };
}
