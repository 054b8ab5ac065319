/** Schema changes on the file backend (the primitive the migration runner commits through). */
import "reflect-metadata";
import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { Column, Entity, PrimaryColumn } from "typeorm";
import { CapacityError, createStorage } from "../../src/index.js";
import { MemoryDatabase, MemoryTable } from "../../src/engine/table-engine.js";
import type { Storage } from "../../src/index.js";
import type { FileBackend } from "../../src/backends/file/file-backend.js";
import { catalogText, schemaOfCatalogTable } from "../../src/backends/file/file-catalog.js";
import { snapshotText } from "../../src/backends/file/file-snapshot.js";
import { coreOf } from "../../src/storage-core.js";

@Entity("notes")
class Note {
  @PrimaryColumn({ type: "string" }) id: string;
  @Column({ type: "string" }) title: string;
}

@Entity("memos")
class Memo {
  @PrimaryColumn({ type: "string" }) id: string;
  @Column({ type: "string" }) title: string;
  @Column({ type: "datetime", nullable: true }) remindAt: Date | null;
}

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "strata-file-schema-"));
});
afterEach(() => {
  vi.restoreAllMocks();
  fs.rmSync(dir, { recursive: true, force: true });
});

const open = (entities: Function[], autoCreate = false) => createStorage({ url: `file:${dir}`, entities, autoCreate, timeoutMs: 0 });

/** "notes" renamed to "memos" with a new nullable datetime column, as a migration's shadow database would hold it. */
function renamedDatabase(storage: Storage): MemoryDatabase {
  const backend = coreOf(storage).backend as FileBackend;
  const schema = schemaOfCatalogTable(
    "memos",
    {
      file: "",
      columns: [
        { name: "id", type: "string", nullable: false, primary: true },
        { name: "title", type: "string", nullable: false },
        { name: "remindAt", type: "datetime", nullable: true },
      ],
      indexes: [],
    },
    "memos",
  );
  const memos = new MemoryTable(schema);
  for (const row of backend.db.tables.get("notes")!.rows.values()) memos.put({ ...row, remindAt: row["id"] === "a" ? new Date(7) : null });
  const database = new MemoryDatabase();
  database.tables.set("memos", memos);
  return database;
}

async function checkpoint(storage: Storage, database: MemoryDatabase): Promise<void> {
  const backend = coreOf(storage).backend as unknown as { checkpointSchema(db: MemoryDatabase): Promise<void>; db: MemoryDatabase };
  await backend.checkpointSchema(database);
  backend.db.tables.clear();
  for (const [name, table] of database.tables) backend.db.tables.set(name, table);
}

describe("file: schema changes", () => {
  test("a checkpointed schema change (rename table, add column) is what the directory holds on reopen", async () => {
    const s = await open([Note], true);
    await s.repository(Note).save({ id: "a", title: "first" });
    await s.repository(Note).save({ id: "b", title: "second" });
    const journal = fs.readFileSync(path.join(dir, "journal.ndjson"));
    await checkpoint(s, renamedDatabase(s));
    expect(fs.readdirSync(dir).filter((f) => f.endsWith(".table.json"))).toEqual(["memos.g1.table.json"]);
    expect(fs.statSync(path.join(dir, "journal.ndjson")).size).toBe(0);
    await s.close();
    // Close compacts the generation file back to the plain name.
    expect(fs.readdirSync(dir).filter((f) => f.endsWith(".table.json"))).toEqual(["memos.table.json"]);

    // A crash right after the catalog switch leaves the old lines (of the old "notes" table) in the journal: they are skipped.
    fs.writeFileSync(path.join(dir, "journal.ndjson"), journal);
    const again = await open([Memo]);
    try {
      expect(await again.repository(Memo).findAll({ orderBy: { id: "asc" } })).toEqual([
        { id: "a", title: "first", remindAt: new Date(7) },
        { id: "b", title: "second", remindAt: null },
      ]);
    } finally {
      await again.close();
    }
    const catalog = JSON.parse(fs.readFileSync(path.join(dir, "catalog.json"), "utf8"));
    expect(Object.keys(catalog.tables)).toEqual(["memos"]);
    expect(catalog.generation).toBe(1);
  });

  test("a crash before the catalog switch leaves the old schema whole", async () => {
    const s = await open([Note], true);
    await s.repository(Note).save({ id: "a", title: "first" });
    const realRename = fs.renameSync;
    vi.spyOn(fs, "renameSync").mockImplementation((from, to) => {
      if (String(to).endsWith("catalog.json")) throw Object.assign(new Error("EIO: i/o error, rename"), { code: "EIO" });
      realRename(from, to);
    });
    await expect(checkpoint(s, renamedDatabase(s))).rejects.toThrow(/EIO/);
    vi.restoreAllMocks();
    // Kill-like: release the lock without closing.
    fs.rmSync(path.join(dir, "strata.lock"));
    const again = await open([Note]);
    try {
      expect(await again.repository(Note).findAll()).toEqual([{ id: "a", title: "first" }]);
    } finally {
      await again.close();
    }
  });

  test("a schema change failing on a full disk is a CapacityError naming the file, and leaves none of its new files behind", async () => {
    const s = await open([Note], true);
    await s.repository(Note).save({ id: "a", title: "first" });
    const before = fs.readdirSync(dir).sort();
    const realRename = fs.renameSync;
    vi.spyOn(fs, "renameSync").mockImplementation((from, to) => {
      if (String(to).endsWith("catalog.json")) throw Object.assign(new Error("ENOSPC: no space left on device, rename"), { code: "ENOSPC" });
      realRename(from, to);
    });
    const error = await checkpoint(s, renamedDatabase(s)).catch((e: unknown) => e);
    vi.restoreAllMocks();
    expect(error).toBeInstanceOf(CapacityError);
    expect((error as CapacityError).file).toBe(path.join(dir, "catalog.json"));
    // On a full disk, half a generation's snapshots left behind would keep the space taken.
    expect(fs.readdirSync(dir).sort()).toEqual(before);
    try {
      expect(await s.repository(Note).findAll()).toEqual([{ id: "a", title: "first" }]);
      await s.repository(Note).save({ id: "b", title: "second" });
    } finally {
      await s.close();
    }
    const again = await open([Note]);
    try {
      expect(await again.repository(Note).count()).toBe(2);
    } finally {
      await again.close();
    }
  });

  test("a stored table whose columns differ from its entity loads, survives compaction, and refuses the entity's use", async () => {
    const s = await open([Note], true);
    await s.repository(Note).save({ id: "a", title: "kept" });
    await s.close();
    const catalogFile = path.join(dir, "catalog.json");
    const { crc: _seal, ...catalog } = JSON.parse(fs.readFileSync(catalogFile, "utf8"));
    catalog.tables.memos = { ...catalog.tables.notes, file: "memos.table.json" };
    delete catalog.tables.notes;
    // Written as another program would, with valid seals.
    fs.writeFileSync(catalogFile, catalogText(catalog));
    const snapshot = JSON.parse(fs.readFileSync(path.join(dir, "notes.table.json"), "utf8"));
    fs.rmSync(path.join(dir, "notes.table.json"));
    fs.writeFileSync(path.join(dir, "memos.table.json"), snapshotText("memos", snapshot.seq, snapshot.rows));
    const warn = vi.fn();
    const again = await createStorage({ url: `file:${dir}`, entities: [Memo], timeoutMs: 0, logger: { debug() {}, info() {}, warn, error() {} } });
    try {
      expect(warn).toHaveBeenCalledWith(expect.stringContaining('column "remindAt" is not stored'));
      await expect(again.repository(Memo).findAll()).rejects.toThrow(/memos/);
    } finally {
      await again.close();
    }
    expect(JSON.parse(fs.readFileSync(path.join(dir, "memos.table.json"), "utf8")).rows).toEqual([{ id: "a", title: "kept" }]);
  });
});
