import "reflect-metadata";
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from "typeorm";
import { afterAll, describe, expect, test } from "vitest";
import { mapSqliteError } from "../../src/backends/sqlite/sqlite-errors.js";
import { CapacityError, ConnectionError, createStorage, LockError, StorageError } from "../../src/index.js";
import { Account, Counter, Thing } from "../fixtures/sql-entities.js";
import { backendSelected, sqlBackendCases } from "../sql/sql-backend-cases.js";
import { coreOf } from "../../src/storage-core.js";

const dir = mkdtempSync(path.join(tmpdir(), "strata-sqlite-"));
let n = 0;
const freshFile = () => path.join(dir, `db${++n}.sqlite`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A child process holding `BEGIN EXCLUSIVE` (or `BEGIN IMMEDIATE`) on `file` (test/fixtures/sqlite-lock-holder.ts) until released. */
async function lockHolder(file: string, ...mode: string[]): Promise<{ pid: number; release(): void; kill(): void; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [path.resolve("dist/test/fixtures/sqlite-lock-holder.js"), file, ...mode], { stdio: ["pipe", "pipe", "inherit"] });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const lines = createInterface({ input: child.stdout! });
  const first = await Promise.race([new Promise<string>((resolve) => lines.once("line", resolve)), exited.then((code) => `exited ${code}`)]);
  if (first !== "locked") throw new Error(`the lock holder did not take the lock: ${first}`);
  return { pid: child.pid!, release: () => child.stdin!.write("release\n"), kill: () => child.kill("SIGKILL"), exited };
}

@Entity("day_people")
class Person {
  @PrimaryGeneratedColumn("uuid") id: string;
  @Column({ type: "string" }) name: string;
  @Column({ type: "string" }) email: string;
  @CreateDateColumn() createdAt: Date;
}

describe.skipIf(!backendSelected("sqlite"))("sqlite", () => {
  sqlBackendCases("sqlite (file)", (options) => createStorage({ url: `sqlite:${freshFile()}`, entities: [Thing, Counter, Account], autoCreate: true, ...options }));
  sqlBackendCases("sqlite (:memory:)", (options) => createStorage({ url: "sqlite::memory:", entities: [Thing, Counter, Account], autoCreate: true, ...options }));

  describe("sqlite: tables", () => {
    test("a table made from an entity has its columns in declaration order", async () => {
      const file = freshFile();
      const storage = await createStorage({ url: `sqlite:${file}`, entities: [Person], autoCreate: true });
      await storage.close();
      const db = new Database(file, { readonly: true });
      try {
        const columns = db.prepare(`SELECT name FROM pragma_table_info('day_people') ORDER BY cid`).pluck().all();
        expect(columns).toEqual(["id", "name", "email", "createdAt"]);
      } finally {
        db.close();
      }
    });
  });

  describe("sqlite: select", () => {
    test("a select never reads the columns it leaves out: one that fails to decode does not fail it", async () => {
      const file = freshFile();
      const storage = await createStorage({ url: `sqlite:${file}`, entities: [Thing], autoCreate: true });
      try {
        const things = storage.repository(Thing);
        await things.save({ id: "a", label: "first", rank: 1, score: 2, at: new Date(5), data: { ok: true } } as Thing);
        await things.save({ id: "b", label: "second", rank: 2, score: 1, data: [1] } as Thing);
        // Text that is not JSON, written behind Strata's back: decoding this json column throws.
        const db = new Database(file);
        db.prepare(`UPDATE sql_things SET data = '{not json' WHERE id = 'a'`).run();
        db.close();
        await expect(things.findAll()).rejects.toThrow();
        await expect(things.findAll({ select: ["data"] })).rejects.toThrow();
        const rows = await things.findAll({ select: ["label", "at"], where: { data: { $isNull: false } }, orderBy: { score: "asc" } });
        expect(rows).toEqual([
          { label: "second", at: null },
          { label: "first", at: new Date(5) },
        ]);
        expect(await things.findOne({ select: ["id", "rank"], where: { id: "a" } })).toEqual({ id: "a", rank: 1 });
      } finally {
        await storage.close();
      }
    });
  });

  describe("sqlite: connections and transactions", () => {
    test("a transaction SQLite ends on its own (as after a full disk) stores nothing written after it, nor any savepoint's writes", async () => {
      const file = freshFile();
      const storage = await createStorage({ url: `sqlite:${file}`, entities: [Thing], autoCreate: true });
      try {
        // RAISE(ROLLBACK) ends the whole transaction inside SQLite, as SQLITE_FULL and I/O errors may.
        const db = new Database(file);
        db.exec(`CREATE TRIGGER boom BEFORE INSERT ON sql_things WHEN NEW.label = 'boom' BEGIN SELECT RAISE(ROLLBACK, 'boom'); END`);
        db.close();
        const things = storage.repository(Thing);
        const failed = await storage
          .transaction(async () => {
            await things.save({ id: "a", label: "before" } as Thing);
            await things.save({ id: "b", label: "boom" } as Thing).catch(() => undefined);
            // Without a transaction left, these would be stored in autocommit, or by the savepoint's RELEASE.
            await things.save({ id: "c", label: "after" } as Thing).catch(() => undefined);
            await storage.transaction(() => things.save({ id: "d", label: "nested" } as Thing)).catch(() => undefined);
          })
          .catch((e: unknown) => e);
        expect(failed).toBeInstanceOf(StorageError);
        // An atomic saveMany whose chunk SQLite rolls back is not retried item by item outside the transaction.
        const batch = ["x1", "x2", "boom", "x4"].map((label, i) => ({ id: `m${i}`, label }) as Thing);
        expect(await things.saveMany(batch, { chunkSize: 2 }).catch((e: unknown) => e)).toBeInstanceOf(StorageError);
        expect(await things.findAll()).toEqual([]);
        await things.save({ id: "e", label: "later" } as Thing);
        expect((await things.findAll()).map((t) => t.id)).toEqual(["e"]);
      } finally {
        await storage.close();
      }
    });

    test("WAL mode is applied to the file", async () => {
      const file = freshFile();
      const storage = await createStorage({ url: `sqlite:${file}`, entities: [Thing], autoCreate: true });
      try {
        const probe = new Database(file, { readonly: true });
        expect(probe.pragma("journal_mode", { simple: true })).toBe("wal");
        probe.close();
      } finally {
        await storage.close();
      }
    });

    test("journalMode delete is honoured", async () => {
      const file = freshFile();
      const storage = await createStorage({ url: `sqlite:${file}`, entities: [Thing], autoCreate: true, sqlite: { journalMode: "delete" } });
      await storage.close();
      const probe = new Database(file, { readonly: true });
      expect(probe.pragma("journal_mode", { simple: true })).toBe("delete");
      probe.close();
    });

    test(":memory: a read issued during a transaction that rolls back never returns its row", async () => {
      const storage = await createStorage({ url: "sqlite::memory:", entities: [Thing], autoCreate: true });
      try {
        const things = storage.repository(Thing);
        let inside!: () => void;
        const written = new Promise<void>((resolve) => (inside = resolve));
        const tx = storage.transaction(async () => {
          await things.save({ id: "m", label: "x" } as Thing);
          inside();
          await new Promise((resolve) => setImmediate(resolve));
          throw new Error("roll back");
        });
        await written;
        const read = things.findById("m");
        await expect(tx).rejects.toThrow("roll back");
        expect(await read).toBeNull();
        expect(storage.backend).toBe("sqlite");
      } finally {
        await storage.close();
      }
    });

    test("a write blocked by another connection's lock beyond busy_timeout is a LockError", async () => {
      const file = freshFile();
      const storage = await createStorage({ url: `sqlite:${file}`, entities: [Thing], autoCreate: true, sqlite: { busyTimeoutMs: 50 } });
      const other = new Database(file);
      try {
        other.exec("BEGIN IMMEDIATE");
        const error = await storage.repository(Thing).save({ id: "a" } as Thing).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(LockError);
        other.exec("ROLLBACK");
        await storage.repository(Thing).save({ id: "a" } as Thing);
        expect(await storage.repository(Thing).count()).toBe(1);
      } finally {
        other.close();
        await storage.close();
      }
    });

    test("while another connection holds the write lock, the event loop runs on and the write goes through once it is released", async () => {
      const file = freshFile();
      const storage = await createStorage({ url: `sqlite:${file}`, entities: [Thing], autoCreate: true, sqlite: { busyTimeoutMs: 3000 } });
      const other = new Database(file);
      try {
        other.exec("BEGIN IMMEDIATE");
        other.prepare(`INSERT INTO sql_things (id) VALUES ('other')`).run();
        const write = storage.repository(Thing).save({ id: "mine" } as Thing);
        // A timer can only fire if the waiting write does not block the event loop.
        await new Promise((resolve) => setTimeout(resolve, 50));
        other.exec("COMMIT");
        await write;
        expect((await storage.repository(Thing).findAll()).map((t) => t.id)).toEqual(["mine", "other"]);
      } finally {
        other.close();
        await storage.close();
      }
    });

    test("journal mode delete: a read waiting for another process's exclusive lock leaves the event loop running and returns once it is released", async () => {
      const file = freshFile();
      const storage = await createStorage({ url: `sqlite:${file}`, entities: [Thing], autoCreate: true, sqlite: { journalMode: "delete", busyTimeoutMs: 10_000 } });
      const holder = await lockHolder(file);
      let ticks = 0;
      const timer = setInterval(() => {
        // The holder is told to commit only by this timer: a read that blocked the event loop would never see it.
        if (++ticks === 5) holder.release();
      }, 5);
      try {
        const found = await storage.repository(Thing).findById(`held-by-${holder.pid}`);
        expect(ticks).toBeGreaterThanOrEqual(5);
        expect(found?.id).toBe(`held-by-${holder.pid}`);
        expect(await holder.exited).toBe(0);
      } finally {
        clearInterval(timer);
        holder.kill();
        await storage.close();
      }
    });

    test("journal mode delete: a read locked out beyond busyTimeoutMs is a LockError naming the file, and the event loop ran meanwhile", async () => {
      const file = freshFile();
      const storage = await createStorage({ url: `sqlite:${file}`, entities: [Thing], autoCreate: true, sqlite: { journalMode: "delete", busyTimeoutMs: 300 } });
      await storage.repository(Thing).save({ id: "before" } as Thing);
      const holder = await lockHolder(file);
      let ticks = 0;
      const timer = setInterval(() => ticks++, 5);
      try {
        const error = await storage.repository(Thing).count().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(LockError);
        expect((error as LockError).file).toBe(file);
        expect(ticks).toBeGreaterThan(0);
        holder.release();
        expect(await holder.exited).toBe(0);
        expect(await storage.repository(Thing).count()).toBe(2);
      } finally {
        clearInterval(timer);
        holder.kill();
        await storage.close();
      }
    });

    test("SQLite's length limit (SQLITE_TOOBIG) is a CapacityError naming it and the file, not a bare StorageError", () => {
      const db = new Database(":memory:");
      try {
        const raw = (() => {
          try {
            db.prepare("SELECT zeroblob(2000000000)").get();
          } catch (error) {
            return error;
          }
        })();
        expect((raw as { code?: string }).code).toBe("SQLITE_TOOBIG");
        const mapped = mapSqliteError(raw, undefined, "/data/app.db", 1000);
        expect(mapped).toBeInstanceOf(CapacityError);
        expect((mapped as CapacityError).file).toBe("/data/app.db");
        expect((mapped as Error).message).toContain("SQLITE_MAX_LENGTH");
        expect((mapped as Error).cause).toBe(raw);
      } finally {
        db.close();
      }
    });

    test("a deleteMany split into many statements that fails in a late one deletes nothing, in a transaction or not", async () => {
      const file = freshFile();
      const storage = await createStorage({ url: `sqlite:${file}`, entities: [Thing], autoCreate: true });
      try {
        const things = storage.repository(Thing);
        await things.saveMany(Array.from({ length: 200 }, (_, i) => ({ id: `t${i}`, label: "l" }) as Thing));
        const db = new Database(file);
        db.exec(`CREATE TRIGGER keep BEFORE DELETE ON sql_things WHEN OLD.id = 't150' BEGIN SELECT RAISE(ABORT, 'kept'); END`);
        db.close();
        // 40,000 groups of two parameters: more than one statement binds, so about 80 statements; t150 first comes up in the 60th.
        const where = Array.from({ length: 40_000 }, (_, i) => ({ id: `t${Math.floor(i / 200)}`, label: { $ne: "zz" } }));
        expect(await things.deleteMany(where).catch((e: unknown) => e)).toBeInstanceOf(StorageError);
        expect(await things.count()).toBe(200);
        const inTransaction = await storage.transaction(() => things.deleteMany(where)).catch((e: unknown) => e);
        expect(inTransaction).toBeInstanceOf(StorageError);
        expect(await things.count()).toBe(200);
      } finally {
        await storage.close();
      }
    });

    test("an I/O error (SQLITE_IOERR_WRITE, which SQLite words 'disk I/O error') is not reported as a full disk", () => {
      const raw = new Database.SqliteError("disk I/O error", "SQLITE_IOERR_WRITE");
      const mapped = mapSqliteError(raw, undefined, "/data/app.db", 1000);
      expect(mapped).not.toBeInstanceOf(CapacityError);
      expect(mapped).toBeInstanceOf(StorageError);
      expect((mapped as Error).cause).toBe(raw);
      expect(mapSqliteError(new Database.SqliteError("database or disk is full", "SQLITE_FULL"), undefined, "/data/app.db", 1000)).toBeInstanceOf(CapacityError);
    });

    test("opening a rollback-journal database while another process writes to it waits for the writer instead of failing", async () => {
      const file = freshFile();
      const first = await createStorage({ url: `sqlite:${file}`, entities: [Thing], autoCreate: true, sqlite: { journalMode: "delete" } });
      await first.close();
      // The switch to WAL is refused at once (no busy wait) while another connection holds RESERVED.
      const holder = await lockHolder(file, "immediate", "300");
      const storage = await createStorage({ url: `sqlite:${file}`, entities: [Thing], autoCreate: true });
      try {
        expect(await holder.exited).toBe(0);
        expect((await storage.repository(Thing).findAll()).map((t) => t.id)).toEqual([`held-by-${holder.pid}`]);
      } finally {
        await storage.close();
      }
    });

    test("two processes incrementing one counter through transactions lose no update", async () => {
      const file = freshFile();
      const child = path.resolve("dist/test/fixtures/sql-counter-child.js");
      const run = promisify(execFile);
      const times = 100;
      await Promise.all([run(process.execPath, [child, `sqlite:${file}`, String(times)]), run(process.execPath, [child, `sqlite:${file}`, String(times)])]);
      const storage = await createStorage({ url: `sqlite:${file}`, entities: [Counter] });
      try {
        expect((await storage.repository(Counter).findById("c"))!.value).toBe(2 * times);
      } finally {
        await storage.close();
      }
    });

    test("100 concurrent read-increment-write transactions on one storage end at +100", async () => {
      const storage = await createStorage({ url: `sqlite:${freshFile()}`, entities: [Counter], autoCreate: true });
      try {
        const counters = storage.repository(Counter);
        await counters.save({ name: "c", value: 0 });
        await Promise.all(
          Array.from({ length: 100 }, () =>
            storage.transaction(async () => {
              const c = await counters.findById("c");
              await counters.save({ name: "c", value: c!.value + 1 });
            }),
          ),
        );
        expect((await counters.findById("c"))!.value).toBe(100);
      } finally {
        await storage.close();
      }
    });

    test("backup writes a copy that createStorage opens, while the source stays usable", async () => {
      const source = await createStorage({ url: `sqlite:${freshFile()}`, entities: [Thing], autoCreate: true });
      const target = path.join(dir, "backups", "copy.sqlite");
      try {
        await source.repository(Thing).saveMany([{ id: "a", label: "one" } as Thing, { id: "b", label: "two" } as Thing]);
        await source.backup(target);
        await source.repository(Thing).save({ id: "c" } as Thing);
      } finally {
        await source.close();
      }
      const copy = await createStorage({ url: `sqlite:${target}`, entities: [Thing] });
      try {
        expect((await copy.repository(Thing).findAll()).map((t) => t.label)).toEqual(["one", "two"]);
      } finally {
        await copy.close();
      }
    });

    test("a file that is not a SQLite database, or a path that cannot be created, is a ConnectionError naming it", async () => {
      const garbage = freshFile();
      writeFileSync(garbage, "this is not a database, just text that is long enough to fill a header page ".repeat(20));
      const error = await createStorage({ url: `sqlite:${garbage}`, entities: [Thing], autoCreate: true }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConnectionError);
      expect((error as Error).message).toContain(garbage);
      const blocked = path.join(garbage, "below-a-file", "db.sqlite");
      const error2 = await createStorage({ url: `sqlite:${blocked}`, entities: [Thing] }).catch((e: unknown) => e);
      expect(error2).toBeInstanceOf(ConnectionError);
      expect((error2 as Error).message).toContain(blocked);
    });

    test("capabilities: file storage is persistent and multi-connection, :memory: is neither", async () => {
      const file = await createStorage({ url: `sqlite:${freshFile()}`, entities: [] });
      const memory = await createStorage({ url: "sqlite::memory:", entities: [] });
      try {
        expect(coreOf(file).backend.capabilities).toMatchObject({ persistent: true, supportsMultipleConnections: true, supportsSavepoints: true, supportsSql: true });
        expect(coreOf(memory).backend.capabilities).toMatchObject({ persistent: false, supportsMultipleConnections: false, supportsSavepoints: true });
      } finally {
        await file.close();
        await memory.close();
      }
    });
  });
});
