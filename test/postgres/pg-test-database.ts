/**
 * A fresh PostgreSQL database per test run, made through STRATA_PG_URL and dropped after. Without the
 * variable the tests skip, saying why; with STRATA_REQUIRE_SERVICES=1 a missing or unreachable server fails.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";

export const PG_URL = process.env["STRATA_PG_URL"];
export const REQUIRE = process.env["STRATA_REQUIRE_SERVICES"] === "1";

/** Why the postgres tests do not run, or undefined when they do. Throws when services are required. */
export function pgSkipReason(): string | undefined {
  if (PG_URL) return undefined;
  if (REQUIRE) throw new Error("STRATA_REQUIRE_SERVICES=1 but STRATA_PG_URL is not set: the postgres tests cannot run");
  const reason = "postgres tests skipped: STRATA_PG_URL is not set (e.g. STRATA_PG_URL=postgres://postgres@127.0.0.1:5432/test)";
  console.warn(reason);
  return reason;
}

/** A database created for this run; `url(schema)` points a storage at a fresh schema of it. */
export class PgTestDatabase {
  private counter = 0;
  private constructor(
    readonly name: string,
    private readonly admin: pg.Client,
    private readonly db: pg.Client,
    private readonly base: URL,
  ) {}

  static async create(adminUrl: string): Promise<PgTestDatabase> {
    const name = `strata_test_${randomBytes(6).toString("hex")}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"`);
    const base = new URL(adminUrl);
    base.pathname = `/${name}`;
    const db = new pg.Client({ connectionString: base.href });
    await db.connect();
    return new PgTestDatabase(name, admin, db, base);
  }

  /** The database URL (its public schema). */
  get url(): string {
    return this.base.href;
  }

  /** A URL whose connections use a new, empty schema. */
  async freshSchemaUrl(): Promise<string> {
    const schema = `s${++this.counter}`;
    await this.db.query(`CREATE SCHEMA "${schema}"`);
    const url = new URL(this.base.href);
    url.searchParams.set("options", `-c search_path=${schema}`);
    return url.href;
  }

  async drop(): Promise<void> {
    await this.db.end();
    await this.admin.query(`DROP DATABASE IF EXISTS "${this.name}" WITH (FORCE)`);
    await this.admin.end();
  }
}
