import { mkdtempSync, rmSync, writeFileSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import "reflect-metadata";
import { Column, Entity, PrimaryColumn } from "typeorm";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import type { Storage } from "../../src/index.js";
import { createStorage, defineMigration, LockError, MigrationError, SchemaError, UnsupportedError } from "../../src/index.js";
import { migrationBackends } from "./migration-backends.js";
import { coreOf } from "../../src/storage-core.js";

@Entity("tasks")
class Task {
  @PrimaryColumn({ type: "string" }) id: string;
  @Column({ type: "string" }) title: string;
  @Column({ type: "integer", default: 0 }) priority: number;
}

@Entity("events")
class Event {
  @PrimaryColumn({ type: "string" }) id: string;
  @Column({ type: "string", name: "event_title" }) title: string;
}

/** A migration file's text: a plain object (the loader checks it as defineMigration would). */
function file(version: number, name: string, up: string, down?: string): string {
  return `export default {\n  version: ${version},\n  name: ${JSON.stringify(name)},\n  async up(m) { ${up} },\n${down === undefined ? "" : `  async down(m) { ${down} },\n`}};\n`;
}

const CREATE_TASKS = file(
  1,
  "create-tasks",
  `await m.createTable("tasks", { id: { type: "string", primary: true }, title: { type: "string" } });`,
  `await m.dropTable("tasks");`,
);
const SEED_TASKS = file(
  2,
  "seed-tasks",
  `await m.insertRows("tasks", [{ id: "a", title: "first" }, { id: "b", title: "second" }]);`,
  `await m.updateRows("tasks", () => undefined);`,
);
const ADD_PRIORITY = file(
  3,
  "add-priority",
  `await m.addColumn("tasks", "priority", { type: "integer", default: 0 }); await m.createIndex("tasks", ["priority"]);`,
  `await m.dropColumn("tasks", "priority");`,
);

for (const backend of migrationBackends()) {
  describe(`${backend.name}: migration runner`, () => {
    let dir: string;
    let cleanup: () => Promise<void>;
    let config: Awaited<ReturnType<typeof backend.fresh>>["config"];
    const opened: Storage[] = [];

    beforeEach(async () => {
      dir = mkdtempSync(path.join(tmpdir(), "strata-migrations-"));
      ({ config, cleanup } = await backend.fresh());
    });
    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
      await cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    const write = (name: string, text: string) => writeFileSync(path.join(dir, name), text);
    const open = async (extra: Partial<Parameters<typeof createStorage>[0] & object> = {}) => {
      const storage = await createStorage({ ...config, migrations: dir, ...extra });
      opened.push(storage);
      return storage;
    };
    const states = async (storage: Storage) => (await storage.migrations.status()).map((s) => `${s.version}:${s.state}`);

    test("up applies pending migrations in version order and records each", async () => {
      write("0003-add-priority.mjs", ADD_PRIORITY);
      write("0001-create-tasks.mjs", CREATE_TASKS);
      write("0002-seed-tasks.mjs", SEED_TASKS);
      const storage = await open({ entities: [Task] });
      expect(await states(storage)).toEqual(["1:pending", "2:pending", "3:pending"]);
      const applied = await storage.migrations.up();
      expect(applied.map((r) => r.version)).toEqual([1, 2, 3]);
      const status = await storage.migrations.status();
      expect(status.map((s) => s.state)).toEqual(["applied", "applied", "applied"]);
      expect(status[0]!.appliedAt).toBeInstanceOf(Date);
      expect(status[0]!.checksum).toMatch(/^[0-9a-f]{64}$/);
      // The entity binds to the table the migrations made; rows that existed got the added column's default.
      const tasks = storage.repository(Task);
      expect((await tasks.findById("a"))?.priority).toBe(0);
      await tasks.save({ id: "c", title: "third", priority: 5 });
      expect((await tasks.findAll({ where: { priority: 5 } })).map((t) => t.id)).toEqual(["c"]);
      expect(await storage.migrations.up()).toEqual([]);
    });

    test("up({ to }) stops at the version; down reverts one by default, or down to a version", async () => {
      write("0001-create-tasks.mjs", CREATE_TASKS);
      write("0002-seed-tasks.mjs", SEED_TASKS);
      write("0003-add-priority.mjs", ADD_PRIORITY);
      const storage = await open();
      expect((await storage.migrations.up({ to: 2 })).map((r) => r.version)).toEqual([1, 2]);
      expect(await states(storage)).toEqual(["1:applied", "2:applied", "3:pending"]);
      await storage.migrations.up();
      expect((await storage.migrations.down()).map((r) => r.version)).toEqual([3]);
      expect(await states(storage)).toEqual(["1:applied", "2:applied", "3:pending"]);
      expect((await storage.migrations.down({ to: 0 })).map((r) => r.version)).toEqual([2, 1]);
      expect(await states(storage)).toEqual(["1:pending", "2:pending", "3:pending"]);
      // Reverted all the way: the tables are gone, and applying again works.
      await storage.migrations.up();
      expect(await states(storage)).toEqual(["1:applied", "2:applied", "3:applied"]);
    });

    test("a migration failing half-way leaves data and the recorded version as they were", async () => {
      write("0001-create-tasks.mjs", CREATE_TASKS);
      write("0002-seed-tasks.mjs", SEED_TASKS);
      write(
        "0003-breaks.mjs",
        file(3, "breaks", `await m.updateRows("tasks", (row) => ({ title: row.title + "!" })); await m.createTable("audit", { id: { type: "integer", primary: true } }); throw new Error("boom");`),
      );
      const storage = await open({ entities: [Task] });
      await storage.migrations.up({ to: 2 });
      const error = await storage.migrations.up().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MigrationError);
      expect((error as MigrationError).version).toBe(3);
      expect((error as MigrationError).message).toContain("0003-breaks.mjs");
      expect((error as MigrationError).message).toContain("boom");
      expect(await states(storage)).toEqual(["1:applied", "2:applied", "3:pending"]);
      const tx = await coreOf(storage).backend.begin();
      try {
        expect(await tx.schema!().listTables()).not.toContain("audit");
      } finally {
        await tx.rollback();
      }
      write("0003-breaks.mjs", file(3, "breaks", `await m.addColumn("tasks", "priority", { type: "integer", default: 0 });`));
      await storage.migrations.up();
      expect((await storage.repository(Task).findById("a"))?.title).toBe("first");
    });

    test("an applied migration whose file changed, or that went missing, stops everything before it runs", async () => {
      write("0001-create-tasks.mjs", CREATE_TASKS);
      write("0002-seed-tasks.mjs", SEED_TASKS);
      const storage = await open();
      await storage.migrations.up();
      write("0001-create-tasks.mjs", CREATE_TASKS.replace("title", "name"));
      write("0003-add-priority.mjs", ADD_PRIORITY);
      expect(await states(storage)).toEqual(["1:changed", "2:applied", "3:pending"]);
      const changed = await storage.migrations.up().catch((e: unknown) => e);
      expect(changed).toBeInstanceOf(MigrationError);
      expect((changed as Error).message).toMatch(/0001-create-tasks\.mjs.*changed/);
      await expect(storage.migrations.validate()).rejects.toThrow(MigrationError);
      await expect(storage.migrations.down()).rejects.toThrow(/changed/);
      write("0001-create-tasks.mjs", CREATE_TASKS);
      unlinkSync(path.join(dir, "0002-seed-tasks.mjs"));
      expect(await states(storage)).toEqual(["1:applied", "2:missing", "3:pending"]);
      await expect(storage.migrations.up()).rejects.toThrow(/migration 2 "seed-tasks" is recorded as applied but no file/);
      expect(await states(storage)).toEqual(["1:applied", "2:missing", "3:pending"]);
    });

    test("a pending migration older than the newest applied is refused unless allowOutOfOrder", async () => {
      write("0001-create-tasks.mjs", CREATE_TASKS);
      write("0003-add-priority.mjs", ADD_PRIORITY);
      const storage = await open();
      await storage.migrations.up();
      write("0002-seed-tasks.mjs", SEED_TASKS);
      await expect(storage.migrations.up()).rejects.toThrow(/0002-seed-tasks\.mjs.*older than the newest applied migration \(3\)/);
      await expect(storage.migrations.validate()).rejects.toThrow(MigrationError);
      expect(await states(storage)).toEqual(["1:applied", "2:pending", "3:applied"]);
      expect((await storage.migrations.up({ allowOutOfOrder: true })).map((r) => r.version)).toEqual([2]);
      expect(await states(storage)).toEqual(["1:applied", "2:applied", "3:applied"]);
    });

    test("a dry run lists what would run and changes nothing", async () => {
      write("0001-create-tasks.mjs", CREATE_TASKS);
      write("0002-seed-tasks.mjs", SEED_TASKS);
      const storage = await open();
      const plan = await storage.migrations.up({ dryRun: true });
      expect(plan.map((r) => [r.version, r.name, r.dryRun])).toEqual([
        [1, "create-tasks", true],
        [2, "seed-tasks", true],
      ]);
      expect(await states(storage)).toEqual(["1:pending", "2:pending"]);
      const tx = await coreOf(storage).backend.begin();
      try {
        // Only the runners' lock row may exist: no table of the migrations, no record.
        expect((await tx.schema!().listTables()).filter((t) => t !== "strata_migration_lock")).toEqual([]);
      } finally {
        await tx.rollback();
      }
      await storage.migrations.up();
      expect((await storage.migrations.down({ dryRun: true })).map((r) => r.version)).toEqual([2]);
      expect(await states(storage)).toEqual(["1:applied", "2:applied"]);
      write("0003-breaks.mjs", file(3, "breaks", `await m.dropTable("no_such_table");`));
      if (coreOf(storage).backend.capabilities.supportsTransactionalDdl) {
        await expect(storage.migrations.up({ dryRun: true })).rejects.toThrow(/Dry run: migration 3 "breaks".*would fail.*no_such_table/);
      }
      expect(await states(storage)).toEqual(["1:applied", "2:applied", "3:pending"]);
    });

    test("down refuses, before reverting anything, when a migration has no down", async () => {
      write("0001-create-tasks.mjs", file(1, "create-tasks", `await m.createTable("tasks", { id: { type: "string", primary: true }, title: { type: "string" } });`));
      write("0002-seed-tasks.mjs", SEED_TASKS);
      const storage = await open();
      await storage.migrations.up();
      const error = await storage.migrations.down({ to: 0 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MigrationError);
      expect((error as MigrationError).file).toBe(path.join(dir, "0001-create-tasks.mjs"));
      expect(await states(storage)).toEqual(["1:applied", "2:applied"]);
    });

    test("an entity whose property differs from its column name: migrations see the column, the entity its property", async () => {
      write("0001-create-events.mjs", file(1, "create-events", `await m.createTable("events", { id: { type: "string", primary: true }, event_title: { type: "string" } });`));
      const storage = await open({ entities: [Event] });
      await storage.migrations.up();
      await storage.repository(Event).save({ id: "e1", title: "Launch" });
      write("0002-shout.mjs", file(2, "shout", `await m.updateRows("events", (row) => ({ event_title: row.event_title.toUpperCase() })); await m.addColumn("events", "place", { type: "string", default: "online" });`));
      await storage.migrations.up();
      expect(await storage.repository(Event).findById("e1")).toEqual({ id: "e1", title: "LAUNCH" });
      await storage.repository(Event).save({ id: "e2", title: "Party" });
      write("0003-check.mjs", file(3, "check", `const seen = []; await m.updateRows("events", (row) => { seen.push(row.event_title + "@" + row.place); }); if (seen.join() !== "LAUNCH@online,Party@online") throw new Error(seen.join());`));
      await storage.migrations.up();
      expect(await states(storage)).toEqual(["1:applied", "2:applied", "3:applied"]);
      await storage.repository(Event).save({ id: "e3", title: "After" });
      if (coreOf(storage).backend.capabilities.persistent) {
        await storage.close();
        const again = await open({ entities: [Event] });
        expect(await again.repository(Event).findAll({ orderBy: { id: "asc" } })).toEqual([
          { id: "e1", title: "LAUNCH" },
          { id: "e2", title: "Party" },
          { id: "e3", title: "After" },
        ]);
      }
    });

    test("the folder is read afresh at each call", async () => {
      write("0001-create-tasks.mjs", CREATE_TASKS);
      const storage = await open();
      await storage.migrations.up();
      write("0002-seed-tasks.mjs", SEED_TASKS);
      expect((await storage.migrations.up()).map((r) => r.version)).toEqual([2]);
    });

    test("events, schemaVersion and after-commit writes follow each migration", async () => {
      write("0001-create-tasks.mjs", CREATE_TASKS);
      write("0002-seed-tasks.mjs", SEED_TASKS);
      const storage = await open();
      const events: string[] = [];
      for (const e of ["migrating", "migrated", "reverting", "reverted"] as const) storage.migrations.on(e, (ev) => events.push(`${e}:${ev.version}`));
      const written: string[] = [];
      storage.onCommit((writes) => written.push(...writes.keys()));
      const before = coreOf(storage).schemaVersion;
      await storage.migrations.up();
      await storage.migrations.down();
      expect(events).toEqual(["migrating:1", "migrated:1", "migrating:2", "migrated:2", "reverting:2", "reverted:2"]);
      expect(coreOf(storage).schemaVersion).toBe(before + 3);
      expect(written).toContain("tasks");
      expect(written).toContain("strata_migrations");
    });

    test("an entity that declares a column the migrated table lacks is a SchemaError naming both", async () => {
      write("0001-create-tasks.mjs", CREATE_TASKS);
      const storage = await open({ entities: [Task] });
      await storage.migrations.up();
      const error = await storage.repository(Task).findById("x").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SchemaError);
      expect((error as SchemaError).message).toMatch(/"tasks".*"priority"/);
      expect((error as SchemaError).table).toBe("tasks");
    });

    test("m.sql is for SQL backends only; a failing statement names the migration", async () => {
      write("0001-raw.mjs", file(1, "raw", `await m.sql("SELECT 1");`));
      const storage = await open();
      const sqlBackend = coreOf(storage).backend.capabilities.supportsSql;
      if (sqlBackend) {
        await storage.migrations.up();
        expect(await states(storage)).toEqual(["1:applied"]);
      } else {
        const error = await storage.migrations.up().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(MigrationError);
        expect((error as Error).cause).toBeInstanceOf(UnsupportedError);
      }
    });

    test("column and index changes: rename, drop, unique index, bad names", async () => {
      write(
        "0001-create.mjs",
        file(1, "create", `await m.createTable("people", { id: { type: "integer", primary: true, generated: "increment" }, email: { type: "string" }, nick: { type: "string", nullable: true } }); await m.insertRows("people", [{ email: "a@x" }, { email: "b@x", nick: "bee" }]);`),
      );
      write("0002-rename.mjs", file(2, "rename", `await m.renameColumn("people", "nick", "nickname"); await m.createIndex("people", ["email"], { unique: true });`));
      write("0003-drop.mjs", file(3, "drop", `await m.dropColumn("people", "nickname"); await m.renameTable("people", "persons");`));
      const storage = await open();
      await storage.migrations.up({ to: 2 });
      const tx = await coreOf(storage).backend.begin();
      try {
        const people = await tx.schema!().describeTable("people");
        expect(people?.columns.map((c) => c.name).sort()).toEqual(["email", "id", "nickname"]);
        expect(people?.indexes.some((i) => i.unique && i.columns.join() === "email")).toBe(true);
      } finally {
        await tx.rollback();
      }
      await storage.migrations.up();
      const tx2 = await coreOf(storage).backend.begin();
      try {
        expect(await tx2.schema!().describeTable("people")).toBeUndefined();
        expect((await tx2.schema!().describeTable("persons"))?.columns.map((c) => c.name).sort()).toEqual(["email", "id"]);
      } finally {
        await tx2.rollback();
      }
      write("0004-dupe.mjs", file(4, "dupe", `await m.insertRows("persons", [{ email: "a@x" }]);`));
      await expect(storage.migrations.up()).rejects.toThrow(/unique|already/i);
      write("0004-dupe.mjs", file(4, "dupe", `await m.addColumn("persons", "bad name", { type: "string", nullable: true });`));
      await expect(storage.migrations.up()).rejects.toThrow(/"bad name".*not a valid name/);
      expect(await states(storage)).toEqual(["1:applied", "2:applied", "3:applied", "4:pending"]);
    });

    test("the loader names the file: duplicate versions, bad file names, a version that disagrees with the file", async () => {
      write("0001-create-tasks.mjs", CREATE_TASKS);
      write("0001-other.mjs", file(1, "other", ``));
      const storage = await open();
      await expect(storage.migrations.status()).rejects.toThrow(/Two migrations have version 1: 0001-create-tasks\.mjs and 0001-other\.mjs/);
      unlinkSync(path.join(dir, "0001-other.mjs"));
      write("create-more.mjs", file(2, "more", ``));
      await expect(storage.migrations.status()).rejects.toThrow(/create-more\.mjs: a migration file is named/);
      unlinkSync(path.join(dir, "create-more.mjs"));
      write("0002-more.mjs", file(3, "more", ``));
      await expect(storage.migrations.status()).rejects.toThrow(/0002-more\.mjs: the file name says version 2/);
      write("0002-more.mjs", `export default { version: 2, name: "more" };`);
      await expect(storage.migrations.status()).rejects.toThrow(/0002-more\.mjs: Invalid migration "more": up must be a function/);
    });

    test("migrations given in code have checksums of their source", async () => {
      const one = defineMigration({ version: 1, name: "one", up: async (m) => m.createTable("t", { id: { type: "string", primary: true } }) });
      const storage = await open({ migrations: [one] });
      await storage.migrations.up();
      const [status] = await storage.migrations.status();
      expect(status?.state).toBe("applied");
      const changed = defineMigration({ version: 1, name: "one", up: async (m) => m.createTable("t2", { id: { type: "string", primary: true } }) });
      await storage.close();
      const again = await open({ migrations: [changed] });
      if (coreOf(storage).backend.capabilities.persistent) expect((await again.migrations.status())[0]?.state).toBe("changed");
    });

    test("a second runner waits for the lock, then gives up with a LockError", async () => {
      write("0001-slow.mjs", file(1, "slow", `await new Promise((r) => globalThis.__releaseSlow = r);`));
      const storage = await open({ timeoutMs: 200 });
      const first = storage.migrations.up();
      // The first runner holds the lock until its migration finishes.
      await expect.poll(() => typeof (globalThis as { __releaseSlow?: unknown }).__releaseSlow).toBe("function");
      await expect(storage.migrations.up()).rejects.toThrow(LockError);
      (globalThis as unknown as { __releaseSlow: () => void }).__releaseSlow();
      delete (globalThis as { __releaseSlow?: unknown }).__releaseSlow;
      expect((await first).map((r) => r.version)).toEqual([1]);
    });
  });
}

describe("memory: a backend without a schema editor", () => {
  test("the runner says UnsupportedError", async () => {
    const { registerBackend } = await import("../../src/index.js");
    const { createMemoryBackend } = await import("../../src/backends/memory/memory-backend.js");
    registerBackend("noschema", async (context) => {
      const inner = await createMemoryBackend(context);
      return {
        name: "noschema",
        capabilities: inner.capabilities,
        session: inner.session,
        begin: async () => {
          const tx = await inner.begin();
          return { ...bindAll(tx), schema: undefined };
        },
        backup: (p) => inner.backup(p),
        close: () => inner.close(),
      };
    });
    const storage = await createStorage({ backend: "noschema", migrations: [defineMigration({ version: 1, name: "x", up: async () => {} })] });
    await expect(storage.migrations.up()).rejects.toThrow(UnsupportedError);
    await expect(storage.migrations.up()).rejects.toThrow(/noschema backend cannot run migrations/);
    await storage.close();
  });
});

function bindAll<T extends object>(obj: T): T {
  const out: Record<string, unknown> = {};
  let proto: object | null = obj;
  while (proto && proto !== Object.prototype) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      const value = (obj as Record<string, unknown>)[key];
      if (key !== "constructor" && typeof value === "function" && !(key in out)) out[key] = (value as Function).bind(obj);
    }
    proto = Object.getPrototypeOf(proto);
  }
  return out as T;
}
