/**
 * `strata copy` from a source holding orphan rows (a SQLite file written without PRAGMA foreign_keys): the
 * orphans are found before anything is written (one anti-join per foreign key on a SQL source, a walk with a
 * lookup per page elsewhere), and the copy fails naming the table, the column, the missing keys and the count,
 * leaving the target untouched, with `force` too. It used to copy every row and fail at the last step.
 */
import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, describe, expect, test } from "vitest";
import type { Storage } from "../../src/index.js";
import { copyStorage, createStorage, defineMigration, IntegrityError } from "../../src/index.js";
import { copyBackend } from "../../src/copy/copy-backend.js";
import type { Backend, SchemaEditor, TransactionHandle } from "../../src/spi/index.js";
import { coreOf } from "../../src/storage-core.js";

const dir = mkdtempSync(path.join(tmpdir(), "strata-fkr-orphans-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const open: Storage[] = [];
afterEach(async () => {
  for (const storage of open.splice(0)) await storage.close();
});

const tables = defineMigration({
  version: 1,
  name: "tables",
  async up(m) {
    await m.createTable("fkr_parents", { id: { type: "string", primary: true } });
    await m.createTable(
      "fkr_children",
      { id: { type: "integer", primary: true }, parentId: { type: "string", nullable: true } },
      { foreignKeys: [{ column: "parentId", references: { table: "fkr_parents" } }] },
    );
    await m.createTable(
      "fkr_notes",
      { id: { type: "string", primary: true }, childId: { type: "integer" } },
      { foreignKeys: [{ column: "childId", references: { table: "fkr_children" }, onDelete: "CASCADE" }] },
    );
  },
  async down() {},
});

/** A SQLite file whose children name parents it lacks: written by another program, without PRAGMA foreign_keys. */
async function orphanSource(): Promise<string> {
  const file = path.join(dir, `source-${Math.random()}.db`);
  const storage = await createStorage({ url: `sqlite:${file}`, migrations: [tables], autoCreate: false });
  await storage.migrations.up();
  await storage.close();
  const db = new Database(file);
  try {
    db.pragma("foreign_keys = OFF");
    db.prepare(`INSERT INTO fkr_parents (id) VALUES ('p')`).run();
    const child = db.prepare(`INSERT INTO fkr_children (id, parentId) VALUES (?, ?)`);
    [[1, "p"], [2, null], [3, "ghost-b"], [4, "ghost-a"], [5, "ghost-a"], [6, "g1"], [7, "g2"], [8, "g3"], [9, "g4"]].forEach(([id, parent]) => child.run(id, parent));
    db.prepare(`INSERT INTO fkr_notes (id, childId) VALUES ('n1', 1), ('n2', 42)`).run();
  } finally {
    db.close();
  }
  return `sqlite:${file}`;
}

const MESSAGE =
  `The source holds rows that break its foreign keys, so nothing was copied and the target is untouched:\n` +
  `- table "fkr_children": 7 rows whose parentId names no fkr_parents row (foreign key "fk_fkr_children_parentId"; first missing id: "g1", "g2", "g3", "g4", "ghost-a")\n` +
  `- table "fkr_notes": 1 row whose childId names no fkr_children row (foreign key "fk_fkr_notes_childId"; missing id: 42)\n` +
  `Delete those rows or set their key to null in the source (--force does not copy them either), then copy again`;

async function tablesOf(storage: Storage): Promise<string[]> {
  const tx = await coreOf(storage).backend.begin();
  try {
    return await tx.schema!().listTables();
  } finally {
    await tx.rollback();
  }
}

/** `backend` as a store without SQL: its schema editors have no `sql`, so the copier walks the rows. */
function withoutSql(backend: Backend): Backend {
  return {
    name: backend.name,
    capabilities: backend.capabilities,
    session: backend.session,
    backup: (p) => backend.backup(p),
    close: () => backend.close(),
    begin: async () => {
      const tx = await backend.begin();
      return new Proxy(tx, {
        get(target, property) {
          if (property === "schema") {
            return (): SchemaEditor => {
              const editor = target.schema!();
              return new Proxy(editor, { get: (e, p) => (p === "sql" ? undefined : (Reflect.get(e, p) as unknown as Function)?.bind?.(e)) });
            };
          }
          const value = Reflect.get(target, property) as unknown;
          return typeof value === "function" ? value.bind(target) : value;
        },
      }) as TransactionHandle;
    },
  };
}

describe("sqlite: copying a source with orphan rows", () => {
  test("fails before writing anything, naming each table, column, the missing keys and the count", async () => {
    const from = await createStorage({ url: await orphanSource(), autoCreate: false });
    const to = await createStorage({ url: "memory:", autoCreate: false });
    open.push(from, to);
    const error = await copyStorage(from, to).then(() => undefined, (e: unknown) => e as Error);
    expect(error).toBeInstanceOf(IntegrityError);
    expect(error!.message).toBe(MESSAGE);
    expect(error).toMatchObject({ table: "fkr_children", field: "parentId" });
    expect(await tablesOf(to)).toEqual([]);
  });

  test("with force, the target's own tables and rows stay as they were", async () => {
    const from = await createStorage({ url: await orphanSource(), autoCreate: false });
    const to = await createStorage({ url: `sqlite:${path.join(dir, `target-${Math.random()}.db`)}`, migrations: [tables], autoCreate: false });
    open.push(from, to);
    await to.migrations.up();
    const tx = await coreOf(to).backend.begin();
    await tx.schema!().sql!(`INSERT INTO fkr_parents (id) VALUES ('kept')`, []);
    await tx.commit();
    const error = await copyStorage(from, to, { force: true }).then(() => undefined, (e: unknown) => e as Error);
    expect(error!.message).toBe(MESSAGE);
    const after = await coreOf(to).backend.begin();
    try {
      expect(await after.schema!().sql!(`SELECT id FROM fkr_parents`, [])).toEqual([["kept"]]);
    } finally {
      await after.rollback();
    }
  });

  test("a source without SQL is walked, with the same error", async () => {
    const from = await createStorage({ url: await orphanSource(), autoCreate: false });
    const to = await createStorage({ url: "memory:", autoCreate: false });
    open.push(from, to);
    const error = await copyBackend(withoutSql(coreOf(from).backend), coreOf(to).backend, { batchSize: 2 }).then(() => undefined, (e: unknown) => e as Error);
    expect(error!.message).toBe(MESSAGE);
    expect(await tablesOf(to)).toEqual([]);
  });

  test("once the orphans are gone, the copy goes through", async () => {
    const url = await orphanSource();
    const db = new Database(url.slice("sqlite:".length));
    db.prepare(`DELETE FROM fkr_notes WHERE childId = 42`).run();
    db.prepare(`UPDATE fkr_children SET parentId = NULL WHERE parentId <> 'p'`).run();
    db.close();
    const from = await createStorage({ url, autoCreate: false });
    const to = await createStorage({ url: "memory:", autoCreate: false });
    open.push(from, to);
    const copied = await copyStorage(from, to);
    expect(copied.find((t) => t.table === "fkr_children")?.rows).toBe(9);
  });
});
