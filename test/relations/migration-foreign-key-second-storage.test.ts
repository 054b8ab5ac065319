/**
 * Review of foreign keys only a migration declares, seen from a second storage opened on the same database
 * before the migration ran (another process): its writes that break the new key get the agreed errors too.
 * The storage read the held keys at open only; on a failure its catalog cannot name, it reads them again.
 */
import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { Column, Entity, PrimaryColumn } from "typeorm";
import { createStorage, defineMigration, IntegrityError } from "../../src/index.js";
import { PG_URL, PgTestDatabase } from "../postgres/pg-test-database.js";

@Entity("rvs_fk_parents")
class Parent {
  @PrimaryColumn() id!: string;
}

@Entity("rvs_fk_children")
class Child {
  @PrimaryColumn() id!: string;
  @Column({ type: "string", nullable: true }) parentId!: string | null;
}

const bare = defineMigration({
  version: 1,
  name: "tables",
  async up(m) {
    await m.createTable("rvs_fk_parents", { id: { type: "string", primary: true } });
    await m.createTable("rvs_fk_children", { id: { type: "string", primary: true }, parentId: { type: "string", nullable: true } });
  },
  async down() {},
});
const addKey = defineMigration({
  version: 2,
  name: "add-key",
  async up(m) {
    await m.addForeignKey("rvs_fk_children", "parentId", { table: "rvs_fk_parents" }, { name: "rvs_child_parent" });
  },
  async down() {},
});

const dir = mkdtempSync(path.join(tmpdir(), "strata-rvs-fk-"));
let pg: PgTestDatabase | undefined;
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await pg?.drop();
});

const urls: Array<[string, () => Promise<string>]> = [["sqlite", async () => `sqlite:${path.join(dir, `s${Math.random()}.db`)}`]];
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
  describe(`${name}: a foreign key another storage's migration added`, () => {
    test("a storage opened before the migration reports its violations with the agreed errors", async () => {
      const at = await url();
      const migrator = await createStorage({ url: at, entities: [Parent, Child], migrations: [bare, addKey], autoCreate: false });
      await migrator.migrations.up({ to: 1 });
      const other = await createStorage({ url: at, entities: [Parent, Child], autoCreate: false });
      try {
        await other.repository(Parent).save({ id: "p" });
        await other.repository(Child).save({ id: "c", parentId: "p" });
        await migrator.migrations.up();
        const insert = await other.repository(Child).save({ id: "d", parentId: "ghost" }).then(() => undefined, (e: unknown) => e as Error);
        expect(insert).toBeInstanceOf(IntegrityError);
        expect(insert!.message).toBe(`rvs_fk_children.parentId: no rvs_fk_parents row has id "ghost"`);
        const del = await other.repository(Parent).delete("p").then(() => undefined, (e: unknown) => e as Error);
        expect(del).toBeInstanceOf(IntegrityError);
        expect(del!.message).toBe(`rvs_fk_parents row "p" is still referenced by rvs_fk_children (rvs_fk_children.parentId, onDelete RESTRICT)`);
      } finally {
        await other.close();
        await migrator.close();
      }
    });
  });
}
