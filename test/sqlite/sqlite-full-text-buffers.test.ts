/**
 * What building a full-text index over a table's rows leaves in the connection that built it: FTS5's buffer of
 * pending terms at its largest, which every later commit of the index walks and clears. The connection gives it
 * back by reloading its schema once the write has ended, never inside a transaction
 * (SqliteConnection.shrinkFullTextBuffers), and goes on as before: its prepared statements run, the index stays
 * in step with the rows, a rollback still undoes the index's changes.
 */
import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { Column, Entity, PrimaryColumn } from "typeorm";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import type { Backend, EntitySchema } from "../../src/index.js";
import { readEntitySchema } from "../../src/index.js";
import { openBackend } from "../../src/conformance/index.js";
import { createMigrationContext } from "../../src/migrations/schema-migration-context.js";
import { parseSearchQuery } from "../../src/search/search-parser.js";
import { SqliteConnection } from "../../src/backends/sqlite/sqlite-connection.js";
import { sqliteFullText } from "../../src/backends/sqlite/sqlite-full-text.js";
import { backendSelected } from "../sql/sql-backend-cases.js";

@Entity("buffer_docs")
class Doc {
  @PrimaryColumn({ type: "integer" }) id!: number;
  @Column({ type: "varchar" }) title!: string;
  @Column({ type: "varchar", nullable: true }) body!: string | null;
}

const plain: EntitySchema = readEntitySchema(Doc);
const indexed: EntitySchema = { ...plain, fullText: { name: "fts_buffer_docs", properties: ["title", "body"] } };
const WORDS = ["river", "harbour", "granite", "meadow", "lantern", "orchard", "quarry", "thistle", "beacon", "cinder"];
const docs = Array.from({ length: 400 }, (_, i) => ({ id: i + 1, title: `${WORDS[i % 10]!} ${WORDS[(i * 7) % 10]!} ${i}`, body: i % 3 === 0 ? null : `note ${WORDS[(i * 3) % 10]!}` }));

/** The schema reloads a spied `pragma` saw. */
const resetsOf = (pragma: { mock: { calls: unknown[][] } }) => pragma.mock.calls.filter(([text]) => text === "writable_schema = RESET").length;

describe.skipIf(!backendSelected("sqlite"))("sqlite: full-text buffers after a rebuild", () => {
  test("a connection reloads its schema once after the write that rebuilt an index ends, not inside it, not after other writes", () => {
    const db = new Database(":memory:");
    try {
      db.exec("CREATE TABLE buffer_docs (id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT)");
      const insert = db.prepare("INSERT INTO buffer_docs VALUES (?, ?, ?)");
      for (const d of docs) insert.run(d.id, d.title, d.body);
      const connection = new SqliteConnection(db);
      const pragma = vi.spyOn(db, "pragma");
      connection.exec("BEGIN IMMEDIATE");
      for (const statement of sqliteFullText.createStatements("buffer_docs", indexed.fullText!, "id", "migration")) connection.run(statement, []);
      connection.shrinkFullTextBuffers();
      expect(resetsOf(pragma)).toBe(0);
      connection.exec("COMMIT");
      connection.shrinkFullTextBuffers();
      expect(resetsOf(pragma)).toBe(1);
      // Ordinary writes (their statement prepared before the reload) rebuild nothing: nothing more to give back.
      connection.run("INSERT INTO buffer_docs (id, title, body) VALUES (?, ?, ?)", [1000, "lighthouse keeper", null]);
      connection.shrinkFullTextBuffers();
      connection.run("INSERT INTO buffer_docs (id, title, body) VALUES (?, ?, ?)", [1001, "lighthouse", "keeper of the beacon"]);
      connection.shrinkFullTextBuffers();
      expect(resetsOf(pragma)).toBe(1);
      expect(db.prepare(`SELECT rowid FROM buffer_docs__fts WHERE buffer_docs__fts MATCH 'lighthouse' ORDER BY rowid`).pluck().all()).toEqual([1000, 1001]);
      // A rebuild by hand (storage.sql's way, through exec) counts too.
      connection.exec(`INSERT INTO buffer_docs__fts(buffer_docs__fts) VALUES ('rebuild')`);
      connection.shrinkFullTextBuffers();
      expect(resetsOf(pragma)).toBe(2);
      db.prepare(`INSERT INTO buffer_docs__fts(buffer_docs__fts, rank) VALUES ('integrity-check', 1)`).run();
    } finally {
      db.close();
    }
  });

  describe("through the backend", () => {
    let dir: string;
    let file: string;
    let backend: Backend | undefined;
    const open = (schemas: EntitySchema[]) => openBackend({ url: `sqlite:${file}`, autoCreate: true }, schemas);
    const search = (text: string, session = backend!.session) =>
      session.search!(indexed, { query: parseSearchQuery(text), where: undefined, limit: 1000, offset: 0 }).then((hits) => hits.map((h) => h.row["id"]));
    const integrityCheck = () => {
      const db = new Database(file);
      try {
        db.prepare(`INSERT INTO buffer_docs__fts(buffer_docs__fts, rank) VALUES ('integrity-check', 1)`).run();
      } finally {
        db.close();
      }
    };

    beforeEach(() => {
      dir = mkdtempSync(path.join(tmpdir(), "strata-fts-buffers-"));
      file = path.join(dir, "db.sqlite");
    });
    afterEach(async () => {
      vi.restoreAllMocks();
      await backend?.close();
      backend = undefined;
      rmSync(dir, { recursive: true, force: true });
    });

    test("autoCreate over stored rows and a migration's new index give the buffers back once their write ends; writes and rollbacks after it keep the index in step", async () => {
      backend = await open([plain]);
      await backend.session.upsertMany(plain, docs);
      await backend.close();
      const pragma = vi.spyOn(Database.prototype, "pragma");
      backend = await open([indexed]);
      expect(resetsOf(pragma)).toBe(1);
      const lanterns = await search("lantern");
      expect(lanterns).toHaveLength(docs.filter((d) => `${d.title} ${d.body ?? ""}`.includes("lantern")).length);
      await backend.session.upsert(indexed, { id: 1000, title: "lantern maker", body: null });
      await backend.session.upsertMany(indexed, [{ id: 3, title: "renamed", body: null }]);
      expect(await search("lantern")).toContain(1000);
      expect(await search("renamed")).toEqual([3]);
      expect(resetsOf(pragma)).toBe(1);

      // A migration that makes the index again: the reload waits for the commit.
      const tx = await backend.begin();
      const m = createMigrationContext(backend.name, tx.schema!(), tx, new Set());
      await m.dropFullTextIndex("buffer_docs");
      await m.createFullTextIndex("buffer_docs", ["title", "body"], "fts_buffer_docs");
      await tx.insert(indexed, { id: 1001, title: "lantern festival", body: "harbour" });
      expect(resetsOf(pragma)).toBe(1);
      await tx.commit();
      expect(resetsOf(pragma)).toBe(2);
      expect(await search("lantern festival")).toEqual([1001]);

      // After the reload: a rolled-back transaction and savepoint leave the index as they found it.
      const before = await search("harbour");
      const tx2 = await backend.begin();
      await tx2.insert(indexed, { id: 1002, title: "harbour master", body: null });
      await tx2.savepoint("s1");
      await tx2.delete(indexed, 1001);
      expect(await search("harbour", tx2)).not.toContain(1001);
      await tx2.rollbackToSavepoint("s1");
      expect(await search("harbour", tx2)).toContain(1001);
      expect(await search("harbour", tx2)).toContain(1002);
      await tx2.rollback();
      expect(await search("harbour")).toEqual(before);
      await backend.close();
      backend = undefined;
      integrityCheck();
    });
  });
});
