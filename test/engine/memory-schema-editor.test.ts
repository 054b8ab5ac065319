/**
 * The engine's schema editor, reached through the SPI (`TransactionHandle.schema()`) as the copier, the
 * applied-migration store and a third party reach it, without the migration context's checks in front.
 * A change that would silently replace a table (a create or rename onto an existing one), break one (two
 * columns of one name, two primary keys or none) or that names a missing index is refused with the
 * migration context's SchemaError, as a SQL database refuses it, and the committed tables and rows stay
 * as they were. Run on both backends of the engine.
 */
import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { SchemaError } from "../../src/index.js";
import { openBackend } from "../../src/conformance/index.js";
import type { Backend, SchemaEditor, TableDescription } from "../../src/spi/index.js";
import { schemaOfTable } from "../../src/schema/table-schema.js";

const table = (name: string): TableDescription => ({
  name,
  columns: [
    { name: "id", type: "string", nullable: false, primary: true, unique: false },
    { name: "a", type: "string", nullable: true, primary: false, unique: false },
  ],
  indexes: [],
});

const cases: Array<[string, (e: SchemaEditor) => Promise<void>, string]> = [
  ["createTable of an existing table", (e) => e.createTable({ ...table("t"), columns: [table("t").columns[0]!] }), `Table "t" already exists`],
  ["renameTable onto an existing table", (e) => e.renameTable("u", "t"), `Cannot rename table "u": table "t" already exists`],
  ["addColumn of an existing column", (e) => e.addColumn("t", { name: "a", type: "integer", nullable: true, primary: false, unique: false }), `Table "t" already has a column "a"`],
  [
    "addColumn of a primary column",
    (e) => e.addColumn("t", { name: "k", type: "string", nullable: false, default: "x", primary: true, unique: false }),
    `Cannot add primary column "k" to table "t": a table's primary key is set when it is created`,
  ],
  ["dropColumn of the primary column", (e) => e.dropColumn("t", "id"), `Cannot drop the primary column "id" of table "t"`],
  ["dropIndex of a missing index", (e) => e.dropIndex("t", "idx_nope"), `Table "t" has no index "idx_nope"`],
  ["renameColumn onto an existing column", (e) => e.renameColumn("t", "a", "id"), `Cannot rename column "a" of table "t": column "id" already exists`],
];

const dirs: string[] = [];
const backends: Array<[string, () => Promise<Backend>]> = [
  ["memory", () => openBackend({ url: "memory:" })],
  [
    "file",
    () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "strata-engine-editor-"));
      dirs.push(dir);
      return openBackend({ url: `file:${dir}` });
    },
  ],
];

for (const [name, open] of backends) {
  describe(`${name}: the engine's schema editor through the SPI`, () => {
    let backend: Backend | undefined;
    afterEach(async () => {
      await backend?.close();
      backend = undefined;
      for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
    });

    test.each(cases)("%s is refused with a SchemaError, and the rows stay", async (_case, change, message) => {
      backend = await open();
      const setup = await backend.begin();
      await setup.schema!().createTable(table("t"));
      await setup.schema!().createTable(table("u"));
      await setup.insert(schemaOfTable(table("t")), { id: "r1", a: "kept" });
      await setup.insert(schemaOfTable(table("u")), { id: "r2", a: "kept too" });
      await setup.commit();

      const tx = await backend.begin();
      const error = await change(tx.schema!()).then(
        () => undefined,
        (e: unknown) => e,
      );
      // Committed regardless: whatever the editor let through would now be the stored state.
      await tx.commit();
      expect(error).toBeInstanceOf(SchemaError);
      expect((error as Error).message).toBe(message);

      const check = await backend.begin();
      try {
        expect(await check.schema!().describeTable("t")).toEqual(table("t"));
        expect(await check.schema!().describeTable("u")).toEqual(table("u"));
        expect(await check.find(schemaOfTable(table("t")), { where: [[]], orderBy: [], offset: 0 })).toEqual([{ id: "r1", a: "kept" }]);
        expect(await check.find(schemaOfTable(table("u")), { where: [[]], orderBy: [], offset: 0 })).toEqual([{ id: "r2", a: "kept too" }]);
      } finally {
        await check.rollback();
      }
    });

    test("addColumn with a datetime default gives the existing rows that Date (stored as its time, handed out as a Date of its own)", async () => {
      backend = await open();
      const setup = await backend.begin();
      await setup.schema!().createTable(table("t"));
      await setup.insert(schemaOfTable(table("t")), { id: "r1", a: "x" });
      await setup.commit();
      const at = new Date(Date.UTC(2026, 4, 6, 7, 8, 9, 10));
      const tx = await backend.begin();
      await tx.schema!().addColumn("t", { name: "at", type: "datetime", nullable: false, default: at, primary: false, unique: false });
      const widened = (await tx.schema!().describeTable("t"))!;
      await tx.commit();
      const check = await backend.begin();
      try {
        const rows = await check.find(schemaOfTable(widened), { where: [[]], orderBy: [], offset: 0 });
        expect(rows).toEqual([{ id: "r1", a: "x", at }]);
        expect(rows[0]!["at"]).toBeInstanceOf(Date);
        expect(rows[0]!["at"]).not.toBe(at);
      } finally {
        await check.rollback();
      }
    });
  });
}
