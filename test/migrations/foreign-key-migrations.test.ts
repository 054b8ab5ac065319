/**
 * Review attacks on foreign keys in migrations, every migration backend alike: a referenced table renamed
 * (then written to), a self-referencing table renamed, a foreign key column renamed, rows inserted children
 * first in one insertRows, updateRows pointing a row at a missing parent, and a referencing table dropped
 * before the table it referenced.
 */
import "reflect-metadata";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import type { MigrationContext, Storage, StorageConfig } from "../../src/index.js";
import { createStorage, defineMigration, IntegrityError, MigrationError } from "../../src/index.js";
import { migrationBackends } from "./migration-backends.js";

const base = defineMigration({
  version: 1,
  name: "base",
  async up(m) {
    await m.createTable("rvfk_m_parents", { id: { type: "string", primary: true } });
    await m.createTable(
      "rvfk_m_children",
      { id: { type: "string", primary: true }, parentId: { type: "string", nullable: true } },
      { foreignKeys: [{ column: "parentId", references: { table: "rvfk_m_parents" } }] },
    );
    await m.createTable(
      "rvfk_m_tree",
      { id: { type: "string", primary: true }, upId: { type: "string", nullable: true } },
      { foreignKeys: [{ column: "upId", references: { table: "rvfk_m_tree" }, onDelete: "CASCADE" }] },
    );
    await m.insertRows("rvfk_m_parents", [{ id: "p1" }]);
    await m.insertRows("rvfk_m_children", [{ id: "c1", parentId: "p1" }]);
  },
  async down() {},
});

for (const backend of migrationBackends()) {
  describe(`${backend.name}: foreign key migration attacks`, () => {
    let config: StorageConfig;
    let cleanup: () => Promise<void>;
    let storage: Storage | undefined;
    beforeEach(async () => {
      ({ config, cleanup } = await backend.fresh());
    });
    afterEach(async () => {
      await storage?.close();
      storage = undefined;
      await cleanup();
    });

    /** Applies base then `up` as migration 2; the error of the run, or undefined. */
    async function migrate(up: (m: MigrationContext) => Promise<void>): Promise<unknown> {
      storage = await createStorage({ ...config, entities: [], migrations: [base, defineMigration({ version: 2, name: "attack", up, async down() {} })] });
      return storage.migrations.up().then(
        () => undefined,
        (error: unknown) => error,
      );
    }

    function integrityCause(error: unknown): IntegrityError {
      expect(error).toBeInstanceOf(MigrationError);
      const cause = (error as MigrationError).cause;
      expect(cause).toBeInstanceOf(IntegrityError);
      return cause as IntegrityError;
    }

    test("after renaming the referenced table, a row naming a missing parent is refused under the new name", async () => {
      const cause = integrityCause(
        await migrate(async (m) => {
          await m.renameTable("rvfk_m_parents", "rvfk_m_parents2");
          await m.insertRows("rvfk_m_children", [{ id: "c2", parentId: "p1" }]);
          await m.insertRows("rvfk_m_children", [{ id: "c3", parentId: "ghost" }]);
        }),
      );
      expect(cause.message).toBe(`rvfk_m_children.parentId: no rvfk_m_parents2 row has id "ghost"`);
      expect(cause).toMatchObject({ table: "rvfk_m_children", field: "parentId" });
    });

    test("after renaming the referenced table, deleting nothing but dropping it is refused", async () => {
      const error = await migrate(async (m) => {
        await m.renameTable("rvfk_m_parents", "rvfk_m_parents2");
        await m.dropTable("rvfk_m_parents2");
      });
      expect(error).toBeInstanceOf(MigrationError);
      expect(((error as MigrationError).cause as Error).message).toBe(
        `Cannot drop table "rvfk_m_parents2": foreign key "fk_rvfk_m_children_parentId" of table "rvfk_m_children" references it; drop that foreign key first (m.dropForeignKey)`,
      );
    });

    test("a renamed self-referencing table still enforces and cascades its own key", async () => {
      const cause = integrityCause(
        await migrate(async (m) => {
          await m.renameTable("rvfk_m_tree", "rvfk_m_tree2");
          await m.insertRows("rvfk_m_tree2", [{ id: "root", upId: null }, { id: "leaf", upId: "root" }]);
          await m.insertRows("rvfk_m_tree2", [{ id: "x", upId: "rvfk_m_tree" }]);
        }),
      );
      expect(cause.message).toBe(`rvfk_m_tree2.upId: no rvfk_m_tree2 row has id "rvfk_m_tree"`);
    });

    test("renaming the foreign key column: a missing parent is refused naming the new column", async () => {
      const cause = integrityCause(
        await migrate(async (m) => {
          await m.renameColumn("rvfk_m_children", "parentId", "ownerId");
          await m.insertRows("rvfk_m_children", [{ id: "c2", ownerId: "ghost" }]);
        }),
      );
      expect(cause.message).toBe(`rvfk_m_children.ownerId: no rvfk_m_parents row has id "ghost"`);
      expect(cause).toMatchObject({ table: "rvfk_m_children", field: "ownerId" });
    });

    // insertRows writes row after row (unlike saveMany's one statement per chunk): alike on every backend.
    test("insertRows of a self-referencing tree: children first is refused with the agreed message, parents first is written", async () => {
      const cause = integrityCause(
        await migrate(async (m) => {
          await m.insertRows("rvfk_m_tree", [{ id: "root", upId: null }, { id: "mid", upId: "root" }, { id: "leaf", upId: "mid" }]);
          await m.insertRows("rvfk_m_tree", [{ id: "leaf2", upId: "mid2" }, { id: "mid2", upId: "root" }]);
        }),
      );
      expect(cause.message).toBe(`rvfk_m_tree.upId: no rvfk_m_tree row has id "mid2"`);
    });

    test("updateRows pointing a row at a missing parent is refused, and the migration changes nothing", async () => {
      const cause = integrityCause(
        await migrate(async (m) => {
          await m.insertRows("rvfk_m_parents", [{ id: "p2" }]);
          await m.updateRows("rvfk_m_children", () => ({ parentId: "ghost" }));
        }),
      );
      expect(cause.message).toBe(`rvfk_m_children.parentId: no rvfk_m_parents row has id "ghost"`);
      expect((await storage!.migrations.status()).map((s) => `${s.version}:${s.state}`)).toEqual(["1:applied", "2:pending"]);
    });

    test("dropping the referencing table, then the table it referenced, succeeds", async () => {
      expect(
        await migrate(async (m) => {
          await m.dropTable("rvfk_m_children");
          await m.dropTable("rvfk_m_parents");
          await m.dropTable("rvfk_m_tree");
        }),
      ).toBeUndefined();
    });
  });
}
