/**
 * Databases for the tests through PgBouncer (scripts/pgbouncer.sh, which exports STRATA_PGBOUNCER_URL): each
 * made on the server at STRATA_PG_URL, reached both through the pooler and directly, and dropped after.
 * PgBouncer refuses the startup parameter `options`, so these tests cannot put a storage in a schema of its
 * own by `search_path` as the direct ones do: each storage gets a database of its own instead.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { PG_URL, REQUIRE } from "./pg-test-database.js";

export const PGBOUNCER_URL = process.env["STRATA_PGBOUNCER_URL"];

/** Why the tests through PgBouncer do not run, or undefined when they do. Throws when services are required. */
export function pgbouncerSkipReason(): string | undefined {
  if (PG_URL && PGBOUNCER_URL) return undefined;
  const missing = PG_URL ? "STRATA_PGBOUNCER_URL" : "STRATA_PG_URL";
  if (REQUIRE) throw new Error(`STRATA_REQUIRE_SERVICES=1 but ${missing} is not set: the tests through PgBouncer cannot run (start one with scripts/pgbouncer.sh start)`);
  const reason = `PgBouncer tests skipped: ${missing} is not set (eval "$(scripts/pgbouncer.sh start)" starts a PgBouncer and sets it; it needs root to install the package)`;
  console.warn(reason);
  return reason;
}

/** One database, by both routes. */
export interface PooledDatabase {
  /** Through PgBouncer (transaction pooling). */
  readonly pooledUrl: string;
  /** To the server itself: the `directUrl`. */
  readonly directUrl: string;
}

/** Makes databases named `strata_pgb_*` and drops every one of them in {@link PgBouncerDatabases.dropAll}. */
export class PgBouncerDatabases {
  private readonly made: string[] = [];
  private admin: pg.Client | undefined;

  async create(): Promise<PooledDatabase> {
    if (!this.admin) {
      this.admin = new pg.Client({ connectionString: PG_URL! });
      await this.admin.connect();
    }
    const name = `strata_pgb_${randomBytes(6).toString("hex")}`;
    await this.admin.query(`CREATE DATABASE "${name}"`);
    this.made.push(name);
    const at = (base: string): string => {
      const url = new URL(base);
      url.pathname = `/${name}`;
      return url.href;
    };
    return { pooledUrl: at(PGBOUNCER_URL!), directUrl: at(PG_URL!) };
  }

  /** Drops every database made (ending the pooler's server connections to them). */
  async dropAll(): Promise<void> {
    if (!this.admin) return;
    for (const name of this.made.splice(0)) await this.admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await this.admin.end();
    this.admin = undefined;
  }
}
