/**
 * Full-text search on the engine's backends (memory and file), through the SPI: what every write does to
 * the index (updates, deletes, deleteMany, cascades), phrases, prefixes, exclusions and `where`, rolled-back
 * transactions and savepoints, a reopened file directory, and the schema editor's create and drop.
 */
import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { SchemaError } from "../../src/index.js";
import { openBackend } from "../../src/conformance/index.js";
import type { Backend, DataSession } from "../../src/spi/index.js";
import type { SearchQuery } from "../../src/search/search-query.js";
import { buildEntitySchema } from "../../src/schema/entity-schema.js";
import type { EntitySchema } from "../../src/schema/entity-schema.js";
import { schemaOfTable } from "../../src/schema/table-schema.js";
import { and, asRow, DOCS, not, or, query } from "./engine-search-support.js";

const dirs: string[] = [];
let backends: Backend[] = [];
afterEach(async () => {
  for (const b of backends) await b.close();
  backends = [];
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function newDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "strata-fts-engine-"));
  dirs.push(dir);
  return dir;
}

async function open(kind: "memory" | "file", schemas: readonly EntitySchema[], dir = kind === "file" ? newDir() : undefined, autoCreate = true): Promise<Backend> {
  const backend = await openBackend({ url: dir ? `file:${dir}` : "memory:", autoCreate }, schemas);
  backends.push(backend);
  return backend;
}

/** The ids found, best first. */
async function ids(session: DataSession, q: SearchQuery, schema: EntitySchema = DOCS, where?: Parameters<NonNullable<DataSession["search"]>>[1]["where"]): Promise<unknown[]> {
  return (await session.search!(schema, { query: q, where, limit: 100, offset: 0 })).map((h) => h.row["id"]);
}

const word = (text: string, prefix = false) => query((p) => p(text, prefix));

const PARENTS = buildEntitySchema({
  entityName: "Shelf",
  table: "shelves",
  target: class Shelf {},
  columns: [{ property: "id", name: "id", type: "integer", nullable: false, unique: false, primary: true }],
  indexes: [],
});
const BOOKS = buildEntitySchema({
  entityName: "Book",
  table: "books",
  target: class Book {},
  columns: [
    { property: "id", name: "id", type: "integer", nullable: false, unique: false, primary: true },
    { property: "shelfId", name: "shelfId", type: "integer", nullable: true, unique: false, primary: false },
    { property: "title", name: "title", type: "string", nullable: false, unique: false, primary: false },
  ],
  indexes: [{ name: "idx_books_shelfId", properties: ["shelfId"], unique: false }],
  foreignKeys: [{ name: "fk_books_shelfId", property: "shelfId", referencedTable: "shelves", referencedColumn: "id", onDelete: "CASCADE" }],
  fullText: { name: "fts_books", properties: ["title"] },
});

for (const kind of ["memory", "file"] as const) {
  describe(`${kind}: full-text search in the engine`, () => {
    test("a phrase never matches across two columns; words do", async () => {
      const b = await open(kind, [DOCS]);
      await b.session.insert(DOCS, asRow({ id: 1, title: "the new", body: "york times", grp: 0 }));
      await b.session.insert(DOCS, asRow({ id: 2, title: "new york", body: null, grp: 0 }));
      expect(await ids(b.session, word("new york"))).toEqual([2]);
      expect((await ids(b.session, query((p) => and(p("new"), p("york"))))).sort()).toEqual([1, 2]);
    });

    test("updates, upserts, deletes and deleteMany take the old postings out", async () => {
      const b = await open(kind, [DOCS]);
      const s = b.session;
      await s.upsertMany(DOCS, [1, 2, 3, 4].map((id) => asRow({ id, title: `alpha ${id % 2 ? "odd" : "even"}`, body: null, grp: id % 2 })));
      await s.update(DOCS, 1, { title: "beta" });
      await s.upsert(DOCS, asRow({ id: 2, title: "gamma", body: "alpha", grp: 0 }));
      expect(await ids(s, word("beta"))).toEqual([1]);
      expect((await ids(s, word("alpha"))).sort()).toEqual([2, 3, 4]);
      expect(await ids(s, word("odd"))).toEqual([3]);
      expect(await s.delete(DOCS, 3)).toBe(true);
      expect(await ids(s, word("odd"))).toEqual([]);
      expect(await s.deleteMany(DOCS, [[{ column: DOCS.columnsByProperty.get("grp")!, op: "eq", value: 0 }]])).toBe(2);
      expect(await ids(s, word("alpha"))).toEqual([]);
      expect(await ids(s, word("beta"))).toEqual([1]);
    });

    test("rows a cascade deletes leave the index", async () => {
      const b = await open(kind, [PARENTS, BOOKS]);
      const s = b.session;
      await s.upsertMany(PARENTS, [{ id: 1 }, { id: 2 }]);
      await s.upsertMany(BOOKS, [
        { id: 1, shelfId: 1, title: "moby dick" },
        { id: 2, shelfId: 2, title: "dick tracy" },
      ]);
      await s.delete(PARENTS, 1);
      expect(await ids(s, word("dick"), BOOKS)).toEqual([2]);
      expect(await ids(s, word("moby"), BOOKS)).toEqual([]);
    });

    test("prefixes, exclusions, OR, folded diacritics and a where filter", async () => {
      const b = await open(kind, [DOCS]);
      const s = b.session;
      await s.upsertMany(DOCS, [
        asRow({ id: 1, title: "Köln", body: "Dom", grp: 0 }),
        asRow({ id: 2, title: "Santa Cruz", body: null, grp: 1 }),
        asRow({ id: 3, title: "Santander", body: null, grp: 0 }),
        asRow({ id: 4, title: "San José", body: null, grp: 1 }),
      ]);
      expect(await ids(s, word("koln"))).toEqual([1]);
      expect(await ids(s, word("jose"))).toEqual([4]);
      expect((await ids(s, word("san", true))).sort()).toEqual([2, 3, 4]);
      expect(await ids(s, word("san"))).toEqual([4]);
      expect((await ids(s, query((p) => and(p("san", true), not(p("cruz")))))).sort()).toEqual([3, 4]);
      expect((await ids(s, query((p) => or(p("dom"), p("cruz")))))).toHaveLength(2);
      expect(await ids(s, word("san", true), DOCS, [[{ column: DOCS.columnsByProperty.get("grp")!, op: "eq", value: 0 }]])).toEqual([3]);
      expect(await ids(s, word("zzz", true))).toEqual([]);
    });

    test("equal documents tie exactly and come by primary key; paging skips and limits", async () => {
      const b = await open(kind, [DOCS]);
      await b.session.upsertMany(DOCS, [5, 3, 9, 1].map((id) => asRow({ id, title: "same words", body: null, grp: 0 })));
      await b.session.insert(DOCS, asRow({ id: 7, title: "other", body: null, grp: 0 }));
      const hits = await b.session.search!(DOCS, { query: word("words"), where: undefined, limit: 2, offset: 1 });
      expect(hits.map((h) => h.row["id"])).toEqual([3, 5]);
      expect(hits[0]!.score).toBe(hits[1]!.score);
      expect(hits[0]!.score).toBeGreaterThan(0);
      expect(hits[0]!.row).toEqual({ id: 3, title: "same words", body: null, grp: 0 });
    });

    test("writes of a rolled-back transaction or savepoint never show in search", async () => {
      const b = await open(kind, [DOCS]);
      await b.session.insert(DOCS, asRow({ id: 1, title: "kept", body: null, grp: 0 }));
      const tx = await b.begin();
      await tx.insert(DOCS, asRow({ id: 2, title: "kept too", body: null, grp: 0 }));
      await tx.savepoint("a");
      await tx.update(DOCS, 1, { title: "renamed" });
      await tx.insert(DOCS, asRow({ id: 3, title: "kept ghost", body: null, grp: 0 }));
      expect(await ids(tx, word("kept"))).toEqual([2, 3]);
      expect(await ids(b.session, word("kept"))).toEqual([1]);
      await tx.rollbackToSavepoint("a");
      expect(await ids(tx, word("ghost"))).toEqual([]);
      expect((await ids(tx, word("kept"))).sort()).toEqual([1, 2]);
      await tx.rollback();
      expect(await ids(b.session, word("kept"))).toEqual([1]);
      expect(await ids(b.session, word("renamed"))).toEqual([]);
    });

    test("a table without a full-text index: SchemaError naming it", async () => {
      const b = await open(kind, [PARENTS]);
      await expect(b.session.search!(PARENTS, { query: word("x"), where: undefined, limit: 5, offset: 0 })).rejects.toThrow(SchemaError);
      await expect(b.session.search!(PARENTS, { query: word("x"), where: undefined, limit: 5, offset: 0 })).rejects.toThrow(/table "shelves"/);
    });

    test("migrations create and drop the index; a rolled-back creation leaves none", async () => {
      const dir = kind === "file" ? newDir() : undefined;
      const b = await open(kind, [], dir, false);
      const notes = { name: "notes", columns: [
        { name: "id", type: "integer" as const, nullable: false, primary: true, unique: false },
        { name: "head", type: "string" as const, nullable: true, primary: false, unique: false },
        { name: "text", type: "string" as const, nullable: true, primary: false, unique: false },
        { name: "n", type: "integer" as const, nullable: true, primary: false, unique: false },
      ], indexes: [] };
      const schema = schemaOfTable(notes);
      let tx = await b.begin();
      await tx.schema!().createTable(notes);
      await tx.insert(schema, { id: 1, head: "hello", text: "world", n: 1 });
      await tx.commit();
      tx = await b.begin();
      await tx.schema!().createFullTextIndex!("notes", { name: "fts_notes", properties: ["head", "text"] });
      await tx.rollback();
      await expect(b.session.search!(schema, { query: word("hello"), where: undefined, limit: 5, offset: 0 })).rejects.toThrow(SchemaError);
      tx = await b.begin();
      const editor = tx.schema!();
      await expect(editor.createFullTextIndex!("notes", { name: "fts_notes", properties: ["n"] })).rejects.toThrow(/not a string column/);
      await editor.createFullTextIndex!("notes", { name: "fts_notes", properties: ["head", "text"] });
      expect((await editor.describeTable("notes"))?.fullText).toEqual({ name: "fts_notes", properties: ["head", "text"] });
      await expect(editor.createFullTextIndex!("notes", { name: "fts_other", properties: ["head"] })).rejects.toThrow(/has a full-text index already/);
      // Its own rows are indexed, and the transaction's search sees them.
      expect(await ids(tx, word("world"), schema)).toEqual([1]);
      await tx.commit();
      expect(await ids(b.session, word("world"), schema)).toEqual([1]);
      await b.session.insert(schema, { id: 2, head: "world", text: null, n: null });
      expect((await ids(b.session, word("world"), schema)).sort()).toEqual([1, 2]);
      if (dir) {
        // The catalog records the index: a reopened directory has it, with the same scores.
        const before = await b.session.search!(schema, { query: word("world"), where: undefined, limit: 5, offset: 0 });
        await b.close();
        backends = backends.filter((x) => x !== b);
        const again = await open(kind, [], dir, false);
        expect(await again.session.search!(schema, { query: word("world"), where: undefined, limit: 5, offset: 0 })).toEqual(before);
        tx = await again.begin();
      } else tx = await b.begin();
      await tx.schema!().renameColumn("notes", "text", "body");
      expect((await tx.schema!().describeTable("notes"))?.fullText).toEqual({ name: "fts_notes", properties: ["head", "body"] });
      await tx.schema!().dropFullTextIndex!("notes", "fts_notes");
      expect((await tx.schema!().describeTable("notes"))?.fullText).toBeUndefined();
      await tx.commit();
    });

    test("dropping a column of the index drops the index", async () => {
      const b = await open(kind, [DOCS]);
      const tx = await b.begin();
      await tx.schema!().dropColumn("docs", "body");
      expect((await tx.schema!().describeTable("docs"))?.fullText).toBeUndefined();
      await tx.rollback();
      expect(await ids(b.session, word("x"))).toEqual([]);
    });
  });
}

describe("file: the stored full-text index", () => {
  test("a reopened directory gives the same results, with the journal replayed and after compaction", async () => {
    const dir = newDir();
    let b = await open("file", [DOCS], dir);
    await b.session.upsertMany(DOCS, [
      asRow({ id: 1, title: "new york", body: "big apple", grp: 0 }),
      asRow({ id: 2, title: "new jersey", body: null, grp: 1 }),
      asRow({ id: 3, title: "york", body: "new", grp: 0 }),
    ]);
    await b.session.delete(DOCS, 2);
    const q = query((p) => or(p("new york"), p("apple"), p("jer", true)));
    const before = await b.session.search!(DOCS, { query: q, where: undefined, limit: 10, offset: 0 });
    expect(before.map((h) => h.row["id"])).toEqual([1]);
    // Without a close: the journal is replayed on open.
    const again = async () => {
      await b.close();
      backends = backends.filter((x) => x !== b);
      b = await open("file", [DOCS], dir);
      return b.session.search!(DOCS, { query: q, where: undefined, limit: 10, offset: 0 });
    };
    expect(await again()).toEqual(before);
    expect(await again()).toEqual(before);
  });

  test("autoCreate gives a stored table the entity's full-text index and records it", async () => {
    const dir = newDir();
    const { fullText: _none, ...plain } = DOCS;
    const without = buildEntitySchema(plain);
    let b = await open("file", [without], dir);
    await b.session.insert(without, asRow({ id: 1, title: "stored", body: null, grp: 0 }));
    await b.close();
    backends = [];
    // Without autoCreate the entity's declaration alone creates nothing (as on SQL).
    b = await open("file", [DOCS], dir, false);
    await expect(b.session.search!(DOCS, { query: word("stored"), where: undefined, limit: 5, offset: 0 })).rejects.toThrow(SchemaError);
    await b.close();
    backends = [];
    b = await open("file", [DOCS], dir, true);
    expect(await ids(b.session, word("stored"))).toEqual([1]);
    const catalog = JSON.parse(fs.readFileSync(path.join(dir, "catalog.json"), "utf8")) as { tables: Record<string, { fullText?: unknown }> };
    expect(catalog.tables["docs"]!.fullText).toEqual({ name: "fts_docs", columns: ["title", "body"] });
  });
});
