/**
 * Foreign keys the entities do not declare (a migration made them; the child entity has only the column), on
 * every backend: a violation is the agreed IntegrityError naming `table.column` (SQLite and PostgreSQL once
 * gave their own words: their catalog came from the entities only), and a CASCADE through such a key drops
 * the cascaded child from the cache (the delete's reach once came from the entities only). The storage reads
 * the keys the backend holds when it opens and after each migration (`Backend.readForeignKeys`).
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
  test(`${name}: a foreign key only the database declares gives the agreed errors`, async () => {
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

for (const [name, url] of urls) {
  describe(`${name}: cache and a foreign key only the database declares`, () => {
    test("a parent's delete cascading into a cached child drops the child from the cache", async () => {
      const storage = await createStorage({ url: await url(), entities: [CParent, CChild], migrations: [migration], autoCreate: false, cache: { l1: {} } });
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

const bare = defineMigration({
  version: 1,
  name: "tables",
  async up(m) {
    await m.createTable("rvfk_c_parents", { id: { type: "string", primary: true } });
    await m.createTable("rvfk_c_children", { id: { type: "string", primary: true }, parentId: { type: "string", nullable: true } });
  },
  async down() {},
});
const addKey = defineMigration({
  version: 2,
  name: "add-key",
  async up(m) {
    await m.addForeignKey("rvfk_c_children", "parentId", { table: "rvfk_c_parents" }, { onDelete: "CASCADE", name: "rvfk_child_parent" });
  },
  async down() {},
});
const dropKey = defineMigration({
  version: 3,
  name: "drop-key",
  async up(m) {
    await m.dropForeignKey("rvfk_c_children", "rvfk_child_parent");
  },
  async down() {},
});

@Entity("rvfk_c_leaves")
class CLeaf {
  @PrimaryColumn() id!: string;
  @Column({ type: "string" }) middleId!: string;
}

/** parents <- middles (no entity; CASCADE) <- leaves (`onDelete`): a delete of a parent goes through a table no entity declares. */
const throughMiddle = (onDelete: "CASCADE" | "RESTRICT") =>
  defineMigration({
    version: 1,
    name: "tables",
    async up(m) {
      await m.createTable("rvfk_c_parents", { id: { type: "string", primary: true } });
      await m.createTable(
        "rvfk_c_middles",
        { id: { type: "string", primary: true }, parentId: { type: "string" } },
        { foreignKeys: [{ column: "parentId", references: { table: "rvfk_c_parents" }, onDelete: "CASCADE" }] },
      );
      await m.createTable(
        "rvfk_c_leaves",
        { id: { type: "string", primary: true }, middleId: { type: "string" } },
        { foreignKeys: [{ column: "middleId", references: { table: "rvfk_c_middles" }, onDelete }] },
      );
      await m.insertRows("rvfk_c_parents", [{ id: "p" }]);
      await m.insertRows("rvfk_c_middles", [{ id: "m", parentId: "p" }]);
      await m.insertRows("rvfk_c_leaves", [{ id: "l", middleId: "m" }]);
    },
    async down() {},
  });

for (const [name, url] of urls) {
  describe(`${name}: foreign keys a later migration adds or drops`, () => {
    test("a key added on an open storage is known from then on, and forgotten once dropped", async () => {
      const storage = await createStorage({ url: await url(), entities: [CParent, CChild], migrations: [bare, addKey, dropKey], autoCreate: false, cache: { l1: {} } });
      try {
        await storage.migrations.up({ to: 1 });
        const parents = storage.repository(CParent);
        const children = storage.repository(CChild);
        await parents.save({ id: "p" });
        await children.save({ id: "c", parentId: "p" });
        await storage.migrations.up({ to: 2 });
        expect((await children.findById("c"))?.parentId).toBe("p");
        const insert = await children.save({ id: "d", parentId: "ghost" }).then(() => undefined, (e: unknown) => e as Error);
        expect(insert).toBeInstanceOf(IntegrityError);
        expect(insert!.message).toBe(`rvfk_c_children.parentId: no rvfk_c_parents row has id "ghost"`);
        expect(await children.count({ parentId: "p" }, { cache: true })).toBe(1);
        await parents.delete("p");
        expect(await children.findById("c")).toBeNull();
        expect(await children.count({ parentId: "p" }, { cache: true })).toBe(0);

        await storage.migrations.up();
        await children.save({ id: "d", parentId: "ghost" });
        await parents.save({ id: "q" });
        await children.save({ id: "e", parentId: "q" });
        expect((await children.findById("e"))?.parentId).toBe("q");
        await parents.delete("q");
        expect((await children.findById("e"))?.parentId).toBe("q");
      } finally {
        await storage.close();
      }
    });

    test("a cascade through a table no entity declares drops the cached leaf", async () => {
      const storage = await createStorage({ url: await url(), entities: [CParent, CLeaf], migrations: [throughMiddle("CASCADE")], autoCreate: false, cache: { l1: {} } });
      try {
        await storage.migrations.up();
        const leaves = storage.repository(CLeaf);
        expect((await leaves.findById("l"))?.middleId).toBe("m");
        expect(await leaves.count({}, { cache: true })).toBe(1);
        await storage.repository(CParent).delete("p");
        expect(await leaves.findById("l")).toBeNull();
        expect(await leaves.count({}, { cache: true })).toBe(0);
      } finally {
        await storage.close();
      }
    });

    test("a RESTRICT key behind a table no entity declares refuses the delete in the agreed words", async () => {
      const storage = await createStorage({ url: await url(), entities: [CParent, CLeaf], migrations: [throughMiddle("RESTRICT")], autoCreate: false });
      try {
        await storage.migrations.up();
        const del = await storage.repository(CParent).delete("p").then(() => undefined, (e: unknown) => e as Error);
        expect(del).toBeInstanceOf(IntegrityError);
        expect(del!.message).toBe(`rvfk_c_middles row "m" is still referenced by rvfk_c_leaves (rvfk_c_leaves.middleId, onDelete RESTRICT)`);
        expect(await storage.repository(CParent).findById("p")).not.toBeNull();
      } finally {
        await storage.close();
      }
    });
  });
}

for (const [name, url] of urls.filter(([n]) => n !== "memory")) {
  test(`${name}: a storage opened on tables migrated before knows their foreign keys`, async () => {
    const at = await url();
    const first = await createStorage({ url: at, entities: [CParent, CChild], migrations: [migration], autoCreate: false });
    await first.migrations.up();
    await first.close();
    const storage = await createStorage({ url: at, entities: [CParent, CChild], autoCreate: false, cache: { l1: {} } });
    try {
      await storage.repository(CParent).save({ id: "p" });
      await storage.repository(CChild).save({ id: "c", parentId: "p" });
      const insert = await storage.repository(CChild).save({ id: "d", parentId: "ghost" }).then(() => undefined, (e: unknown) => e as Error);
      expect(insert!.message).toBe(`rvfk_c_children.parentId: no rvfk_c_parents row has id "ghost"`);
      expect((await storage.repository(CChild).findById("c"))?.parentId).toBe("p");
      await storage.repository(CParent).delete("p");
      expect(await storage.repository(CChild).findById("c")).toBeNull();
    } finally {
      await storage.close();
    }
  });
}
