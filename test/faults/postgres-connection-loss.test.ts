/**
 * PostgreSQL connections ended by the server (pg_terminate_backend, idle_in_transaction_session_timeout)
 * in every phase: idle inside a transaction, during a statement, during COMMIT, during a migration, while
 * holding the migration lock, idle in the pool, and between an idle termination and the next BEGIN.
 * Each must end in a typed error (or nothing at all), write nothing, never an uncaught exception, and
 * leave the storage working.
 *
 * Only backends of this file's own database and of the storage under test (its application_name) are
 * ever terminated: other people run tests against the same server.
 */
import "reflect-metadata";
import { execFile, execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { ConnectionError, createStorage, defineMigration, MigrationError, TransactionError } from "../../src/index.js";
import type { Logger, Storage } from "../../src/index.js";
import { Thing } from "../fixtures/sql-entities.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "../postgres/pg-test-database.js";
import { backendSelected } from "../sql/sql-backend-cases.js";

/** The compiled child process (test/fixtures/pg-connection-child.ts). */
const child = fileURLToPath(new URL("../../dist/test/fixtures/pg-connection-child.js", import.meta.url));
const skip = backendSelected("postgres") ? pgSkipReason() : "BACKENDS excludes postgres";
let db: PgTestDatabase;
/** This file's own connection for looking at and terminating backends: never a target itself. */
let admin: pg.Client;
let tagCounter = 0;
const figures = { terminated: 0, timedOut: 0, survived: 0 };
const uncaught: unknown[] = [];
const onUncaught = (error: unknown): void => void uncaught.push(error);

if (!skip) {
  beforeAll(async () => {
    db = await PgTestDatabase.create(PG_URL!);
    admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    process.on("uncaughtException", onUncaught);
  });
  afterEach(() => {
    // An 'error' event with no listener surfaces here (and ends a plain node process).
    const seen = uncaught.splice(0);
    expect(seen).toEqual([]);
  });
  afterAll(async () => {
    process.off("uncaughtException", onUncaught);
    await admin?.end();
    await db?.drop();
    console.info(
      `postgres connection-loss faults: ${figures.terminated} backends terminated, ${figures.timedOut} ended by idle_in_transaction_session_timeout, ${figures.survived} survived with the storage still working`,
    );
  });
}

/** A URL of a fresh schema whose connections carry a tag of their own, with extra server settings. */
async function taggedUrl(settings = ""): Promise<{ url: string; tag: string }> {
  const url = new URL(await db.freshSchemaUrl());
  const tag = `strata_fault_${process.pid}_${++tagCounter}`;
  url.searchParams.set("application_name", tag);
  if (settings) url.searchParams.set("options", `${url.searchParams.get("options")} ${settings}`);
  return { url: url.href, tag };
}

/**
 * Runs `statements` (a trigger and its function, say) in the schema of `url`, over a connection of its own,
 * tagged apart so that `backends(tag)` never counts it, and closed before the test goes on.
 */
async function runInSchema(url: string, tag: string, statements: readonly string[]): Promise<void> {
  const setup = new pg.Client({ connectionString: url.replace(tag, `${tag}_setup`) });
  await setup.connect();
  try {
    for (const statement of statements) await setup.query(statement);
  } finally {
    await setup.end();
  }
}

/** Backends of the storage tagged `tag` in this file's database that match `condition`. */
async function backends(tag: string, condition = "true"): Promise<number[]> {
  const { rows } = await admin.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = $2 AND pid <> pg_backend_pid() AND (${condition})`,
    [db.name, tag],
  );
  return rows.map((r) => r.pid);
}

/** Waits (bounded) until exactly one backend matches, and returns it. */
async function oneBackend(tag: string, condition: string): Promise<number> {
  for (let i = 0; i < 400; i++) {
    const pids = await backends(tag, condition);
    if (pids.length === 1) return pids[0]!;
    if (pids.length > 1) throw new Error(`more than one backend matches ${condition}: ${pids.join(", ")}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`no backend of ${tag} matched ${condition}`);
}

/** Waits (bounded) until backend `pid` has exited. */
async function gone(pid: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const { rows } = await admin.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1", [pid]);
    if (rows.length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`backend ${pid} did not exit`);
}

/** Terminates backends of this database (only) and counts them. */
async function terminate(pids: readonly number[]): Promise<void> {
  for (const pid of pids) {
    const { rows } = await admin.query<{ ok: boolean }>(
      "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE pid = $1 AND datname = $2",
      [pid, db.name],
    );
    expect(rows[0]?.ok).toBe(true);
    figures.terminated++;
  }
}

/** A promise with its resolve, for stepping a callback from the test. */
function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** The storage works after the fault: a transaction commits and its write is read back; nothing else was stored. */
async function stillWorks(storage: Storage, stored: readonly string[]): Promise<void> {
  const things = storage.repository(Thing);
  expect((await things.findAll()).map((t) => t.id).sort()).toEqual([...stored].sort());
  await storage.transaction(async () => {
    await things.save({ id: "after" } as Thing);
  });
  expect(await things.findById("after")).toMatchObject({ id: "after" });
  figures.survived++;
}

function logger(): Logger & { warnings: unknown[][] } {
  const warnings: unknown[][] = [];
  return { warnings, debug() {}, info() {}, warn: (...args) => void warnings.push(args), error: (...args) => void warnings.push(args) };
}

describe.skipIf(skip !== undefined)("postgres: connection loss", () => {
  test("terminated while idle inside a transaction: ConnectionError, nothing written, the storage goes on", async () => {
    const { url, tag } = await taggedUrl();
    const storage = await createStorage({ url, entities: [Thing], autoCreate: true, logger: logger() });
    try {
      const things = storage.repository(Thing);
      const inside = signal();
      const proceed = signal();
      const outcome = storage
        .transaction(async () => {
          await things.save({ id: "a" } as Thing);
          inside.resolve();
          await proceed.promise;
          await things.save({ id: "b" } as Thing);
        })
        .catch((e: unknown) => e);
      await inside.promise;
      await terminate([await oneBackend(tag, "state = 'idle in transaction'")]);
      proceed.resolve();
      const error = await outcome;
      expect(error).toBeInstanceOf(ConnectionError);
      expect((error as Error).message).toMatch(/was lost/);
      await stillWorks(storage, []);
    } finally {
      await storage.close();
    }
  });

  test("terminated during a statement (waiting on a row lock): ConnectionError, nothing written", async () => {
    const { url, tag } = await taggedUrl();
    const storage = await createStorage({ url, entities: [Thing], autoCreate: true, timeoutMs: 20_000, logger: logger() });
    const blocker = new pg.Client({ connectionString: url.replace(tag, `${tag}_blocker`) });
    await blocker.connect();
    try {
      const things = storage.repository(Thing);
      await things.save({ id: "held", label: "before" } as Thing);
      await blocker.query("BEGIN");
      await blocker.query("SELECT * FROM sql_things WHERE id = 'held' FOR UPDATE");
      const outcome = storage
        .transaction(async () => {
          await things.save({ id: "new" } as Thing);
          const held = await things.findById("held");
          await things.save({ ...held!, label: "changed" });
        })
        .catch((e: unknown) => e);
      await terminate([await oneBackend(tag, "wait_event_type = 'Lock'")]);
      const error = await outcome;
      expect(error).toBeInstanceOf(ConnectionError);
      expect((error as ConnectionError).table).toBe("sql_things");
      await blocker.query("ROLLBACK");
      await stillWorks(storage, ["held"]);
      expect(await things.findById("held")).toMatchObject({ label: "before" });
    } finally {
      await blocker.end();
      await storage.close();
    }
  });

  test("terminated during COMMIT (a deferred trigger sleeping): ConnectionError naming COMMIT, nothing written", async () => {
    const { url, tag } = await taggedUrl();
    const storage = await createStorage({ url, entities: [Thing], autoCreate: true, logger: logger() });
    try {
      // In this test's own schema: COMMIT runs the deferred trigger, which sleeps for rows labelled "slow".
      await runInSchema(url, tag, [
        `CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(10); RETURN NULL; END $$`,
        `CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON sql_things DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.label = 'slow') EXECUTE FUNCTION slow_commit()`,
      ]);
      const things = storage.repository(Thing);
      const outcome = storage
        .transaction(async () => {
          await things.save({ id: "a" } as Thing);
          await things.save({ id: "s", label: "slow" } as Thing);
        })
        .catch((e: unknown) => e);
      await terminate([await oneBackend(tag, "wait_event = 'PgSleep' AND query = 'COMMIT'")]);
      const error = await outcome;
      expect(error).toBeInstanceOf(ConnectionError);
      expect((error as Error).message).toMatch(/during COMMIT/);
      await stillWorks(storage, []);
    } finally {
      await storage.close();
    }
  });

  test("terminated during a migration: MigrationError caused by a ConnectionError, rolled back, and up() then applies it", async () => {
    const { url, tag } = await taggedUrl();
    let slow = true;
    const migration = defineMigration({
      version: 1,
      name: "slow",
      async up(m) {
        await m.createTable("made_by_migration", { id: { type: "string", primary: true } });
        if (slow) {
          slow = false;
          await m.sql("select pg_sleep(5)");
        }
      },
    });
    const storage = await createStorage({ url, entities: [Thing], autoCreate: true, migrations: [migration], logger: logger() });
    try {
      const outcome = storage.migrations.up().catch((e: unknown) => e);
      await terminate([await oneBackend(tag, "wait_event = 'PgSleep'")]);
      const error = await outcome;
      expect(error).toBeInstanceOf(MigrationError);
      expect((error as Error).cause).toBeInstanceOf(ConnectionError);
      expect((await storage.migrations.status()).map((s) => s.state)).toEqual(["pending"]);
      const { rows } = await admin.query("SELECT 1 FROM pg_tables WHERE tablename = 'made_by_migration'");
      expect(rows).toEqual([]);
      // The lock was let go (else this waits timeoutMs and fails with a LockError).
      expect((await storage.migrations.up()).map((r) => r.version)).toEqual([1]);
      await stillWorks(storage, []);
    } finally {
      await storage.close();
    }
  });

  test("terminated while holding the migration lock: the run commits nothing more (MigrationError, rolled back), a warning is logged, the lock is free again", async () => {
    const { url, tag } = await taggedUrl();
    const log = logger();
    const inside = signal();
    const proceed = signal();
    const migrations = [
      defineMigration({
        version: 1,
        name: "waits",
        async up(m) {
          inside.resolve();
          await proceed.promise;
          await m.createTable("made_by_migration", { id: { type: "string", primary: true } });
        },
      }),
    ];
    const storage = await createStorage({ url, entities: [Thing], autoCreate: true, migrations, logger: log });
    try {
      const outcome = storage.migrations.up();
      await inside.promise;
      const holder = await admin.query<{ pid: number }>(
        `SELECT a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND a.datname = $1 AND a.application_name = $2`,
        [db.name, tag],
      );
      expect(holder.rows).toHaveLength(1);
      await terminate([holder.rows[0]!.pid]);
      await gone(holder.rows[0]!.pid);
      proceed.resolve();
      const error = await outcome.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MigrationError);
      expect((error as Error).cause).toBeInstanceOf(ConnectionError);
      expect((error as Error).message).toMatch(/rolled back/);
      expect(log.warnings.map((w) => String(w[0]))).toEqual([expect.stringMatching(/migration lock .* was lost/)]);
      const schema = new URL(url).searchParams.get("options")!.split("=")[1];
      const { rows } = await admin.query("SELECT 1 FROM pg_tables WHERE tablename = 'made_by_migration' AND schemaname = $1", [schema]);
      expect(rows).toEqual([]);
      const second = await createStorage({ url, migrations, timeoutMs: 2000, logger: logger() });
      try {
        expect((await second.migrations.up()).map((r) => r.version)).toEqual([1]);
      } finally {
        await second.close();
      }
      await stillWorks(storage, []);
    } finally {
      await storage.close();
    }
  });

  // The server ends the transaction while it waits idle; then the callback writes once more, or just ends (its COMMIT).
  for (const [what, writeAfter] of [
    ["ends a transaction left idle", true],
    ["then the callback just ends: the commit", false],
  ] as const) {
    test(`idle_in_transaction_session_timeout ${what} is a TransactionError, nothing written`, async () => {
      const { url, tag } = await taggedUrl("-c idle_in_transaction_session_timeout=300");
      const storage = await createStorage({ url, entities: [Thing], autoCreate: true, logger: logger() });
      try {
        const things = storage.repository(Thing);
        const inside = signal();
        const proceed = signal();
        const outcome = storage
          .transaction(async () => {
            await things.save({ id: "a" } as Thing);
            inside.resolve();
            await proceed.promise;
            if (writeAfter) await things.save({ id: "b" } as Thing);
          })
          .catch((e: unknown) => e);
        await inside.promise;
        await gone(await oneBackend(tag, "state = 'idle in transaction'"));
        figures.timedOut++;
        proceed.resolve();
        const error = await outcome;
        expect(error).toBeInstanceOf(TransactionError);
        expect((error as Error).message).toMatch(/idle_in_transaction_session_timeout/);
        await stillWorks(storage, []);
      } finally {
        await storage.close();
      }
    });
  }

  test("terminations at random points of 40 transactions: each commits whole or rejects with a typed error and writes nothing", async () => {
    const { url, tag } = await taggedUrl();
    const storage = await createStorage({ url, entities: [Thing], autoCreate: true, poolSize: 2, logger: logger() });
    try {
      const things = storage.repository(Thing);
      const outcomes: Array<{ i: number; committed: boolean; ambiguous: boolean }> = [];
      let killed = 0;
      for (let i = 0; i < 40; i++) {
        const work = storage
          .transaction(async () => {
            for (let k = 0; k < 3; k++) {
              await things.save({ id: `t${i}-${k}`, rank: k } as Thing);
              await things.findById(`t${i}-${k}`);
            }
          })
          .then(
            () => ({ i, committed: true, ambiguous: false }),
            (error: unknown) => {
              expect([ConnectionError, TransactionError].some((c) => error instanceof c), String(error)).toBe(true);
              return { i, committed: false, ambiguous: /during COMMIT/.test((error as Error).message) };
            },
          );
        await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 12)));
        const victims = await backends(tag, "state <> 'idle'");
        await terminate(victims.slice(0, 1));
        killed += Math.min(1, victims.length);
        outcomes.push(await work);
      }
      // The last termination may land on a connection just handed back to the pool, and the read below may check it
      // out before the pool has heard it die: that read fails as documented (a ConnectionError), and one retry gets
      // a live connection. What is asserted is what the 40 transactions left.
      const all = () => things.findAll();
      const stored = new Set((await all().catch((error: unknown) => (error instanceof ConnectionError ? all() : Promise.reject(error)))).map((t) => t.id));
      for (const { i, committed, ambiguous } of outcomes) {
        const present = [0, 1, 2].filter((k) => stored.has(`t${i}-${k}`)).length;
        if (ambiguous) expect([0, 3]).toContain(present);
        else expect(present).toBe(committed ? 3 : 0);
      }
      expect(killed).toBeGreaterThan(0);
      console.info(`random terminations: ${killed} of 40 transactions hit, ${outcomes.filter((o) => !o.committed).length} rejected, all whole or nothing`);
      await stillWorks(storage, [...stored]);
    } finally {
      await storage.close();
    }
  });

  test("an idle pooled connection terminated: one line through the logger, and the pool hands out a live one", async () => {
    const { url, tag } = await taggedUrl();
    const log = logger();
    const storage = await createStorage({ url, entities: [Thing], autoCreate: true, logger: log });
    try {
      await storage.repository(Thing).save({ id: "kept" } as Thing);
      const idle = await backends(tag, "state = 'idle'");
      expect(idle.length).toBeGreaterThan(0);
      await terminate(idle);
      for (let i = 0; i < 400 && log.warnings.length < idle.length; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(log.warnings).toHaveLength(idle.length);
      for (const warning of log.warnings) {
        expect(warning).toHaveLength(1);
        expect(warning[0]).toMatch(/^An idle PostgreSQL connection to .* failed and left the pool: terminating connection due to administrator command \(57P01\)$/);
      }
      await stillWorks(storage, ["kept"]);
    } finally {
      await storage.close();
    }
  });

  test("idle pooled connections terminated just before BEGIN (their notice still unread): the transaction gets a live connection", async () => {
    const { url, tag } = await taggedUrl();
    const storage = await createStorage({ url, entities: [Thing], autoCreate: true, poolSize: 3, logger: logger() });
    try {
      const things = storage.repository(Thing);
      // Three idle pooled connections.
      await Promise.all(["a", "b", "c"].map((id) => storage.transaction(() => things.save({ id } as Thing))));
      const idle = await backends(tag, "state = 'idle'");
      expect(idle.length).toBeGreaterThan(0);
      // Terminated from another process while this one's event loop is blocked, so the pool cannot have
      // read the server's notice when the transaction takes a connection.
      const script = `const pg = require("pg"); const c = new pg.Client(process.argv[1]); c.connect().then(async () => {
        await c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid = ANY($2::int[])", [process.argv[2], JSON.parse(process.argv[3])]);
        await c.query("SELECT 1 FROM pg_stat_activity WHERE pid = ANY($1::int[])", [JSON.parse(process.argv[3])]); await c.end(); });`;
      execFileSync(process.execPath, ["-e", script, db.url, db.name, JSON.stringify(idle)], { cwd: fileURLToPath(new URL("../../", import.meta.url)) });
      figures.terminated += idle.length;
      await storage.transaction(async () => {
        await things.save({ id: "d" } as Thing);
      });
      await stillWorks(storage, ["a", "b", "c", "d"]);
    } finally {
      await storage.close();
    }
  });

  test("in a plain node process (default logger), an idle connection terminated prints one line to stderr, not the pg Client", async () => {
    const { url, tag } = await taggedUrl();
    const setup = await createStorage({ url, entities: [Thing], autoCreate: true });
    await setup.close();
    const process_ = execFile(process.execPath, [child, url, "idle"], { timeout: 20_000 });
    let stdout = "";
    let stderr = "";
    process_.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    process_.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => process_.on("exit", resolve));
    for (let i = 0; i < 400 && !stdout.includes("ready"); i++) await new Promise((resolve) => setTimeout(resolve, 25));
    const idle = await backends(tag, "state = 'idle'");
    expect(idle.length).toBeGreaterThan(0);
    await terminate(idle);
    for (const pid of idle) await gone(pid);
    process_.stdin!.write("go\n");
    expect(await exited).toBe(0);
    expect(stdout.trim().split("\n").at(-1)).toBe("found kept");
    const lines = stderr.trim().split("\n");
    expect(lines).toHaveLength(idle.length);
    for (const line of lines) expect(line).toMatch(/^\[strata\] An idle PostgreSQL connection .* \(57P01\)$/);
    figures.survived++;
  });

  test("the node process of a terminated transaction exits normally (no uncaught 'error' event)", async () => {
    const { url } = await taggedUrl();
    const { stdout } = await promisify(execFile)(process.execPath, [child, url, "transaction"], { timeout: 20_000 });
    expect(stdout.trim().split("\n")).toEqual(["rejected ConnectionError", "stored after"]);
    figures.survived++;
    figures.terminated++;
  });

  test.each(["down", "up"] as const)(
    "the lock connection lost while %s() runs a migration, a second runner takes the lock: the first rolls back, the migration takes effect once",
    async (direction) => {
      const { url, tag } = await taggedUrl();
      const inside = signal();
      const proceed = signal();
      let first = true;
      /** Waits inside the first runner's migration transaction, after its UPDATE took the row's lock. */
      const pause = async (): Promise<void> => {
        if (!first) return;
        first = false;
        inside.resolve();
        await proceed.promise;
      };
      const migrations = [
        defineMigration({
          version: 1,
          name: "ledger",
          async up(m) {
            await m.sql("CREATE TABLE ledger (id text PRIMARY KEY, n integer NOT NULL)");
            await m.sql("INSERT INTO ledger VALUES ('x', 1)");
          },
        }),
        defineMigration({
          version: 2,
          name: "add-100",
          async up(m) {
            await m.sql("UPDATE ledger SET n = n + 100");
            if (direction === "up") await pause();
          },
          async down(m) {
            await m.sql("UPDATE ledger SET n = n - 100");
            if (direction === "down") await pause();
          },
        }),
      ];
      const log = logger();
      const a = await createStorage({ url, entities: [Thing], autoCreate: true, migrations: direction === "down" ? migrations : migrations.slice(0, 1), logger: log });
      const tagB = `${tag}_b`;
      const b = await createStorage({ url: url.replace(tag, tagB), migrations, timeoutMs: 20_000, logger: logger() });
      try {
        await a.migrations.up();
        if (direction === "up") {
          // Runner a now knows of migration 2 as well (a fresh storage: migrations are configured at creation).
          await a.close();
        }
        const runnerA = direction === "up" ? await createStorage({ url, migrations, logger: log }) : a;
        try {
          const outcomeA = runnerA.migrations[direction]().catch((e: unknown) => e);
          await inside.promise;
          const holder = await admin.query<{ pid: number }>(
            `SELECT a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND a.datname = $1 AND a.application_name = $2`,
            [db.name, tag],
          );
          expect(holder.rows).toHaveLength(1);
          await terminate([holder.rows[0]!.pid]);
          await gone(holder.rows[0]!.pid);
          // Runner b takes the free lock, reads the applied list (a has not committed) and runs the same
          // migration, whose UPDATE waits for a's row lock.
          const outcomeB = b.migrations[direction]().catch((e: unknown) => e);
          await oneBackend(tagB, "wait_event_type = 'Lock'");
          proceed.resolve();
          const errorA = await outcomeA;
          expect(errorA).toBeInstanceOf(MigrationError);
          expect(errorA).toMatchObject({ version: 2 });
          expect((errorA as Error).cause).toBeInstanceOf(ConnectionError);
          expect(await outcomeB).toEqual([expect.objectContaining({ version: 2, direction })]);
          const { rows } = await admin.query<{ n: number }>(`SELECT n FROM ${new URL(url).searchParams.get("options")!.split("=")[1]}.ledger`);
          expect(rows).toEqual([{ n: direction === "up" ? 101 : 1 }]);
          expect((await b.migrations.status()).map((s) => s.state)).toEqual(direction === "up" ? ["applied", "applied"] : ["applied", "pending"]);
        } finally {
          if (runnerA !== a) await runnerA.close();
        }
      } finally {
        if (direction === "down") await a.close();
        await b.close();
      }
    },
  );

  test("a transaction timing out during saveMany's first chunk: none of its chunks is written, also those it sends after the rollback", async () => {
    const { url, tag } = await taggedUrl();
    const storage = await createStorage({ url, entities: [Thing], autoCreate: true, logger: logger() });
    try {
      // In this test's own schema: inserting a row labelled "slow" sleeps, which holds the first chunk past the timeout.
      await runInSchema(url, tag, [
        `CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(1); RETURN NEW; END $$`,
        `CREATE TRIGGER slow_insert BEFORE INSERT ON sql_things FOR EACH ROW WHEN (NEW.label = 'slow') EXECUTE FUNCTION slow_insert()`,
      ]);
      const things = storage.repository(Thing);
      // One chunk of saveMany, which upsertMany writes as two statements (500 rows a statement).
      const rows = Array.from({ length: 600 }, (_, i) => ({ id: `r${String(i).padStart(3, "0")}`, label: i === 0 ? "slow" : "tx" }) as Thing);
      let saving: Promise<unknown> | undefined;
      const outcome = await storage
        .transaction(
          async () => {
            saving = things.saveMany(rows, { chunkSize: 1000 });
            await saving;
          },
          { timeoutMs: 300 },
        )
        .catch((e: unknown) => e);
      expect(outcome).toBeInstanceOf(TransactionError);
      // The callback's saveMany goes on after the timeout: its second statement is refused, not sent after the ROLLBACK.
      expect(await saving!.catch((e: unknown) => e)).toBeInstanceOf(TransactionError);
      expect(await things.count()).toBe(0);
      await stillWorks(storage, []);
    } finally {
      await storage.close();
    }
  });

  test("terminated inside a nested transaction (a savepoint) whose failure the callback catches: the outer transaction rejects, nothing written", async () => {
    const { url, tag } = await taggedUrl();
    const storage = await createStorage({ url, entities: [Thing], autoCreate: true, logger: logger() });
    try {
      const things = storage.repository(Thing);
      const inside = signal();
      const proceed = signal();
      let inner: unknown;
      const outcome = storage
        .transaction(async () => {
          await things.save({ id: "outer" } as Thing);
          inner = await storage
            .transaction(async () => {
              await things.save({ id: "inner" } as Thing);
              inside.resolve();
              await proceed.promise;
              await things.save({ id: "inner-2" } as Thing);
            })
            .catch((e: unknown) => e);
          // Going on after a failed savepoint is the documented way to survive a failed statement.
          await things.save({ id: "outer-2" } as Thing);
        })
        .catch((e: unknown) => e);
      await inside.promise;
      await terminate([await oneBackend(tag, "state = 'idle in transaction'")]);
      proceed.resolve();
      expect(await outcome).toBeInstanceOf(ConnectionError);
      expect(inner).toBeInstanceOf(ConnectionError);
      await stillWorks(storage, []);
    } finally {
      await storage.close();
    }
  });

  test("down() of a migration whose record another runner removed meanwhile fails and rolls back: it is never reverted twice", async () => {
    const { url } = await taggedUrl();
    const schema = new URL(url).searchParams.get("options")!.split("=")[1]!;
    const migrations = [
      defineMigration({
        version: 1,
        name: "ledger",
        async up(m) {
          await m.sql("CREATE TABLE ledger (id text PRIMARY KEY, n integer NOT NULL)");
          await m.sql("INSERT INTO ledger VALUES ('x', 1)");
        },
        async down(m) {
          await m.sql("UPDATE ledger SET n = n - 1");
          // What a second runner, that read the same list of applied migrations, commits meanwhile.
          await admin.query(`DELETE FROM "${schema}".strata_migrations WHERE version = 1`);
        },
      }),
    ];
    const storage = await createStorage({ url, migrations, logger: logger() });
    try {
      await storage.migrations.up();
      const error = await storage.migrations.down().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MigrationError);
      expect(error).toMatchObject({ version: 1 });
      expect((error as Error).message).toMatch(/another runner reverted it/);
      const { rows } = await admin.query(`SELECT n FROM "${schema}".ledger`);
      expect(rows).toEqual([{ n: 1 }]);
    } finally {
      await storage.close();
    }
  });
});
