/**
 * PostgreSQL behind PgBouncer (issue 15): `findById` through PgBouncer in transaction pooling (`pooler:
 * "pgbouncer"`, unnamed statements) against the same `findById` straight to the server (named prepared
 * statements), goal >= 0.7x, one call at a time and 32 in flight (both storages with the default poolSize
 * of 10); and against a raw pg query through the same PgBouncer, which shows what Strata
 * adds on that route; and, with no goal, raw pg through PgBouncer against raw pg direct (the hop's own cost).
 * The PgBouncer is STRATA_PGBOUNCER_URL's, else one scripts/pgbouncer.sh starts for the run
 * (and stops after); without either, or without STRATA_PG_URL, the case skips, saying why.
 */
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { Column, Entity, PrimaryColumn } from "typeorm";
import { createStorage } from "../../src/index.js";
import type { BenchGroup } from "../harness.js";
import { createBenchDatabase } from "../bench-database.js";

@Entity("bench_pgb_items")
class PgbItem {
  @PrimaryColumn({ type: "integer" }) id: number;
  @Column({ type: "varchar" }) name: string;
  @Column({ type: "integer" }) quantity: number;
  @Column({ type: "double precision" }) price: number;
  @Column({ type: "boolean" }) active: boolean;
  @Column({ type: "varchar", nullable: true }) note: string | null;
}

const ROWS = 10_000;
/** Calls in flight at once in the concurrent pairs: a server answering requests, the load a pooler is for. */
const CONCURRENT = 32;
/** From dist/bench/cases/ to the repository's scripts/. */
const SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../scripts/pgbouncer.sh");

/** A PgBouncer to measure through: the environment's, or one started here; undefined (said why) when there is none. */
function pgbouncer(): { url: string; stop: () => void } | undefined {
  const given = process.env["STRATA_PGBOUNCER_URL"];
  if (given) return { url: given, stop: () => {} };
  let exports: string;
  try {
    exports = execFileSync(SCRIPT, ["start"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  } catch {
    console.log("pgbouncer bench skipped: STRATA_PGBOUNCER_URL is not set and scripts/pgbouncer.sh could not start one (it needs root to install the package)");
    return undefined;
  }
  const value = (name: string) => new RegExp(`${name}=(\\S+)`).exec(exports)?.[1];
  const url = value("STRATA_PGBOUNCER_URL");
  const dir = value("STRATA_PGBOUNCER_DIR");
  return { url: url!, stop: () => void execFileSync(SCRIPT, ["stop"], { env: { ...process.env, STRATA_PGBOUNCER_DIR: dir }, stdio: "inherit" }) };
}

export default async function pgbouncerBench(): Promise<BenchGroup> {
  const database = await createBenchDatabase("pgb", "pgbouncer bench");
  if (!database) return { pairs: [], close: async () => {} };
  const bouncer = pgbouncer();
  if (!bouncer) {
    await database.drop();
    return { pairs: [], close: async () => {} };
  }
  const pooledUrl = new URL(bouncer.url);
  pooledUrl.pathname = new URL(database.url).pathname;

  const direct = await createStorage({ url: database.url, entities: [PgbItem], autoCreate: true });
  const pooled = await createStorage({ url: pooledUrl.href, entities: [PgbItem], postgres: { pooler: "pgbouncer", directUrl: database.url } });
  const directItems = direct.repository(PgbItem);
  await directItems.saveMany(Array.from({ length: ROWS }, (_, id) => ({ id, name: `item ${id}`, quantity: id % 17, price: id * 1.5, active: id % 2 === 0, note: null })));
  const pooledItems = pooled.repository(PgbItem);
  const raw = new pg.Pool({ connectionString: pooledUrl.href, max: 10 });
  raw.on("error", () => {});
  const rawDirect = new pg.Pool({ connectionString: database.url, max: 10 });
  rawDirect.on("error", () => {});

  let i = 0;
  const many = (find: (id: number) => Promise<unknown>) => () => Promise.all(Array.from({ length: CONCURRENT }, () => find(i++ % ROWS)));
  return {
    pairs: [
      {
        name: "postgres.findById via PgBouncer",
        anchor: "postgres.findById direct",
        minRatio: 0.7,
        run: () => pooledItems.findById(i++ % ROWS),
        anchorRun: () => directItems.findById(i++ % ROWS),
      },
      {
        name: `postgres.findById via PgBouncer x${CONCURRENT}`,
        anchor: `postgres.findById direct x${CONCURRENT}`,
        minRatio: 0.7,
        run: many((id) => pooledItems.findById(id)),
        anchorRun: many((id) => directItems.findById(id)),
      },
      {
        name: "postgres.findById via PgBouncer",
        anchor: "pg pool.query via PgBouncer",
        minRatio: 0.8,
        run: () => pooledItems.findById(i++ % ROWS),
        anchorRun: () => raw.query(`SELECT id, name, quantity, price, active, note FROM bench_pgb_items WHERE id = $1`, [i++ % ROWS]),
      },
      {
        // No goal: the floor the extra hop sets, with no Strata on either side (both unnamed statements).
        name: "pg pool.query via PgBouncer",
        anchor: "pg pool.query direct",
        run: () => raw.query(`SELECT id, name, quantity, price, active, note FROM bench_pgb_items WHERE id = $1`, [i++ % ROWS]),
        anchorRun: () => rawDirect.query(`SELECT id, name, quantity, price, active, note FROM bench_pgb_items WHERE id = $1`, [i++ % ROWS]),
      },
    ],
    close: async () => {
      await raw.end();
      await rawDirect.end();
      await pooled.close();
      await direct.close();
      await database.drop();
      bouncer.stop();
    },
  };
}
