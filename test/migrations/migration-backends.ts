/**
 * The backends the migration tests run on: memory always; file, sqlite and postgres when they are built
 * in (postgres also needs STRATA_PG_URL). Each `open` gets a fresh, empty place and `cleanup` removes it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { isKnownBackend } from "../../src/spi/backend-registry.js";
import type { StorageConfig } from "../../src/index.js";

export interface MigrationBackend {
  readonly name: string;
  /** A config (without entities/migrations) for a new, empty database. */
  fresh(): Promise<{ config: StorageConfig; cleanup: () => Promise<void> }>;
}

const only = (process.env["BACKENDS"] ?? "").split(",").map((s) => s.trim()).filter(Boolean);

function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), "strata-mig-"));
}

export function migrationBackends(): MigrationBackend[] {
  const out: MigrationBackend[] = [
    { name: "memory", fresh: async () => ({ config: { url: "memory:", autoCreate: false }, cleanup: async () => {} }) },
  ];
  if (isKnownBackend("file")) {
    out.push({
      name: "file",
      fresh: async () => {
        const dir = tempDir();
        return { config: { url: `file:${path.join(dir, "data")}` }, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
      },
    });
  }
  if (isKnownBackend("sqlite")) {
    out.push({
      name: "sqlite",
      fresh: async () => {
        const dir = tempDir();
        return { config: { url: `sqlite:${path.join(dir, "test.db")}` }, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
      },
    });
  }
  const pg = process.env["STRATA_PG_URL"];
  if (isKnownBackend("postgres")) {
    if (!pg) {
      if (process.env["STRATA_REQUIRE_SERVICES"] === "1") throw new Error("STRATA_REQUIRE_SERVICES=1 but STRATA_PG_URL is not set");
      console.log("postgres migration tests skipped: set STRATA_PG_URL to run them");
    } else {
      out.push({ name: "postgres", fresh: () => freshPostgres(pg) });
    }
  }
  return only.length > 0 ? out.filter((b) => only.includes(b.name)) : out;
}

let counter = 0;

/** A new database on the server of `url`, dropped by cleanup. */
async function freshPostgres(url: string): Promise<{ config: StorageConfig; cleanup: () => Promise<void> }> {
  const pg = (await import("pg")).default;
  const name = `strata_mig_${process.pid}_${Date.now()}_${++counter}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const target = new URL(url);
  target.pathname = `/${name}`;
  return {
    config: { url: target.toString() },
    cleanup: async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await c.end();
    },
  };
}
