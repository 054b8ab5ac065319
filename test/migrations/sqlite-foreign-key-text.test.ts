/**
 * SQLite changes a table's foreign keys by rewriting its stored CREATE TABLE text (no ALTER TABLE for
 * constraints): the text is read as tokens, so a quoted name holding `)`, quotes or commas, a string default
 * or a comment that looks like a constraint, never confuses which constraint is dropped, added or named.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { createStorage, defineMigration } from "../../src/index.js";
import type { MigrationContext } from "../../src/index.js";
import { foreignKeyNames, withForeignKeyClause, withoutForeignKeyClause } from "../../src/backends/sql/table-definition-text.js";
import { coreOf } from "../../src/storage-core.js";

/** A CREATE TABLE whose string default and trailing comment hold look-alikes of its real constraint. */
const HOSTILE = [
  `CREATE TABLE "fkr_c" (`,
  `  "id" TEXT PRIMARY KEY,`,
  `  "no""te, )" TEXT DEFAULT 'x''), CONSTRAINT "fk_c" FOREIGN KEY ("p)id") REFERENCES "fkr_p" ("id")',`,
  `  [br)ack] TEXT CHECK (length([br)ack]) < 10),`,
  `  "p)id" TEXT,`,
  `  CONSTRAINT "fk_c" FOREIGN KEY ("p)id") REFERENCES "fkr_p" ("id") ON DELETE CASCADE -- , CONSTRAINT "fk_fake" FOREIGN KEY ("p)id") REFERENCES "fkr_p" ("id")`,
  `) STRICT`,
].join("\n");

describe("the CREATE TABLE text, read as tokens", () => {
  test("names the real constraint, not the look-alikes in a string default or a comment", () => {
    expect(foreignKeyNames(HOSTILE)).toEqual(new Map([["p)id", "fk_c"]]));
    expect(foreignKeyNames(`CREATE TABLE t (a TEXT, CONSTRAINT [we"ird] FOREIGN KEY (\`a\`\`b\`) REFERENCES p (id))`)).toEqual(new Map([["a`b", 'we"ird']]));
  });

  test("drops only the real constraint, keeping the string default, the check and the table options", () => {
    const without = withoutForeignKeyClause(HOSTILE, "fk_c")!;
    expect(without).toBe(
      [
        `CREATE TABLE "fkr_c" (`,
        `  "id" TEXT PRIMARY KEY,`,
        `  "no""te, )" TEXT DEFAULT 'x''), CONSTRAINT "fk_c" FOREIGN KEY ("p)id") REFERENCES "fkr_p" ("id")',`,
        `  [br)ack] TEXT CHECK (length([br)ack]) < 10),`,
        `  "p)id" TEXT -- , CONSTRAINT "fk_fake" FOREIGN KEY ("p)id") REFERENCES "fkr_p" ("id")`,
        `) STRICT`,
      ].join("\n"),
    );
    expect(foreignKeyNames(without)).toEqual(new Map());
    expect(withoutForeignKeyClause(HOSTILE, "fk_fake")).toBeUndefined();
  });

  test("adds a constraint after the last definition, past a trailing comment, before the table options", () => {
    const added = withForeignKeyClause(withoutForeignKeyClause(HOSTILE, "fk_c")!, `CONSTRAINT "fk_d" FOREIGN KEY ("p)id") REFERENCES "fkr_p" ("id")`);
    expect(added.endsWith(`("id")\n, CONSTRAINT "fk_d" FOREIGN KEY ("p)id") REFERENCES "fkr_p" ("id")) STRICT`)).toBe(true);
    expect(foreignKeyNames(added)).toEqual(new Map([["p)id", "fk_d"]]));
  });

  test("an unterminated quote is a SchemaError naming the text and the table, not a guess", () => {
    expect(() => foreignKeyNames(`CREATE TABLE t (a TEXT DEFAULT 'oops)`)).toThrow(/Cannot read the table definition/);
    expect(() => foreignKeyNames(`CREATE TABLE t (a TEXT DEFAULT 'oops)`, "t")).toThrow(expect.objectContaining({ name: "SchemaError", code: "STRATA_SCHEMA", table: "t" }));
    expect(() => withForeignKeyClause(`CREATE TABLE t (a TEXT`, `CONSTRAINT "fk" FOREIGN KEY ("a") REFERENCES "p" ("id")`, "t")).toThrow(
      expect.objectContaining({ code: "STRATA_SCHEMA", table: "t", message: expect.stringMatching(/the column list never closes/) }),
    );
  });
});

describe("sqlite: dropForeignKey on a table with hostile names", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "strata-fkr-text-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const migration = (version: number, up: (m: MigrationContext) => Promise<void>) => defineMigration({ version, name: `m${version}`, up, async down() {} });

  test("drops the real constraint: the child no longer needs a parent, and the look-alike default is kept", async () => {
    const url = `sqlite:${path.join(dir, "hostile.db")}`;
    const storage = await createStorage({
      url,
      autoCreate: false,
      migrations: [
        migration(1, async (m) => {
          await m.sql(`CREATE TABLE "fkr_p" ("id" TEXT PRIMARY KEY)`);
          await m.sql(HOSTILE);
          await m.sql(`INSERT INTO "fkr_p" ("id") VALUES ('p')`);
          await m.sql(`INSERT INTO "fkr_c" ("id", "p)id") VALUES ('c', 'p')`);
        }),
        migration(2, (m) => m.dropForeignKey("fkr_c", "fk_c")),
      ],
    });
    try {
      await storage.migrations.up({ to: 1 });
      const before = await coreOf(storage).backend.begin();
      const refused = await before.schema!().sql!(`INSERT INTO "fkr_c" ("id", "p)id") VALUES ('d', 'ghost')`, []).then(() => undefined, (e: unknown) => e as Error);
      await before.rollback();
      expect(refused?.message).toMatch(/foreign key constraint failed/i);
      await storage.migrations.up();
      const tx = await coreOf(storage).backend.begin();
      try {
        const editor = tx.schema!();
        expect((await editor.describeTable("fkr_c"))?.foreignKeys).toEqual([]);
        await editor.sql!(`INSERT INTO "fkr_c" ("id", "p)id") VALUES ('d', 'ghost')`, []);
        expect(await editor.sql!(`SELECT "no""te, )" AS note FROM "fkr_c" WHERE "id" = 'd'`, [])).toEqual([[`x'), CONSTRAINT "fk_c" FOREIGN KEY ("p)id") REFERENCES "fkr_p" ("id")`]]);
        await tx.commit();
      } catch (error) {
        await tx.rollback();
        throw error;
      }
    } finally {
      await storage.close();
    }
  });
});
