/**
 * PostgreSQL behind PgBouncer in transaction pooling (`postgres: { pooler: "pgbouncer", directUrl }`), against
 * the PgBouncer of scripts/pgbouncer.sh: no session state the pooler would break (named statements, startup
 * options), counters kept exact across processes, and migrations locked on the direct connection.
 */
import "reflect-metadata";
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, afterEach, beforeEach, describe, expect, test } from "vitest";
import { ConfigError, createStorage } from "../../src/index.js";
import { Counter } from "../fixtures/sql-entities.js";
import { PgBouncerDatabases, pgbouncerSkipReason } from "./pgbouncer-test-databases.js";
import type { PooledDatabase } from "./pgbouncer-test-databases.js";

describe("postgres-pgbouncer: configuration", () => {
  test("a URL carrying startup options is a ConfigError naming url (PgBouncer refuses them), before any connection", async () => {
    // Port 9 (discard): nothing is reached, the refusal comes first.
    const error = await createStorage({
      url: "postgres://app@127.0.0.1:9/app?options=-c%20search_path%3Dtenant",
      postgres: { pooler: "pgbouncer", directUrl: "postgres://app@127.0.0.1:9/app" },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toEqual([expect.stringMatching(/^url: behind pooler "pgbouncer" the URL cannot carry options/)]);
  });
});

const skip = pgbouncerSkipReason();
if (skip) {
  describe("postgres-pgbouncer: transaction pooling", () => test.skip(skip, () => {}));
} else {
  const databases = new PgBouncerDatabases();
  afterAll(async () => {
    await databases.dropAll();
  });
  const pooled = (db: PooledDatabase) => ({ pooler: "pgbouncer" as const, directUrl: db.directUrl });

  describe("postgres-pgbouncer: transaction pooling", () => {
    test("statements run unnamed: a read after the pooler moved the client to another server connection works, where a named statement fails", async () => {
      const db = await databases.create();
      const storage = await createStorage({ url: db.pooledUrl, entities: [Counter], autoCreate: true, poolSize: 1, postgres: pooled(db) });
      // Holds, in a transaction, whichever server connection PgBouncer hands out next (the one just released).
      const holder = new pg.Client({ connectionString: db.pooledUrl });
      const named = new pg.Client({ connectionString: db.pooledUrl });
      await holder.connect();
      await named.connect();
      try {
        const counters = storage.repository(Counter);
        await counters.save({ name: "c", value: 1 });
        // What the default mode does: prepare once per client connection, then only bind by name. Behind the
        // pooler the second run lands on another server connection, where the statement was never prepared.
        await named.query({ name: "strata_1", text: 'SELECT "value" FROM "sql_counters" WHERE "name" = $1', values: ["c"] });
        await holder.query("BEGIN");
        await holder.query("SELECT 1");
        const failure = await named.query({ name: "strata_1", text: 'SELECT "value" FROM "sql_counters" WHERE "name" = $1', values: ["c"] }).catch((e: unknown) => e);
        expect((failure as Error).message).toMatch(/prepared statement "strata_1" does not exist/);
        await holder.query("COMMIT");
        // The same sequence through the storage: its one pooled client reads, loses its server connection
        // to the holder's transaction, and reads again on another one.
        expect(await counters.findById("c")).toEqual({ name: "c", value: 1 });
        await holder.query("BEGIN");
        await holder.query("SELECT 1");
        expect(await counters.findById("c")).toEqual({ name: "c", value: 1 });
        await counters.save({ name: "c", value: 2 });
        expect(await counters.findById("c")).toEqual({ name: "c", value: 2 });
        await holder.query("COMMIT");
      } finally {
        await holder.end();
        await named.end();
        await storage.close();
      }
    });

    test("two processes incrementing one counter 100 times each through PgBouncer, in transactions, end at exactly +200", async () => {
      const db = await databases.create();
      const setup = await createStorage({ url: db.pooledUrl, entities: [Counter], autoCreate: true, postgres: pooled(db) });
      await setup.repository(Counter).save({ name: "c", value: 0 });
      await setup.close();
      const child = path.resolve("dist/test/fixtures/sql-counter-child.js");
      const run = promisify(execFile);
      const args = [child, db.pooledUrl, "100", JSON.stringify(pooled(db))];
      await Promise.all([run(process.execPath, args), run(process.execPath, args)]);
      // Read directly, not through the pooler: what the server holds.
      const storage = await createStorage({ url: db.directUrl, entities: [Counter] });
      try {
        expect((await storage.repository(Counter).findById("c"))!.value).toBe(200);
      } finally {
        await storage.close();
      }
    }, 60_000);

    test("a transaction's lock_timeout is set inside it (SET LOCAL), and leaves nothing on the server connection", async () => {
      const db = await databases.create();
      const storage = await createStorage({ url: db.pooledUrl, entities: [Counter], autoCreate: true, timeoutMs: 1234, postgres: pooled(db) });
      try {
        const inside = await storage.transaction(async () => storage.sql`SELECT current_setting('lock_timeout') AS t`);
        expect(inside).toEqual([{ t: "1234ms" }]);
        // Outside a transaction, the server's own setting (as a plain connection sees it): nothing leaked into the pooled session.
        const plain = new pg.Client({ connectionString: db.directUrl });
        await plain.connect();
        const own = (await plain.query("SELECT current_setting('lock_timeout') AS t")).rows[0] as { t: string };
        await plain.end();
        expect(own.t).not.toBe("1234ms");
        expect(await storage.sql`SELECT current_setting('lock_timeout') AS t`).toEqual([own]);
      } finally {
        await storage.close();
      }
    });

    describe("migrations", () => {
      let dir: string;
      beforeEach(() => {
        dir = mkdtempSync(path.join(tmpdir(), "strata-pgb-migrations-"));
      });
      afterEach(() => {
        rmSync(dir, { recursive: true, force: true });
      });

      const runChildOf = (script: string, args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> =>
        new Promise((resolve) => {
          const childEnv = { ...process.env, ...env };
          for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k];
          const child = spawn(process.execPath, [script, ...args], { env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
          let stdout = "";
          let stderr = "";
          child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
          child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
          child.on("close", (code) => resolve({ code, stdout, stderr }));
        });
      const runChild = (args: string[]) => runChildOf(path.resolve("dist/test/fixtures/migrate-child.js"), args);

      test("two processes migrating at once through the pooler config apply each migration once, under a lock held on the direct connection", async () => {
        const db = await databases.create();
        // The direct connections name themselves, so the server shows which route the lock and the migration took.
        const directUrl = new URL(db.directUrl);
        directUrl.searchParams.set("application_name", "strata_direct");
        const postgres = { pooler: "pgbouncer" as const, directUrl: directUrl.href };
        const whoHolds =
          "SELECT (SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) LIMIT 1) AS lock, current_setting('application_name') AS own";
        writeFileSync(
          path.join(dir, "0001-create-runs.mjs"),
          `export default { version: 1, name: "create-runs", async up(m) { await m.createTable("runs", { version: { type: "integer", primary: true }, lock: { type: "string", nullable: true }, own: { type: "string", nullable: true } }); const [[lock, own]] = await m.sql(${JSON.stringify(whoHolds)}); await m.insertRows("runs", [{ version: 1, lock, own }]); } };`,
        );
        // A second application would insert the same key: an IntegrityError in that child.
        writeFileSync(
          path.join(dir, "0002-step.mjs"),
          `export default { version: 2, name: "step", async up(m) { await new Promise((r) => setTimeout(r, 50)); const [[lock, own]] = await m.sql(${JSON.stringify(whoHolds)}); await m.insertRows("runs", [{ version: 2, lock, own }]); } };`,
        );
        const results = await Promise.all([runChild([db.pooledUrl, dir, JSON.stringify(postgres)]), runChild([db.pooledUrl, dir, JSON.stringify(postgres)])]);
        for (const r of results) expect(r.stderr, r.stderr).toBe("");
        expect(results.map((r) => r.code)).toEqual([0, 0]);
        expect(results.flatMap((r) => JSON.parse(r.stdout) as number[]).sort()).toEqual([1, 2]);
        const check = new pg.Client({ connectionString: db.directUrl });
        await check.connect();
        try {
          const { rows } = await check.query('SELECT "version"::int AS version, "lock", "own" FROM "runs" ORDER BY "version"');
          expect(rows).toEqual([
            { version: 1, lock: "strata_direct", own: "strata_direct" },
            { version: 2, lock: "strata_direct", own: "strata_direct" },
          ]);
        } finally {
          await check.end();
        }
      }, 60_000);

      test("only migrating opens connections to directUrl: opening a storage with a cache and reading does not", async () => {
        const db = await databases.create();
        const directUrl = new URL(db.directUrl);
        directUrl.searchParams.set("application_name", "strata_direct_idle");
        const storage = await createStorage({ url: db.pooledUrl, entities: [Counter], autoCreate: true, migrations: dir, cache: {}, postgres: { pooler: "pgbouncer", directUrl: directUrl.href } });
        const check = new pg.Client({ connectionString: db.directUrl });
        await check.connect();
        const direct = async () => Number((await check.query("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'strata_direct_idle'")).rows[0].n);
        try {
          await storage.repository(Counter).save({ name: "c", value: 1 });
          await storage.migrations.status();
          expect(await direct()).toBe(0);
          writeFileSync(path.join(dir, "0001-t.mjs"), `export default { version: 1, name: "t", async up(m) { await m.createTable("t", { id: { type: "integer", primary: true } }); } };`);
          await storage.migrations.up();
          expect(await direct()).toBeGreaterThan(0);
        } finally {
          await check.end();
          await storage.close();
        }
      });

      test("strata migrate up --url <through PgBouncer> --direct-url <the server>: migrations and their lock take the direct route", async () => {
        const db = await databases.create();
        const directUrl = new URL(db.directUrl);
        directUrl.searchParams.set("application_name", "strata_direct");
        const whoHolds =
          "SELECT (SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) LIMIT 1), current_setting('application_name')";
        writeFileSync(
          path.join(dir, "0001-notes.mjs"),
          `export default { version: 1, name: "notes", async up(m) { await m.createTable("notes", { id: { type: "integer", primary: true }, lock: { type: "string", nullable: true }, own: { type: "string", nullable: true } }); const [[lock, own]] = await m.sql(${JSON.stringify(whoHolds)}); await m.insertRows("notes", [{ id: 1, lock, own }]); } };`,
        );
        const cli = (args: string[]) => runChildOf(path.resolve("dist/src/cli/strata.js"), args, { STRATA_DIRECT_URL: undefined });
        const up = await cli(["migrate", "up", "--url", db.pooledUrl, "--migrations", dir, "--direct-url", directUrl.href, "--json"]);
        expect(up.stderr).toBe("");
        expect(up.code).toBe(0);
        const status = await cli(["migrate", "status", "--url", db.pooledUrl, "--migrations", dir, "--direct-url", directUrl.href, "--json"]);
        expect(status.code).toBe(0);
        expect(JSON.parse(status.stdout)).toMatchObject([{ version: 1, state: "applied" }]);
        const check = new pg.Client({ connectionString: db.directUrl });
        await check.connect();
        try {
          expect((await check.query('SELECT "lock", "own" FROM "notes"')).rows).toEqual([{ lock: "strata_direct", own: "strata_direct" }]);
        } finally {
          await check.end();
        }
      }, 60_000);

      test("behind the pooler without directUrl, migrating is a ConfigError naming postgres.directUrl; the storage itself and status work", async () => {
        const db = await databases.create();
        writeFileSync(path.join(dir, "0001-t.mjs"), `export default { version: 1, name: "t", async up(m) { await m.createTable("t", { id: { type: "integer", primary: true } }); } };`);
        // With a cache, opening reads the applied versions (the cache keys' fingerprint): on the data's own route.
        const storage = await createStorage({ url: db.pooledUrl, entities: [Counter], autoCreate: true, migrations: dir, cache: {}, postgres: { pooler: "pgbouncer" } });
        try {
          await storage.repository(Counter).save({ name: "c", value: 1 });
          expect((await storage.migrations.status()).map((s) => s.state)).toEqual(["pending"]);
          const error = await storage.migrations.up().catch((e: unknown) => e);
          expect(error).toBeInstanceOf(ConfigError);
          expect((error as ConfigError).issues).toEqual([expect.stringMatching(/^postgres\.directUrl: migrations and the migration lock/)]);
          expect(await storage.repository(Counter).count()).toBe(1);
        } finally {
          await storage.close();
        }
      });
    });
  });
}
