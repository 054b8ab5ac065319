/**
 * Review of `strata copy` refusing orphans: a self-referencing table (a row naming itself is no orphan, one
 * naming a missing row is), and two tables referencing each other in a cycle; from SQLite (anti-join) and
 * from the walk a source without SQL gets; a source with none copies whole.
 */
import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, describe, expect, test } from "vitest";
import type { Storage } from "../../src/index.js";
import { copyStorage, createStorage, defineMigration, IntegrityError } from "../../src/index.js";

const dir = mkdtempSync(path.join(tmpdir(), "strata-rvs-copy-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const open: Storage[] = [];
afterEach(async () => {
  for (const storage of open.splice(0)) await storage.close();
});

const tables = defineMigration({
  version: 1,
  name: "tables",
  async up(m) {
    await m.createTable("rvs_nodes", { id: { type: "integer", primary: true }, parentId: { type: "integer", nullable: true } });
    await m.addForeignKey("rvs_nodes", "parentId", { table: "rvs_nodes" }, { name: "rvs_nodes_parent" });
    await m.createTable("rvs_a", { id: { type: "string", primary: true }, bId: { type: "string", nullable: true } });
    await m.createTable("rvs_b", { id: { type: "string", primary: true }, aId: { type: "string", nullable: true } });
    await m.addForeignKey("rvs_a", "bId", { table: "rvs_b" }, { name: "rvs_a_b" });
    await m.addForeignKey("rvs_b", "aId", { table: "rvs_a" }, { name: "rvs_b_a", onDelete: "CASCADE" });
  },
  async down() {},
});

async function source(orphans: boolean): Promise<string> {
  const file = path.join(dir, `source-${Math.random()}.db`);
  const storage = await createStorage({ url: `sqlite:${file}`, migrations: [tables], autoCreate: false });
  await storage.migrations.up();
  await storage.close();
  const db = new Database(file);
  try {
    db.pragma("foreign_keys = OFF");
    db.prepare(`INSERT INTO rvs_nodes (id, parentId) VALUES (1, 1), (2, 1), (3, ${orphans ? 99 : 2})`).run();
    db.prepare(`INSERT INTO rvs_a (id, bId) VALUES ('a1', 'b1'), ('a2', ${orphans ? "'b9'" : "NULL"})`).run();
    db.prepare(`INSERT INTO rvs_b (id, aId) VALUES ('b1', 'a1'), ('b2', ${orphans ? "'a9'" : "'a2'"})`).run();
  } finally {
    db.close();
  }
  return `sqlite:${file}`;
}

describe("sqlite: copying self-references and cycles", () => {
  test("orphans of a self-reference and of a cycle are each named, nothing is written", async () => {
    const from = await createStorage({ url: await source(true), autoCreate: false });
    const to = await createStorage({ url: `sqlite:${path.join(dir, `t${Math.random()}.db`)}`, autoCreate: false });
    open.push(from, to);
    const error = await copyStorage(from, to, { force: true }).then(() => undefined, (e: unknown) => e as Error);
    expect(error).toBeInstanceOf(IntegrityError);
    expect(error!.message).toContain(`table "rvs_nodes": 1 row whose parentId names no rvs_nodes row (foreign key "rvs_nodes_parent"; missing id: 99)`);
    expect(error!.message).toContain(`table "rvs_a": 1 row whose bId names no rvs_b row (foreign key "rvs_a_b"; missing id: "b9")`);
    expect(error!.message).toContain(`table "rvs_b": 1 row whose aId names no rvs_a row (foreign key "rvs_b_a"; missing id: "a9")`);
  });

  for (const target of ["memory", "file", "sqlite"] as const) {
    test(`without orphans, the self-reference and the cycle copy whole to ${target}`, async () => {
      const from = await createStorage({ url: await source(false), autoCreate: false });
      const url = target === "memory" ? "memory:" : target === "file" ? `file:${path.join(dir, `f${Math.random()}`)}` : `sqlite:${path.join(dir, `t${Math.random()}.db`)}`;
      const to = await createStorage({ url, autoCreate: false });
      open.push(from, to);
      const copied = await copyStorage(from, to);
      expect(Object.fromEntries(copied.map((t) => [t.table, t.rows]))).toMatchObject({ rvs_nodes: 3, rvs_a: 2, rvs_b: 2 });
    });
  }
});
