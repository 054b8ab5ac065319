/**
 * The data helpers of `m` on every migration backend: `insertRows` fills what the repository would
 * (generated keys, defaults, and, where an entity maps the table, its dates and version), `deleteRows`
 * deletes by the repository's where, and an `m.sql` failure names the statement.
 */
import "reflect-metadata";
import { Column, CreateDateColumn, Entity, PrimaryColumn, PrimaryGeneratedColumn, UpdateDateColumn, VersionColumn } from "typeorm";
import { afterEach, describe, expect, test } from "vitest";
import type { Migration, Storage, StorageConfig } from "../../src/index.js";
import { createStorage, defineMigration, MigrationError, ValidationError } from "../../src/index.js";
import { migrationBackends } from "./migration-backends.js";

@Entity("mdh_notes")
class Note {
  @PrimaryColumn({ type: "string" }) id: string;
  @Column({ type: "string" }) text: string;
  @CreateDateColumn() createdAt: Date;
  @UpdateDateColumn() updatedAt: Date;
  @VersionColumn() version: number;
}

@Entity("mdh_items")
class Item {
  @PrimaryGeneratedColumn("uuid") id: string;
  @Column({ type: "integer" }) n: number;
  @Column({ type: "string", default: "none" }) label: string;
}

const createTables = defineMigration({
  version: 1,
  name: "create-tables",
  async up(m) {
    await m.createTable("mdh_notes", {
      id: { type: "string", primary: true },
      text: { type: "string" },
      createdAt: { type: "datetime" },
      updatedAt: { type: "datetime" },
      version: { type: "integer" },
    });
    await m.createTable("mdh_items", {
      id: { type: "string", primary: true, generated: "uuid" },
      n: { type: "integer", primary: false },
      label: { type: "string", default: "none" },
    });
    await m.createTable("mdh_rows", { id: { type: "integer", primary: true, generated: "increment" }, n: { type: "integer" } });
  },
});

for (const backend of migrationBackends()) {
  describe(`migration data helpers on ${backend.name}`, () => {
    let storage: Storage | undefined;
    let cleanup: (() => Promise<void>) | undefined;
    afterEach(async () => {
      await storage?.close();
      await cleanup?.();
      storage = undefined;
    });

    async function open(migrations: Migration[], entities: Function[] = [Note]): Promise<Storage> {
      const fresh = await backend.fresh();
      cleanup = fresh.cleanup;
      const config: StorageConfig = { ...fresh.config, entities, migrations };
      storage = await createStorage(config);
      return storage;
    }

    test("insertRows generates keys, defaults, and the mapped entity's dates and version", async () => {
      const before = Date.now();
      const s = await open([
        createTables,
        defineMigration({
          version: 2,
          name: "seed",
          async up(m) {
            await m.insertRows("mdh_notes", [{ id: "n1", text: "hello" }, { id: "n2", text: "kept", version: 7, createdAt: new Date(5) }]);
          },
        }),
      ]);
      await s.migrations.up();
      const notes = s.repository(Note);
      const n1 = await notes.findById("n1");
      expect(n1?.version).toBe(1);
      expect(n1?.createdAt.getTime()).toBeGreaterThanOrEqual(before);
      expect(n1?.updatedAt.getTime()).toBe(n1?.createdAt.getTime());
      const n2 = await notes.findById("n2");
      expect(n2).toMatchObject({ version: 7, createdAt: new Date(5) });
      // The repository goes on from there: a save bumps the version of the seeded row.
      expect((await notes.update("n1", { text: "changed" })).version).toBe(2);
    });

    test("insertRows fills uuid keys (the entity says which), increment keys and defaults; deleteRows deletes by where", async () => {
      const seen: Record<string, unknown>[] = [];
      let deleted = 0;
      const s = await open(
        [
          createTables,
          defineMigration({
            version: 2,
            name: "seed",
            async up(m) {
              await m.insertRows("mdh_items", [{ n: 1 }, { n: 2, label: "two" }]);
              await m.insertRows("mdh_rows", [{ n: 10 }, { n: 20 }, { n: 30 }]);
              deleted = await m.deleteRows("mdh_rows", { n: { $gte: 20 } });
              // updateRows reads every row: how the test sees what the migration wrote.
              await m.updateRows("mdh_items", (row) => void seen.push(row));
              await m.updateRows("mdh_rows", (row) => void seen.push(row));
            },
          }),
        ],
        [Item],
      );
      await s.migrations.up();
      expect(deleted).toBe(2);
      const items = seen.filter((r) => "label" in r);
      expect(items.map((r) => r["label"]).sort()).toEqual(["none", "two"]);
      for (const item of items) expect(item["id"]).toMatch(/^[0-9a-f-]{36}$/);
      expect(seen.filter((r) => !("label" in r))).toEqual([{ id: 1, n: 10 }]);
    });

    test("a uuid key the table alone cannot generate is a ValidationError naming it", async () => {
      const s = await open([createTables, defineMigration({ version: 2, name: "seed", up: (m) => m.insertRows("mdh_items", [{ n: 1 }]) })]);
      const up = s.migrations.up();
      if (backend.name === "memory" || backend.name === "file") await expect(up).resolves.toHaveLength(2);
      else await expect(up).rejects.toThrow(/the primary key "id" is missing/);
    });

    test("deleteRows needs a where, and checks it against the table", async () => {
      const s = await open([
        createTables,
        defineMigration({
          version: 2,
          name: "bad-delete",
          async up(m) {
            await (m.deleteRows as (table: string, where?: unknown) => Promise<number>)("mdh_rows");
          },
        }),
      ]);
      const error = await s.migrations.up().catch((e: unknown) => e as MigrationError);
      expect(error).toBeInstanceOf(MigrationError);
      expect((error as MigrationError).cause).toBeInstanceOf(ValidationError);
      expect((error as Error).message).toMatch(/deleteRows on table "mdh_rows" needs a where/);
    });

    test.skipIf(backend.name !== "sqlite" && backend.name !== "postgres")("an m.sql failure shows the statement and the database's message", async () => {
      const s = await open([createTables, defineMigration({ version: 2, name: "typo", up: (m) => m.sql("UPDATE mdh_rows SET n = n + 1 WHER n > 1").then(() => {}) })]);
      const error = (await s.migrations.up().catch((e: unknown) => e)) as Error;
      expect(error).toBeInstanceOf(MigrationError);
      expect(error.message).toContain("SQL: UPDATE mdh_rows SET n = n + 1 WHER n > 1");
      expect(error.message).toMatch(/syntax error/);
    });
  });
}
