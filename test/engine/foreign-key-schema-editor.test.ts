/**
 * Foreign keys of tables made and changed by migrations (the engine's schema editor, through the SPI): a
 * table created with foreign keys enforces them (a migration's table may lack an index under its key: the
 * engine keeps its own lookup), and they follow the table through renames of itself, of the table they
 * reference and of their column, go with a dropped column, and (file) survive a reopen. Run on both
 * backends of the engine.
 */
import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { IntegrityError } from "../../src/index.js";
import { openBackend } from "../../src/conformance/index.js";
import type { Backend, SchemaEditor, TableDescription } from "../../src/spi/index.js";
import type { EntitySchema } from "../../src/schema/entity-schema.js";
import { schemaOfTable } from "../../src/schema/table-schema.js";

const parents: TableDescription = {
  name: "efk_e_parents",
  columns: [{ name: "id", type: "string", nullable: false, primary: true, unique: false }],
  indexes: [],
};
const children: TableDescription = {
  name: "efk_e_children",
  columns: [
    { name: "id", type: "string", nullable: false, primary: true, unique: false },
    { name: "parentId", type: "string", nullable: true, primary: false, unique: false },
  ],
  indexes: [],
  foreignKeys: [{ name: "fk_efk_e_children_parentId", column: "parentId", referencedTable: "efk_e_parents", referencedColumn: "id", onDelete: "CASCADE" }],
};

const dirs: string[] = [];
const backends: Array<[string, (dir?: string) => Promise<Backend>]> = [
  ["memory", () => openBackend({ url: "memory:" })],
  [
    "file",
    (existing) => {
      const dir = existing ?? fs.mkdtempSync(path.join(os.tmpdir(), "efk-editor-"));
      if (!existing) dirs.push(dir);
      return openBackend({ url: `file:${dir}`, file: { fsync: "never" } });
    },
  ],
];

async function migrate(backend: Backend, change: (editor: SchemaEditor) => Promise<void>): Promise<void> {
  const tx = await backend.begin();
  try {
    await change(tx.schema!());
    await tx.commit();
  } catch (error) {
    await tx.rollback();
    throw error;
  }
}

async function describeTable(backend: Backend, name: string): Promise<TableDescription | undefined> {
  const tx = await backend.begin();
  try {
    return await tx.schema!().describeTable(name);
  } finally {
    await tx.rollback();
  }
}

/** The table's current schema, as a migration sees it (by column name). */
async function schemaOf(backend: Backend, name: string): Promise<EntitySchema> {
  return schemaOfTable((await describeTable(backend, name))!);
}

async function keys(backend: Backend, name: string): Promise<unknown[]> {
  const schema = await schemaOf(backend, name);
  return (await backend.session.find(schema, { where: [[]], orderBy: [{ column: schema.primary, direction: "asc" }], offset: 0 })).map((r) => r["id"]);
}

for (const [name, open] of backends) {
  describe(`${name}: foreign keys of a migration's tables`, () => {
    let backend: Backend | undefined;
    afterEach(async () => {
      await backend?.close();
      backend = undefined;
      for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
    });

    test("a table created with a foreign key enforces it, with no index under the key", async () => {
      backend = await open();
      await migrate(backend, async (e) => {
        await e.createTable(parents);
        await e.createTable(children);
      });
      const p = await schemaOf(backend, "efk_e_parents");
      const c = await schemaOf(backend, "efk_e_children");
      await expect(backend.session.insert(c, { id: "c0", parentId: "nobody" })).rejects.toThrow(`efk_e_children.parentId: no efk_e_parents row has id "nobody"`);
      await backend.session.insert(p, { id: "p1" });
      await backend.session.insert(p, { id: "p2" });
      await backend.session.upsertMany(c, [{ id: "c1", parentId: "p1" }, { id: "c2", parentId: "p2" }, { id: "c3", parentId: null }]);
      // upsertMany is all or nothing: the row after a bad one is not written, nor the one before.
      await expect(backend.session.upsertMany(c, [{ id: "c4", parentId: "p1" }, { id: "c5", parentId: "nobody" }])).rejects.toThrow(IntegrityError);
      expect(await keys(backend, "efk_e_children")).toEqual(["c1", "c2", "c3"]);
      await backend.session.delete(p, "p1");
      expect(await keys(backend, "efk_e_children")).toEqual(["c2", "c3"]);
    });

    test("foreign keys follow renames of their table, of the table they reference and of their column; a dropped column takes its key", async () => {
      backend = await open();
      await migrate(backend, async (e) => {
        await e.createTable(parents);
        await e.createTable(children);
      });
      await backend.session.insert(await schemaOf(backend, "efk_e_parents"), { id: "p1" });
      await backend.session.insert(await schemaOf(backend, "efk_e_children"), { id: "c1", parentId: "p1" });
      await migrate(backend, async (e) => {
        await e.renameTable("efk_e_parents", "efk_e_owners");
        await e.renameTable("efk_e_children", "efk_e_items");
        await e.renameColumn("efk_e_items", "parentId", "ownerId");
      });
      expect((await describeTable(backend, "efk_e_items"))?.foreignKeys).toEqual([
        { name: "fk_efk_e_children_parentId", column: "ownerId", referencedTable: "efk_e_owners", referencedColumn: "id", onDelete: "CASCADE" },
      ]);
      const items = await schemaOf(backend, "efk_e_items");
      await expect(backend.session.insert(items, { id: "c2", ownerId: "p9" })).rejects.toThrow(`efk_e_items.ownerId: no efk_e_owners row has id "p9"`);
      if (name === "file") {
        const dir = dirs[0]!;
        await backend.close();
        backend = await open(dir);
        expect((await describeTable(backend, "efk_e_items"))?.foreignKeys?.map((f) => [f.column, f.referencedTable])).toEqual([["ownerId", "efk_e_owners"]]);
      }
      await backend.session.delete(await schemaOf(backend, "efk_e_owners"), "p1");
      expect(await keys(backend, "efk_e_items")).toEqual([]);
      await migrate(backend, (e) => e.dropColumn("efk_e_items", "ownerId"));
      expect((await describeTable(backend, "efk_e_items"))?.foreignKeys).toBeUndefined();
    });
  });
}
