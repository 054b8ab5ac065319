/** A PostgreSQL database of a bench run's own, on the server STRATA_PG_URL names, dropped after. */
import { randomBytes } from "node:crypto";
import pg from "pg";

export interface BenchDatabase {
  /** The database's URL. */
  readonly url: string;
  /** Drops it (connections still open are ended: `WITH (FORCE)`). */
  drop(): Promise<void>;
}

/**
 * Creates `strata_bench_<label>_<random>`; undefined without STRATA_PG_URL, after printing that `what` is
 * skipped and why.
 */
export async function createBenchDatabase(label: string, what: string): Promise<BenchDatabase | undefined> {
  const adminUrl = process.env["STRATA_PG_URL"];
  if (!adminUrl) {
    console.log(`${what} skipped: STRATA_PG_URL is not set (e.g. STRATA_PG_URL=postgres://postgres@127.0.0.1:5432/test)`);
    return undefined;
  }
  const name = `strata_bench_${label}_${randomBytes(5).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.href,
    drop: async () => {
      await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await admin.end();
    },
  };
}
