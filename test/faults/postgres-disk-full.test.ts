/**
 * PostgreSQL out of disk (SQLSTATE 53100), for real: a PostgreSQL of this test's own (initdb, on a free
 * port, torn down after) whose default tablespace lives on a small tmpfs. The shared server is never
 * touched. Skips, saying why, where a tmpfs cannot be mounted or PostgreSQL's server binaries are absent.
 */
import "reflect-metadata";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import * as path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { CapacityError, createStorage } from "../../src/index.js";
import type { Storage } from "../../src/index.js";
import { Thing } from "../fixtures/sql-entities.js";
import { backendSelected } from "../sql/sql-backend-cases.js";
import type { Tmpfs } from "../support/tmpfs.js";
import { mountTmpfs, tmpfsSkipReason } from "../support/tmpfs.js";

/** The directory of initdb and pg_ctl, if PostgreSQL's server binaries are installed. */
function serverBinaries(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!fs.existsSync(root)) return undefined;
  const versions = fs.readdirSync(root).sort((a, b) => Number(b) - Number(a));
  return versions.map((v) => path.join(root, v, "bin")).find((dir) => fs.existsSync(path.join(dir, "initdb")));
}

function skipReason(): string | undefined {
  if (!backendSelected("postgres")) return "BACKENDS excludes postgres";
  if (process.getuid?.() !== 0) return "postgres disk-full test skipped: needs root (to mount a tmpfs and run PostgreSQL as user postgres)";
  const tmpfs = tmpfsSkipReason();
  if (tmpfs) return tmpfs;
  if (!serverBinaries()) return "postgres disk-full test skipped: no PostgreSQL server binaries (initdb) under /usr/lib/postgresql";
  return undefined;
}

const skip = skipReason();
if (skip) console.warn(skip);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Runs a PostgreSQL binary as user postgres (the server refuses to run as root). */
function asPostgres(bin: string, args: string[]): string {
  return execFileSync("runuser", ["-u", "postgres", "--", path.join(serverBinaries()!, bin), ...args], { stdio: "pipe", timeout: 60_000 }).toString();
}

describe.skipIf(skip !== undefined)("postgres: disk full", () => {
  let base: string;
  let small: Tmpfs | undefined;
  let url: string;
  let started = false;

  beforeAll(async () => {
    base = fs.mkdtempSync(path.join(os.tmpdir(), "strata-pg-full-"));
    fs.chmodSync(base, 0o755);
    execFileSync("chown", ["postgres", base]);
    const data = path.join(base, "data");
    asPostgres("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync"]);
    const port = await freePort();
    asPostgres("pg_ctl", ["start", "-w", "-D", data, "-l", path.join(base, "log"), "-o", `-p ${port} -k ${base} -c listen_addresses=127.0.0.1 -c fsync=off`]);
    started = true;
    small = mountTmpfs(8 * 1024 * 1024);
    execFileSync("chown", ["postgres", small.dir]);
    const admin = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
    await admin.connect();
    try {
      await admin.query(`CREATE TABLESPACE small LOCATION '${small.dir}'`);
    } finally {
      await admin.end();
    }
    url = `postgres://postgres@127.0.0.1:${port}/postgres?options=${encodeURIComponent("-c default_tablespace=small")}`;
  }, 120_000);

  afterAll(() => {
    if (started) asPostgres("pg_ctl", ["stop", "-m", "immediate", "-D", path.join(base, "data")]);
    small?.unmount();
    fs.rmSync(base, { recursive: true, force: true });
  });

  test("writes that find the disk full are a CapacityError naming the table; what was stored stays readable", async () => {
    const storage: Storage = await createStorage({ url, entities: [Thing], autoCreate: true });
    try {
      const things = storage.repository(Thing);
      // Text that does not compress, 200 kB a row: an 8 MB tablespace is full within 40 rows.
      const noise = () => Array.from({ length: 20_000 }, () => Math.random().toString(36).slice(2, 12)).join("");
      let saved = 0;
      let error: unknown;
      for (let i = 0; i < 200 && error === undefined; i++) {
        await things.save({ id: `r${i}`, label: noise() } as Thing).then(
          () => saved++,
          (e: unknown) => (error = e),
        );
      }
      expect(error).toBeInstanceOf(CapacityError);
      expect(error).toMatchObject({ code: "STRATA_CAPACITY", table: "sql_things" });
      expect((error as Error).message).toMatch(/No space left on device/);
      expect(saved).toBeGreaterThan(0);
      // Inside a transaction too; and nothing of the failed writes is stored.
      const inside = await storage.transaction(() => things.save({ id: "tx", label: noise() } as Thing)).catch((e: unknown) => e);
      expect(inside).toBeInstanceOf(CapacityError);
      expect(await things.count()).toBe(saved);
      expect(await things.findById("r0")).toMatchObject({ id: "r0" });
    } finally {
      await storage.close();
    }
  });
});
