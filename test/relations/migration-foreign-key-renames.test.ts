/**
 * Review of foreign keys a migration adds and drops on a table written by hand (a bracketed name, CHECKs with
 * parentheses and a look-alike string, comments), then renames of both tables and the column: the errors and
 * the cache's delete reach follow the key as the database holds it afterwards. (Strata's own DDL refuses a
 * hostile table or column name, so the token reader meets one only in hand-written text.)
 */
import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { Column, Entity, PrimaryColumn } from "typeorm";
import { createStorage, defineMigration, IntegrityError } from "../../src/index.js";

const PARENT = "rvs_par";
const CHILD = "rvs_chi";
const COLUMN = "p_id";

@Entity("rvs_renamed_parents")
class RenamedParent {
  @PrimaryColumn() id!: string;
}

@Entity("rvs_renamed_children")
class RenamedChild {
  @PrimaryColumn() id!: string;
  @Column({ type: "string", nullable: true }) parentRef!: string | null;
  @Column({ type: "integer", nullable: true }) size!: number | null;
}

const migrations = [
  defineMigration({
    version: 1,
    name: "tables",
    async up(m) {
      await m.createTable(PARENT, { id: { type: "string", primary: true } });
      // Written by hand: a CHECK with parentheses and a look-alike string, comments, a bracketed name.
      await m.sql(
        `CREATE TABLE "${CHILD}" ("id" TEXT PRIMARY KEY NOT NULL, /* a ( comment */ [${COLUMN}] TEXT CHECK ((length([${COLUMN}]) > 0) OR ([${COLUMN}] = ')),(')), -- ), x\n "size" INTEGER CHECK ("size" IN (1, 2, (3))))`,
      );
    },
    async down() {},
  }),
  defineMigration({
    version: 2,
    name: "keys",
    async up(m) {
      await m.addForeignKey(CHILD, COLUMN, { table: PARENT }, { name: "rvs_fk_one", onDelete: "CASCADE" });
      await m.dropForeignKey(CHILD, "rvs_fk_one");
      await m.addForeignKey(CHILD, COLUMN, { table: PARENT }, { name: "rvs_fk_two", onDelete: "CASCADE" });
    },
    async down() {},
  }),
  defineMigration({
    version: 3,
    name: "renames",
    async up(m) {
      await m.renameTable(PARENT, "rvs_renamed_parents");
      await m.renameTable(CHILD, "rvs_renamed_children");
      await m.renameColumn("rvs_renamed_children", COLUMN, "parentRef");
    },
    async down() {},
  }),
];

const dir = mkdtempSync(path.join(tmpdir(), "strata-rvs-fkh-"));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const urls: Array<[string, () => Promise<string>]> = [["sqlite", async () => `sqlite:${path.join(dir, `s${Math.random()}.db`)}`]];

for (const [name, url] of urls) {
  describe(`${name}: a hostile-named key added, dropped, added, then its tables and column renamed`, () => {
    test("errors and the cascade's cache reach follow the key as the database holds it", async () => {
      const storage = await createStorage({ url: await url(), entities: [RenamedParent, RenamedChild], migrations, autoCreate: false, cache: { l1: {} } });
      try {
        await storage.migrations.up();
        const parents = storage.repository(RenamedParent);
        const children = storage.repository(RenamedChild);
        await parents.save({ id: "p" });
        await children.save({ id: "c", parentRef: "p", size: 1 });
        const insert = await children.save({ id: "d", parentRef: "ghost", size: 1 }).then(() => undefined, (e: unknown) => e as Error);
        expect(insert).toBeInstanceOf(IntegrityError);
        expect(insert!.message).toBe(`rvs_renamed_children.parentRef: no rvs_renamed_parents row has id "ghost"`);
        expect((await children.findById("c"))?.parentRef).toBe("p");
        await parents.delete("p");
        expect(await children.findById("c")).toBeNull();
      } finally {
        await storage.close();
      }
    });
  });
}
