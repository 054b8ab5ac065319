/**
 * A table of 60 bytes or more renamed by a migration keeps its full-text index under the name Strata gave it,
 * `fts_<old table>` (64 bytes or more). Introspection reports that name, so `generate` writes it into the
 * migration that changes the index's columns: that migration must run.
 */
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Migration } from "../../src/index.js";
import { createStorage } from "../../src/index.js";
import { backendSelected } from "../sql/sql-backend-cases.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "./pg-test-database.js";

const OLD = `renamed_long_${"a".repeat(47)}1`;
const NEW = `renamed_long_${"b".repeat(47)}2`;

const skip = backendSelected("postgres") ? pgSkipReason() : "postgres not selected";

describe.skipIf(skip !== undefined)("postgres: the full-text index of a renamed long table", () => {
  let db: PgTestDatabase;
  beforeAll(async () => {
    db = await PgTestDatabase.create(PG_URL!);
  });
  afterAll(async () => {
    await db?.drop();
  });

  test("the index keeps its default name through the rename, and a migration naming it (as generate writes it) drops and remakes it", async () => {
    const migrations: Migration[] = [
      {
        version: 1,
        name: "create",
        async up(m) {
          await m.createTable(OLD, { id: { type: "string", primary: true }, title: { type: "string" }, body: { type: "string" } });
          await m.createFullTextIndex(OLD, ["body"]);
        },
        async down(m) {
          await m.dropTable(OLD);
        },
      },
      {
        version: 2,
        name: "rename",
        async up(m) {
          await m.renameTable(OLD, NEW);
        },
        async down(m) {
          await m.renameTable(NEW, OLD);
        },
      },
      {
        version: 3,
        name: "index-title-too",
        // As `generate` writes a change of the index's columns: the index dropped by the name introspection reports.
        async up(m) {
          await m.dropFullTextIndex(NEW, `fts_${OLD}`);
          await m.createFullTextIndex(NEW, ["title", "body"], `fts_${NEW}`);
        },
        async down(m) {
          await m.dropFullTextIndex(NEW, `fts_${NEW}`);
          await m.createFullTextIndex(NEW, ["body"], `fts_${OLD}`);
        },
      },
    ];
    const storage = await createStorage({ url: await db.freshSchemaUrl(), entities: [], migrations, autoCreate: false });
    try {
      await storage.migrations.up({ to: 2 });
      expect(await storage.sql`SELECT col_description(${NEW}::regclass, attnum) AS c FROM pg_attribute WHERE attrelid = ${NEW}::regclass AND attname = '__strata_fts_doc'`).toEqual([
        { c: JSON.stringify({ strataFullText: `fts_${OLD}`, columns: ["body"] }) },
      ]);
      await storage.migrations.up();
      await storage.migrations.down({ to: 2 });
      expect((await storage.migrations.status()).map((s) => s.state)).toEqual(["applied", "applied", "pending"]);
    } finally {
      await storage.close();
    }
  });
});
