/**
 * PostgreSQL cases of issue 3: findById against a raw parameterized pg query and TypeORM's findOneBy, on
 * the same table of a database made for the run (and dropped after). Issue 11: `iterate` over 100,000 rows
 * ordered by an unindexed column (a streamed walk: one server-side cursor) against a raw pg cursor of the
 * same ORDER BY, FETCH 1000 at a time. Skips, saying why, without STRATA_PG_URL.
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

@Entity("bench_pg_walked")
class PgWalked {
  @PrimaryColumn({ type: "integer" }) id: number;
  @Column({ type: "varchar" }) name: string;
  /** Unindexed: the order walked. */
  @Column({ type: "double precision" }) score: number;
}

const ROWS = 10_000;
const WALKED_ROWS = 100_000;
/** Rows a page of the walk, as the anchor's FETCH. */
const WALK_PAGE = 1000;

export default async function postgresBench(): Promise<BenchGroup> {
  const database = await createBenchDatabase("pg", "postgres bench");
  if (!database) return { pairs: [], close: async () => {} };
  const url = new URL(database.url);

  const storage = await createStorage({ url: url.href, entities: [PgItem, PgWalked], autoCreate: true });
  const items = storage.repository(PgItem);
  await items.saveMany(Array.from({ length: ROWS }, (_, id) => ({ id, name: `item ${id}`, quantity: id % 17, price: id * 1.5, active: id % 2 === 0, note: null })));
  const walked = storage.repository(PgWalked);
  // A fixed pseudo-random order: the same rows in every run.
  let seed = 42;
  const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
  await walked.saveMany(Array.from({ length: WALKED_ROWS }, (_, id) => ({ id, name: `row ${id}`, score: next() })), { chunkSize: 5000 });
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
      {
        name: `postgres.iterate ${WALKED_ROWS / 1000}k rows by an unindexed column`,
        anchor: `pg cursor, FETCH ${WALK_PAGE} at a time`,
        minRatio: 0.5,
        // A run takes a second or more: 3 of each side a round, not tinybench's 64.
        iterations: 3,
        run: async () => {
          let n = 0;
          for await (const _ of walked.iterate({ orderBy: { score: "desc" } }, { pageSize: WALK_PAGE })) n++;
          if (n !== WALKED_ROWS) throw new Error(`iterate walked ${n} rows of ${WALKED_ROWS}`);
        },
        anchorRun: async () => {
          const client = await pool.connect();
          try {
            await client.query("BEGIN");
            await client.query(`DECLARE walk NO SCROLL CURSOR FOR SELECT id, name, score FROM bench_pg_walked ORDER BY score DESC, id`);
            for (;;) {
              const { rowCount } = await client.query(`FETCH ${WALK_PAGE} FROM walk`);
              if (!rowCount) break;
            }
            await client.query("COMMIT");
          } finally {
            client.release();
          }
        },
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
