/**
 * Foreign keys on the file backend: the catalog keeps them, so a storage opening the directory without the
 * entities enforces them too; the rows a cascade deleted and a SET NULL emptied are in the journal, so a
 * directory left by a crash (the journal not yet folded into the snapshots) reopens with the same rows.
 */
import "reflect-metadata";
import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { createStorage, IntegrityError } from "../../src/index.js";
import type { Storage } from "../../src/index.js";
import type { EngineBackend } from "../../src/backends/engine-backend.js";
import { EfkAuthor, EfkComment, EfkPost, EfkReaction, FOREIGN_KEY_ENTITIES } from "../../src/conformance/foreign-key-tests.js";
import { coreOf } from "../../src/storage-core.js";

let dir: string;
const dirs: string[] = [];
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "efk-file-"));
  dirs.push(dir);
});
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const open = (at = dir, entities = FOREIGN_KEY_ENTITIES) => createStorage({ url: `file:${at}`, entities, autoCreate: true, file: { fsync: "never" } });
const post = (id: string, authorId: string, editorId: string | null) => Object.assign(new EfkPost(), { id, title: id, authorId, editorId });

async function seed(storage: Storage): Promise<void> {
  await storage.repository(EfkAuthor).saveMany([{ id: "ada", name: "Ada" }, { id: "bob", name: "Bob" }]);
  await storage.repository(EfkPost).saveMany([post("p1", "ada", null), post("p3", "bob", "ada")]);
  await storage.repository(EfkComment).saveMany([{ id: "c1", body: "x", postId: "p1" }, { id: "c3", body: "z", postId: "p3" }]);
  await storage.repository(EfkReaction).insert({ id: "r1", commentId: "c1" });
}

async function state(storage: Storage): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const entity of [EfkAuthor, EfkPost, EfkComment, EfkReaction]) {
    out[entity.name] = (await storage.repository(entity as typeof EfkAuthor).findAll({ orderBy: { id: "asc" } })).map((r) => ({ ...r }));
  }
  return out;
}

describe("file: foreign keys", () => {
  test("a cascade and a SET NULL are journaled: a directory left before compaction reopens with the same rows", async () => {
    const s = await open();
    await seed(s);
    await s.repository(EfkAuthor).delete("ada");
    const expected = await state(s);
    expect(expected["EfkPost"]!.map((p) => [(p as EfkPost).id, (p as EfkPost).editorId])).toEqual([["p3", null]]);
    expect(expected["EfkComment"]!.map((c) => (c as EfkComment).id)).toEqual(["c3"]);
    expect(expected["EfkReaction"]).toEqual([]);
    // The journal line of the delete holds the rows it reached in other tables.
    const lines = fs.readFileSync(path.join(dir, "journal.ndjson"), "utf8").trim().split("\n");
    const ops = JSON.parse(lines.at(-1)!).ops as unknown[][];
    expect(ops).toEqual(
      expect.arrayContaining([
        ["efk_authors", "ada", null],
        ["efk_posts", "p1", null],
        ["efk_comments", "c1", null],
        ["efk_reactions", "r1", null],
        ["efk_posts", "p3", expect.objectContaining({ editorId: null, version: 1 })],
      ]),
    );
    // A crash image: every file as it is now (snapshots still empty, everything in the journal), without the lock.
    const crashed = fs.mkdtempSync(path.join(os.tmpdir(), "efk-file-crashed-"));
    dirs.push(crashed);
    for (const name of fs.readdirSync(dir)) if (name !== "strata.lock") fs.copyFileSync(path.join(dir, name), path.join(crashed, name));
    await s.close();
    for (const at of [crashed, dir]) {
      const again = await open(at);
      expect(await state(again)).toEqual(expected);
      // The foreign key's index is right after the replay.
      expect(await again.repository(EfkComment).count({ postId: "p1" })).toBe(0);
      expect(await again.repository(EfkComment).count({ postId: "p3" })).toBe(1);
      await again.close();
    }
  });

  test("the catalog keeps the foreign keys: a storage opened without the entities enforces them", async () => {
    const s = await open();
    await seed(s);
    await s.close();
    const catalog = JSON.parse(fs.readFileSync(path.join(dir, "catalog.json"), "utf8"));
    expect(catalog.tables.efk_posts.foreignKeys).toEqual([
      { name: "fk_efk_posts_authorId", column: "authorId", referencedTable: "efk_authors", referencedColumn: "id", onDelete: "CASCADE" },
      { name: "fk_efk_posts_editorId", column: "editorId", referencedTable: "efk_authors", referencedColumn: "id", onDelete: "SET NULL" },
    ]);
    const bare = await createStorage({ url: `file:${dir}`, entities: [], file: { fsync: "never" } });
    try {
      const backend = coreOf(bare).backend as unknown as EngineBackend;
      const schemaOf = (table: string) => backend.db.tables.get(table)!.schema;
      const error = await backend.session.insert(schemaOf("efk_posts"), { id: "p9", title: "t", authorId: "nobody", editorId: null, version: 1, updatedAt: new Date() }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(IntegrityError);
      expect((error as Error).message).toBe(`efk_posts.authorId: no efk_authors row has id "nobody"`);
      await expect(backend.session.delete(schemaOf("efk_comments"), "c1")).resolves.toBe(true);
      await expect(backend.session.delete(schemaOf("efk_authors"), "ada")).resolves.toBe(true);
      const posts = await backend.session.find(schemaOf("efk_posts"), { where: [[]], orderBy: [{ column: schemaOf("efk_posts").primary, direction: "asc" }], offset: 0 });
      expect(posts.map((p) => [p["id"], p["editorId"]])).toEqual([["p3", null]]);
    } finally {
      await bare.close();
    }
  });

  test("a catalog foreign key naming a column the table lacks is a CorruptionError", async () => {
    const s = await open();
    await s.close();
    const file = path.join(dir, "catalog.json");
    const text = fs.readFileSync(file, "utf8");
    const catalog = JSON.parse(text);
    catalog.tables.efk_posts.foreignKeys[0].column = "missing";
    delete catalog.crc;
    const { catalogText } = await import("../../src/backends/file/file-catalog.js");
    fs.writeFileSync(file, catalogText(catalog));
    await expect(open()).rejects.toThrow(/table "efk_posts": foreign key "fk_efk_posts_authorId" needs a name, one of its columns/);
  });
});
