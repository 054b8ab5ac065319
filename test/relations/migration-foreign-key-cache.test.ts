/**
 * Review attacks on foreign keys the entities do not declare (a migration made them; the child entity has
 * only the column). Two KNOWN BUGS, kept as `test.fails` until fixed (see the review report):
 * - SQLite and PostgreSQL build their foreign key catalog from the entities only, so a violation of such a
 *   key is not the agreed IntegrityError message (memory and file, which read the tables' own keys, give it);
 * - the repository computes the tables a delete reaches from the entities only, so a CASCADE such a key
 *   applies leaves the cascaded child in the cache (every backend).
 */
import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { Column, Entity, PrimaryColumn } from "typeorm";
import { createStorage, defineMigration, IntegrityError } from "../../src/index.js";
import { PG_URL, PgTestDatabase } from "../postgres/pg-test-database.js";

@Entity("rvfk_c_parents")
class CParent {
  @PrimaryColumn() id!: string;
}

@Entity("rvfk_c_children")
class CChild {
  @PrimaryColumn() id!: string;
  @Column({ type: "string", nullable: true }) parentId!: string | null;
}

const dir = mkdtempSync(path.join(tmpdir(), "strata-rvfk-cache-"));
let pg: PgTestDatabase | undefined;
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await pg?.drop();
});

const restrict = defineMigration({
  version: 1,
  name: "tables",
  async up(m) {
    await m.createTable("rvfk_c_parents", { id: { type: "string", primary: true } });
    await m.createTable(
      "rvfk_c_children",
      { id: { type: "string", primary: true }, parentId: { type: "string", nullable: true } },
      { foreignKeys: [{ column: "parentId", references: { table: "rvfk_c_parents" } }] },
    );
  },
  async down() {},
});

const urls: Array<[string, () => Promise<string>]> = [
  ["memory", async () => "memory:"],
  ["file", async () => `file:${path.join(dir, `f${Math.random()}`)}`],
  ["sqlite", async () => `sqlite:${path.join(dir, `e${Math.random()}.db`)}`],
];
if (PG_URL) {
  urls.push([
    "postgres",
    async () => {
      pg ??= await PgTestDatabase.create(PG_URL!);
      return pg.freshSchemaUrl();
    },
  ]);
}

for (const [name, url] of urls) {
  const known = name === "sqlite" || name === "postgres" ? test.fails : test;
  known(`${name}: a foreign key only the database declares gives the agreed errors`, async () => {
    const storage = await createStorage({ url: await url(), entities: [CParent, CChild], migrations: [restrict], autoCreate: false });
    try {
      await storage.migrations.up();
      await storage.repository(CParent).save({ id: "p" });
      await storage.repository(CChild).save({ id: "c", parentId: "p" });
      const insert = await storage.repository(CChild).save({ id: "d", parentId: "ghost" }).then(() => undefined, (e: unknown) => e as Error);
      expect(insert).toBeInstanceOf(IntegrityError);
      expect(insert!.message).toBe(`rvfk_c_children.parentId: no rvfk_c_parents row has id "ghost"`);
      expect(insert).toMatchObject({ table: "rvfk_c_children", field: "parentId" });
      const del = await storage.repository(CParent).delete("p").then(() => undefined, (e: unknown) => e as Error);
      expect(del).toBeInstanceOf(IntegrityError);
      expect(del!.message).toBe(`rvfk_c_parents row "p" is still referenced by rvfk_c_children (rvfk_c_children.parentId, onDelete RESTRICT)`);
      expect(del).toMatchObject({ table: "rvfk_c_parents" });
    } finally {
      await storage.close();
    }
  });
}

const migration = defineMigration({
  version: 1,
  name: "tables",
  async up(m) {
    await m.createTable("rvfk_c_parents", { id: { type: "string", primary: true } });
    await m.createTable(
      "rvfk_c_children",
      { id: { type: "string", primary: true }, parentId: { type: "string", nullable: true } },
      { foreignKeys: [{ column: "parentId", references: { table: "rvfk_c_parents" }, onDelete: "CASCADE" }] },
    );
  },
  async down() {},
});

for (const url of ["memory:", `sqlite:${path.join(dir, "c.db")}`]) {
  describe(`${url.split(":")[0]}: cache and a foreign key only the database declares`, () => {
    test.fails("a parent's delete cascading into a cached child drops the child from the cache", async () => {
      const storage = await createStorage({ url, entities: [CParent, CChild], migrations: [migration], autoCreate: false, cache: { l1: {} } });
      try {
        await storage.migrations.up();
        await storage.repository(CParent).save({ id: "p" });
        await storage.repository(CChild).save({ id: "c", parentId: "p" });
        expect((await storage.repository(CChild).findById("c"))?.parentId).toBe("p");
        expect(await storage.repository(CChild).count({ parentId: "p" }, { cache: true })).toBe(1);
        await storage.repository(CParent).delete("p");
        expect(await storage.repository(CChild).findById("c")).toBeNull();
        expect(await storage.repository(CChild).count({ parentId: "p" }, { cache: true })).toBe(0);
      } finally {
        await storage.close();
      }
    });
  });
}
