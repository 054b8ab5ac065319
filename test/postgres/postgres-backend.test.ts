import "reflect-metadata";
import { execFile } from "node:child_process";
import * as path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { CapacityError, ConnectionError, createStorage, IntegrityError, LockError, TransactionError, UnsupportedError, ValidationError } from "../../src/index.js";
import { Account, Counter, Thing } from "../fixtures/sql-entities.js";
import { backendSelected, sqlBackendCases } from "../sql/sql-backend-cases.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "./pg-test-database.js";

const skip = backendSelected("postgres") ? pgSkipReason() : "BACKENDS excludes postgres";
let db: PgTestDatabase;
if (!skip) {
  beforeAll(async () => {
    db = await PgTestDatabase.create(PG_URL!);
  });
  afterAll(async () => {
    await db?.drop();
  });
}

describe.skipIf(skip !== undefined || !backendSelected("postgres"))("postgres", () => {
  sqlBackendCases("postgres", async (options) => createStorage({ url: await db.freshSchemaUrl(), entities: [Thing, Counter, Account], autoCreate: true, ...options }));

  describe("postgres: connections and transactions", () => {
    test("a refused connection is a ConnectionError naming host and port", async () => {
      const error = await createStorage({ url: "postgres://postgres@127.0.0.1:1/none", entities: [Thing], timeoutMs: 2000 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConnectionError);
      expect((error as Error).message).toContain("127.0.0.1:1");
      expect((error as Error).cause).toBeDefined();
    });

    test("postgresql:// URLs open the postgres backend, and backup names pg_dump", async () => {
      const storage = await createStorage({ url: (await db.freshSchemaUrl()).replace(/^postgres:/, "postgresql:"), entities: [Thing], autoCreate: true });
      try {
        expect(storage.backend).toBe("postgres");
        await storage.repository(Thing).save({ id: "a", label: "x" } as Thing);
        const error = await storage.backup("/tmp/never").catch((e: unknown) => e);
        expect(error).toBeInstanceOf(UnsupportedError);
        expect((error as Error).message).toContain("pg_dump");
      } finally {
        await storage.close();
      }
    });

    test("text holding NUL, which PostgreSQL cannot store, is a ValidationError naming the table", async () => {
      const storage = await createStorage({ url: await db.freshSchemaUrl(), entities: [Thing], autoCreate: true });
      try {
        const error = await storage.repository(Thing).save({ id: "a", label: "x\u0000y" } as Thing).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ValidationError);
        expect(error).toMatchObject({ table: "sql_things" });
        expect(await storage.repository(Thing).count()).toBe(0);
      } finally {
        await storage.close();
      }
    });

    test("after a failed statement a transaction refuses more work with a TransactionError, unless the failure was in a nested transaction", async () => {
      const storage = await createStorage({ url: await db.freshSchemaUrl(), entities: [Thing], autoCreate: true });
      try {
        const things = storage.repository(Thing);
        await things.insert({ id: "a" } as Thing);
        const outcome = await storage
          .transaction(async () => {
            await things.insert({ id: "a" } as Thing).catch(() => undefined);
            await things.save({ id: "b" } as Thing);
          })
          .catch((e: unknown) => e);
        expect(outcome).toBeInstanceOf(TransactionError);
        await storage.transaction(async () => {
          const nested = await storage.transaction(() => things.insert({ id: "a" } as Thing)).catch((e: unknown) => e);
          expect(nested).toBeInstanceOf(IntegrityError);
          await things.save({ id: "c" } as Thing);
        });
        expect((await things.findAll()).map((t) => t.id)).toEqual(["a", "c"]);
      } finally {
        await storage.close();
      }
    });

    test("a transaction whose failed statement was caught, and that then ends, rejects: PostgreSQL rolled it back", async () => {
      const storage = await createStorage({ url: await db.freshSchemaUrl(), entities: [Thing], autoCreate: true });
      try {
        const things = storage.repository(Thing);
        await things.insert({ id: "dup" } as Thing);
        const outcome = await storage
          .transaction(async () => {
            await things.save({ id: "written" } as Thing);
            await things.insert({ id: "dup" } as Thing).catch(() => undefined);
            return "done";
          })
          .catch((e: unknown) => e);
        expect(outcome).toBeInstanceOf(TransactionError);
        expect((outcome as Error).message).toMatch(/rolled back, not committed/);
        expect(await things.findById("written")).toBeNull();
        await things.save({ id: "after" } as Thing);
        expect((await things.findAll()).map((t) => t.id)).toEqual(["after", "dup"]);
      } finally {
        await storage.close();
      }
    });

    test("a transaction waiting on a row lock past its timeoutMs rejects at its deadline, not when the lock frees", async () => {
      // lock_timeout follows the storage's timeoutMs: make it far longer than this test may take.
      const storage = await createStorage({ url: await db.freshSchemaUrl(), entities: [Thing], autoCreate: true, timeoutMs: 600_000 });
      try {
        const things = storage.repository(Thing);
        await things.insert({ id: "x" } as Thing);
        let locked!: () => void;
        const holding = new Promise<void>((resolve) => (locked = resolve));
        let release!: () => void;
        const gate = new Promise<void>((resolve) => (release = resolve));
        const holder = storage.transaction(async () => {
          await things.findById("x");
          locked();
          await gate;
        });
        await holding;
        // The holder only lets go after this rejects: without a prompt timeout the test would hang.
        const outcome = await storage.transaction(async () => void (await things.findById("x")), { timeoutMs: 100 }).catch((e: unknown) => e);
        expect(outcome).toBeInstanceOf(TransactionError);
        release();
        await holder;
        await things.update("x", { label: "after" } as Partial<Thing>);
        expect((await things.findById("x"))!.label).toBe("after");
      } finally {
        await storage.close();
      }
    });

    test("100 concurrent read-increment-write transactions end at +100, also split over two storages", async () => {
      const url = await db.freshSchemaUrl();
      const one = await createStorage({ url, entities: [Counter], autoCreate: true, poolSize: 5 });
      const two = await createStorage({ url, entities: [Counter], poolSize: 5 });
      try {
        await one.repository(Counter).save({ name: "c", value: 0 });
        const increment = (storage: typeof one) =>
          storage.transaction(async () => {
            const counters = storage.repository(Counter);
            const c = await counters.findById("c");
            await counters.save({ name: "c", value: c!.value + 1 });
          });
        await Promise.all(Array.from({ length: 100 }, () => increment(one)));
        expect((await one.repository(Counter).findById("c"))!.value).toBe(100);
        await Promise.all(Array.from({ length: 100 }, (_, i) => increment(i % 2 === 0 ? one : two)));
        expect((await two.repository(Counter).findById("c"))!.value).toBe(200);
      } finally {
        await one.close();
        await two.close();
      }
    });

    test("a row lock held longer than timeoutMs is a LockError for the transaction waiting on it", async () => {
      const storage = await createStorage({ url: await db.freshSchemaUrl(), entities: [Counter], autoCreate: true, timeoutMs: 300 });
      try {
        const counters = storage.repository(Counter);
        await counters.save({ name: "c", value: 0 });
        let locked!: () => void;
        const holding = new Promise<void>((resolve) => (locked = resolve));
        let finish!: () => void;
        const hold = new Promise<void>((resolve) => (finish = resolve));
        const first = storage.transaction(async () => {
          await counters.findById("c");
          locked();
          await hold;
        });
        await holding;
        const second = await storage.transaction(() => counters.findById("c")).catch((e: unknown) => e);
        expect(second).toBeInstanceOf(LockError);
        finish();
        await first;
        expect(await storage.transaction(() => counters.findById("c"))).toEqual({ name: "c", value: 0 });
      } finally {
        await storage.close();
      }
    });

    test("two processes incrementing one counter through transactions lose no update", async () => {
      const url = await db.freshSchemaUrl();
      const setup = await createStorage({ url, entities: [Counter], autoCreate: true });
      await setup.repository(Counter).save({ name: "c", value: 0 });
      await setup.close();
      const child = path.resolve("dist/test/fixtures/sql-counter-child.js");
      const run = promisify(execFile);
      await Promise.all([run(process.execPath, [child, url, "50"]), run(process.execPath, [child, url, "50"])]);
      const storage = await createStorage({ url, entities: [Counter] });
      try {
        expect((await storage.repository(Counter).findById("c"))!.value).toBe(100);
      } finally {
        await storage.close();
      }
    });
  });
  describe("postgres: limits and data errors", () => {
    /** Text that compresses poorly, so PostgreSQL's index sees about its full length. */
    const noise = (length: number) => Array.from({ length: Math.ceil(length / 10) }, () => Math.random().toString(36).slice(2, 12)).join("").slice(0, length);

    test("a 10 MB primary key is a CapacityError naming the table and the key field, and nothing is stored", async () => {
      const storage = await createStorage({ url: await db.freshSchemaUrl(), entities: [Thing], autoCreate: true });
      try {
        const things = storage.repository(Thing);
        const key = noise(10 * 1024 * 1024);
        const error = await things.save({ id: key } as Thing).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(CapacityError);
        expect(error).toMatchObject({ code: "STRATA_CAPACITY", table: "sql_things", field: "id" });
        expect((error as Error).message).toMatch(/index/);
        expect(await things.count()).toBe(0);
        // Inside a transaction too, where it ends the transaction.
        const inside = await storage.transaction(() => things.insert({ id: key } as Thing)).catch((e: unknown) => e);
        expect(inside).toMatchObject({ code: "STRATA_CAPACITY", table: "sql_things", field: "id" });
        expect(await things.count()).toBe(0);
      } finally {
        await storage.close();
      }
    });

    test("a value too long for a unique index is a CapacityError naming the indexed field", async () => {
      const storage = await createStorage({ url: await db.freshSchemaUrl(), entities: [Account], autoCreate: true });
      try {
        const accounts = storage.repository(Account);
        const error = await accounts.save({ email: noise(20_000), balance: 1 } as Account).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(CapacityError);
        expect(error).toMatchObject({ table: "sql_accounts", field: "email" });
        expect(await accounts.count()).toBe(0);
      } finally {
        await storage.close();
      }
    });

    test("NUL in json is a ValidationError naming the json field, not the text columns", async () => {
      const storage = await createStorage({ url: await db.freshSchemaUrl(), entities: [Thing], autoCreate: true });
      try {
        const things = storage.repository(Thing);
        const error = await things.save({ id: "a", data: { text: "a\u0000b" } } as Thing).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ValidationError);
        expect(error).toMatchObject({ table: "sql_things", field: "data" });
        expect((error as Error).message).toMatch(/^Thing\.data:/);
        expect(await things.count()).toBe(0);
      } finally {
        await storage.close();
      }
    });

    test("check and foreign-key constraints of the user's own: ValidationError and IntegrityError naming table and field", async () => {
      const url = await db.freshSchemaUrl();
      const storage = await createStorage({ url, entities: [Thing], autoCreate: true });
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const things = storage.repository(Thing);
        await client.query("ALTER TABLE sql_things ADD CHECK (rank >= 0)");
        await client.query("ALTER TABLE sql_things ADD CONSTRAINT label_short CHECK (length(label) < 5)");
        await client.query("CREATE TABLE parent (id text PRIMARY KEY, thing text REFERENCES sql_things (id))");
        await client.query("ALTER TABLE sql_things ADD CONSTRAINT thing_flag FOREIGN KEY (label) REFERENCES parent (id)");
        const check = await things.save({ id: "a", rank: -1 } as Thing).catch((e: unknown) => e);
        expect(check).toBeInstanceOf(ValidationError);
        expect(check).toMatchObject({ table: "sql_things", field: "rank" });
        expect((check as Error).message).toContain("sql_things_rank_check");
        const named = await things.save({ id: "a", label: "too long" } as Thing).catch((e: unknown) => e);
        expect(named).toBeInstanceOf(ValidationError);
        expect(named).toMatchObject({ table: "sql_things" });
        expect((named as Error).message).toContain("label_short");
        const missing = await things.save({ id: "a", label: "x" } as Thing).catch((e: unknown) => e);
        expect(missing).toBeInstanceOf(IntegrityError);
        expect(missing).toMatchObject({ table: "sql_things", field: "label" });
        await things.save({ id: "p" } as Thing);
        await client.query("INSERT INTO parent VALUES ('z', 'p')");
        const referenced = await storage.transaction(() => things.delete("p")).catch((e: unknown) => e);
        expect(referenced).toBeInstanceOf(IntegrityError);
        // A key added after the storage opened is read on the failure, and named as a declared one is.
        expect(referenced).toMatchObject({ table: "sql_things" });
        expect((referenced as Error).message).toBe(`sql_things row "p" is still referenced by parent (parent.thing, onDelete RESTRICT)`);
        expect((await things.findAll()).map((t) => t.id)).toEqual(["p"]);
      } finally {
        await client.end();
        await storage.close();
      }
    });

    test("json PostgreSQL rejects is a ValidationError naming the table and the json field", async () => {
      const storage = await createStorage({ url: await db.freshSchemaUrl(), entities: [Thing], autoCreate: true });
      try {
        const things = storage.repository(Thing);
        // A lone surrogate: JSON.stringify escapes it, and jsonb refuses the escape.
        const error = await things.save({ id: "a", data: { text: "\ud800" } } as Thing).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ValidationError);
        expect(error).toMatchObject({ table: "sql_things", field: "data" });
        expect(await things.count()).toBe(0);
      } finally {
        await storage.close();
      }
    });
  });
});
