import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { ENTITIES, Task, User } from "../../entities/index.js";
import { migrationFileText } from "../../src/cli/migration-file.js";
import { diffSchema } from "../../src/migrations/diff-schema.js";
import type { Storage, StorageConfig } from "../../src/index.js";
import { copyStorage, createStorage, MigrationError, readEntitySchema, schemaOfTable } from "../../src/index.js";
import { migrationBackends } from "./migration-backends.js";
import { INC_ENTITIES } from "../fixtures/inc-entities.js";
import { coreOf } from "../../src/storage-core.js";

const DEMO_MIGRATIONS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../migrations");

async function diff(storage: Storage) {
  const tx = await coreOf(storage).backend.begin();
  try {
    return await diffSchema(ENTITIES.map(readEntitySchema), tx.schema!());
  } finally {
    await tx.rollback();
  }
}

const backends = migrationBackends();

for (const backend of backends) {
  describe(`${backend.name}: generate`, () => {
    let dir: string;
    let cleanup: () => Promise<void>;
    let config: StorageConfig;
    let storage: Storage;
    beforeEach(async () => {
      dir = mkdtempSync(path.join(tmpdir(), "strata-generate-"));
      ({ config, cleanup } = await backend.fresh());
    });
    afterEach(async () => {
      await storage?.close();
      await cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    test("after the demo migrations the entities and the schema agree: no difference", async () => {
      storage = await createStorage({ ...config, entities: ENTITIES, migrations: DEMO_MIGRATIONS, autoCreate: false });
      await storage.migrations.up();
      expect(await diff(storage)).toEqual({ up: [], down: [], warnings: [] });
    });

    test("a difference becomes a migration that, once applied, leaves none", async () => {
      for (const f of ["0001-create-users.mjs", "0002-create-projects.mjs", "0003-create-tasks.mjs"]) {
        writeFileSync(path.join(dir, f), (await import("node:fs")).readFileSync(path.join(DEMO_MIGRATIONS, f), "utf8"));
      }
      storage = await createStorage({ ...config, entities: ENTITIES, migrations: dir, autoCreate: false });
      await storage.migrations.up();
      const found = await diff(storage);
      expect(found.up).toEqual([`await m.addColumn("tasks", "labels", { type: "json", nullable: true });`]);
      expect(found.down).toEqual([`await m.dropColumn("tasks", "labels");`]);
      writeFileSync(path.join(dir, "0004-generated.mjs"), migrationFileText(4, "generated", found.up, found.down));
      await storage.migrations.up();
      expect(await diff(storage)).toEqual({ up: [], down: [], warnings: [] });
      await storage.repository(Task).save({ projectId: "p", title: "t", labels: ["x"] } as Task);
      // And the generated down() reverts it.
      await storage.migrations.down();
      expect((await diff(storage)).up).toHaveLength(1);
    });

    test("storage.migrations.diff() compares the storage's own entities with the schema, and changes nothing", async () => {
      storage = await createStorage({ ...config, entities: ENTITIES, migrations: DEMO_MIGRATIONS, autoCreate: false });
      const empty = await storage.migrations.diff();
      expect(empty).toEqual(await diff(storage));
      expect(empty.up.filter((s) => s.startsWith("await m.createTable"))).toHaveLength(3);
      expect(await storage.migrations.diff()).toEqual(empty);
      await storage.migrations.up();
      expect(await storage.migrations.diff()).toEqual({ up: [], down: [], warnings: [] });
    });

    test("storage.migrations.diff() creates a many-to-many join table too, and once applied finds no difference", async () => {
      storage = await createStorage({ ...config, entities: INC_ENTITIES, migrations: dir, autoCreate: false });
      const found = await storage.migrations.diff();
      expect(found.up.some((s) => s.startsWith(`await m.createTable("inc_post_tags"`))).toBe(true);
      writeFileSync(path.join(dir, "0001-generated.mjs"), migrationFileText(1, "generated", found.up, found.down));
      await storage.migrations.up();
      expect(await storage.migrations.diff()).toEqual({ up: [], down: [], warnings: [] });
    });

    test("an empty database needs every table; a changed type is a warning, not a statement", async () => {
      storage = await createStorage({ ...config, entities: ENTITIES, migrations: dir, autoCreate: false });
      const empty = await diff(storage);
      expect(empty.up.filter((s) => s.startsWith("await m.createTable"))).toHaveLength(3);
      writeFileSync(
        path.join(dir, "0001-users.mjs"),
        `export default { version: 1, name: "users", async up(m) { await m.createTable("users", { id: { type: "string", primary: true }, email: { type: "integer", nullable: true }, name: { type: "string" }, createdAt: { type: "datetime" }, extra: { type: "string", nullable: true } }); } };`,
      );
      await storage.migrations.up();
      const found = await diff(storage);
      expect(found.warnings.some((w) => w.includes(`"email"`) && w.includes("integer"))).toBe(true);
      expect(found.up).toContain(`await m.dropColumn("users", "extra");`);
      expect(found.up).toContain(`await m.createIndex("users", ["email"], { unique: true, name: "uq_users_email" });`);
    });
  });
}

for (const from of backends) {
  for (const to of backends) {
    describe(`${from.name} -> ${to.name}: copy`, () => {
      const cleanups: Array<() => Promise<void>> = [];
      const opened: Storage[] = [];
      afterEach(async () => {
        for (const s of opened.splice(0)) await s.close();
        for (const c of cleanups.splice(0)) await c();
      });
      const open = async (backend: typeof from, extra: StorageConfig = {}) => {
        const { config, cleanup } = await backend.fresh();
        cleanups.push(cleanup);
        const storage = await createStorage({ ...config, entities: ENTITIES, migrations: DEMO_MIGRATIONS, autoCreate: false, ...extra });
        opened.push(storage);
        return storage;
      };

      test("copies every table and the migration history, verified, and refuses a non-empty target", async () => {
        const source = await open(from);
        await source.migrations.up();
        const users = source.repository(User);
        for (let i = 0; i < 7; i++) await users.save({ id: `u${i}`, email: `u${i}@example.com`, name: `User ${i}` } as User);
        await source.repository(Task).save({ projectId: "p", title: "with labels", labels: ["a", "b"], dueAt: new Date(1_700_000_000_000) } as Task);
        // A table with generated keys: after the copy, the target's next key follows the copied ones.
        const counters = {
          name: "counters",
          columns: [
            { name: "id", type: "integer" as const, nullable: false, primary: true, unique: false, generated: "increment" as const },
            { name: "label", type: "string" as const, nullable: false, primary: false, unique: false },
          ],
          indexes: [],
        };
        const counterSchema = schemaOfTable(counters);
        const setup = await coreOf(source).backend.begin();
        await setup.schema!().createTable(counters);
        for (const label of ["a", "b", "c"]) await setup.insert(counterSchema, { id: null, label });
        await setup.commit();
        const target = await open(to);
        const progress: string[] = [];
        const copied = await copyStorage(source, target, { batchSize: 3, onProgress: (p) => progress.push(`${p.table}:${p.copied}/${p.total}`) });
        expect(copied.map((c) => [c.table, c.rows])).toEqual([
          ["counters", 3],
          ["projects", 0],
          ["strata_migrations", 4],
          ["tasks", 1],
          ["users", 7],
        ]);
        expect(progress).toContain("users:3/7");
        expect(progress).toContain("users:7/7");
        expect((await target.migrations.status()).map((s) => s.state)).toEqual(["applied", "applied", "applied", "applied"]);
        expect((await target.repository(User).findById("u3"))?.email).toBe("u3@example.com");
        const task = (await target.repository(Task).findAll())[0]!;
        expect(task.labels).toEqual(["a", "b"]);
        expect(task.dueAt?.getTime()).toBe(1_700_000_000_000);
        const next = await coreOf(target).backend.session.insert(counterSchema, { id: null, label: "d" });
        expect(next["id"]).toBe(4);
        await expect(copyStorage(source, target)).rejects.toThrow(MigrationError);
        await expect(copyStorage(source, target)).rejects.toThrow(/not empty.*--force/);
        await source.repository(User).delete("u0");
        const again = await copyStorage(source, target, { force: true });
        expect(again.find((c) => c.table === "users")?.rows).toBe(6);
        expect(await target.repository(User).count()).toBe(6);
      });
    });
  }
}
