/**
 * The checks a migration's schema change makes before its backend runs it (a table, column or index that
 * must exist, or must not): one SchemaError, with the same message and fields, on every backend. They are
 * made once, by the migration context, before the editor runs (the memory engine's editor keeps the same
 * errors as its own guards: test/engine/memory-schema-editor.test.ts).
 */
import "reflect-metadata";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import type { MigrationContext, Storage } from "../../src/index.js";
import { createStorage, defineMigration, MigrationError, SchemaError } from "../../src/index.js";
import { migrationBackends } from "../migrations/migration-backends.js";

/** Version 1 of every case: tables "t" (id, a, an index on a) and "u". */
const base = defineMigration({
  version: 1,
  name: "base",
  async up(m) {
    await m.createTable("t", { id: { type: "string", primary: true }, a: { type: "string", nullable: true } }, { indexes: [{ columns: ["a"], name: "idx_t_a" }] });
    await m.createTable("u", { id: { type: "string", primary: true } });
  },
});

const cases: Array<[string, (m: MigrationContext) => Promise<unknown>, string, { table: string; field?: string }]> = [
  ["createTable of an existing table", (m) => m.createTable("t", { id: { type: "string", primary: true } }), `Table "t" already exists`, { table: "t" }],
  ["dropTable of a missing table", (m) => m.dropTable("nope"), `Table "nope" does not exist`, { table: "nope" }],
  ["renameTable of a missing table", (m) => m.renameTable("nope", "v"), `Table "nope" does not exist`, { table: "nope" }],
  ["renameTable onto an existing table", (m) => m.renameTable("t", "u"), `Cannot rename table "t": table "u" already exists`, { table: "u" }],
  ["addColumn to a missing table", (m) => m.addColumn("nope", "b", { type: "string", nullable: true }), `Table "nope" does not exist`, { table: "nope" }],
  ["addColumn of an existing column", (m) => m.addColumn("t", "a", { type: "string", nullable: true }), `Table "t" already has a column "a"`, { table: "t", field: "a" }],
  [
    "addColumn of a primary column",
    (m) => m.addColumn("t", "k", { type: "string", primary: true }),
    `Cannot add primary column "k" to table "t": a table's primary key is set when it is created`,
    { table: "t", field: "k" },
  ],
  ["dropColumn of a missing column", (m) => m.dropColumn("t", "b"), `Table "t" has no column "b"`, { table: "t", field: "b" }],
  ["dropColumn of the primary column", (m) => m.dropColumn("t", "id"), `Cannot drop the primary column "id" of table "t"`, { table: "t", field: "id" }],
  ["renameColumn of a missing column", (m) => m.renameColumn("t", "b", "c"), `Table "t" has no column "b"`, { table: "t", field: "b" }],
  ["renameColumn onto an existing column", (m) => m.renameColumn("t", "a", "id"), `Cannot rename column "a" of table "t": column "id" already exists`, { table: "t", field: "id" }],
  ["createIndex on a missing column", (m) => m.createIndex("t", ["a", "b"]), `Table "t" has no column "b"`, { table: "t", field: "b" }],
  ["createIndex on a missing table", (m) => m.createIndex("nope", ["a"]), `Table "nope" does not exist`, { table: "nope" }],
  ["dropIndex of a missing index", (m) => m.dropIndex("t", "idx_nope"), `Table "t" has no index "idx_nope"`, { table: "t" }],
];

for (const backend of migrationBackends()) {
  describe(`${backend.name}: schema change checks`, () => {
    let cleanup: () => Promise<void>;
    let config: Awaited<ReturnType<typeof backend.fresh>>["config"];
    let storage: Storage | undefined;

    beforeEach(async () => {
      ({ config, cleanup } = await backend.fresh());
    });
    afterEach(async () => {
      await storage?.close();
      storage = undefined;
      await cleanup();
    });

    test.each(cases)("%s is a SchemaError, and nothing of the migration stays", async (_name, change, message, fields) => {
      const failing = defineMigration({ version: 2, name: "failing", up: (m) => change(m).then(() => undefined) });
      storage = await createStorage({ ...config, migrations: [base, failing] });
      const error = await storage.migrations.up().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(MigrationError);
      const cause = (error as MigrationError).cause;
      expect(cause).toBeInstanceOf(SchemaError);
      expect((cause as SchemaError).message).toBe(message);
      expect((cause as SchemaError).table).toBe(fields.table);
      expect((cause as SchemaError).field).toBe(fields.field);
      expect((await storage.migrations.status()).map((s) => `${s.version}:${s.state}`)).toEqual(["1:applied", "2:pending"]);
    });
  });
}
