/**
 * generate's plan where the entities matter beyond their columns: the folder is replayed with the entity
 * mapping each table (so `m.insertRows` fills the create dates a non-null column needs, as on the database),
 * and the rows at stake in a dropped json column are counted (a json column is tested with `$isNull` only).
 * Found by the package test's consumer app.
 */
import "reflect-metadata";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from "typeorm";
import { createStorage } from "../../src/index.js";
import { planMigration } from "../../src/migrations/generate-plan.js";

@Entity("gpe_notes")
class Note {
  @PrimaryGeneratedColumn("uuid") id!: string;
  @Column({ type: "string" }) title!: string;
  @CreateDateColumn() createdAt!: Date;
}

const dir = mkdtempSync(path.join(tmpdir(), "strata-gpe-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A folder of two migrations: the table (with a json column the entity no longer has), then a seeded row. */
function folder(): string {
  const migrations = path.join(dir, `migrations-${Math.random().toString(36).slice(2)}`);
  mkdirSync(migrations);
  writeFileSync(
    path.join(migrations, "0001-notes.mjs"),
    `export default { version: 1, name: "notes", async up(m) { await m.createTable("gpe_notes", { id: { type: "string", primary: true, generated: "uuid" }, title: { type: "string" }, tags: { type: "json", nullable: true }, createdAt: { type: "datetime" } }); }, async down(m) { await m.dropTable("gpe_notes"); } };\n`,
  );
  writeFileSync(
    path.join(migrations, "0002-seed.mjs"),
    `export default { version: 2, name: "seed", async up(m) { await m.insertRows("gpe_notes", [{ title: "tagged", tags: ["a"] }, { title: "bare" }]); }, async down(m) { await m.deleteRows("gpe_notes", {}); } };\n`,
  );
  return migrations;
}

describe("sqlite: generate's plan with entities that fill and drop", () => {
  test("the folder replays with the entities (insertRows fills createdAt), and the rows of a dropped json column are counted", async () => {
    const migrations = folder();
    const url = `sqlite:${path.join(dir, `${Math.random()}.db`)}`;
    const storage = await createStorage({ url, entities: [Note], migrations, autoCreate: false });
    try {
      await storage.migrations.up();
      const warnings: string[] = [];
      const plan = await planMigration(storage, migrations, {
        renames: [],
        decide: async () => [],
        warn: (line) => warnings.push(line),
        scratch: () => createStorage({ url: "memory:", autoCreate: false }),
      });
      expect(warnings).toEqual([]);
      expect(plan.baseline).toBe("migrations");
      expect(plan.atStake).toEqual([{ table: "gpe_notes", column: "tags", rows: 1 }]);
    } finally {
      await storage.close();
    }
  });
});

