/**
 * Column names that meet the names SQLite's full-text search uses: the select's own aliases (a column
 * named `strata_score` or `strata_rowid` in a search's where), and the hidden rowid FTS5 keys its rows by
 * (a column named `rowid`, `oid` or `_rowid_` would take its place, and the index would key rows by it).
 */
import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { createStorage, readEntitySchema, SchemaError } from "../../src/index.js";
import { openBackend } from "../../src/conformance/index.js";
import { createMigrationContext } from "../../src/migrations/schema-migration-context.js";
import { backendSelected } from "../sql/sql-backend-cases.js";

@Entity("names_scored")
@Index(["body"], { fulltext: true })
class Scored {
  @PrimaryColumn({ type: "string" }) id!: string;
  @Column({ type: "string" }) body!: string;
  @Column({ type: "string" }) strata_score!: string;
  @Column({ type: "integer" }) strata_rowid!: number;
}

@Entity("names_rowid")
@Index(["body"], { fulltext: true })
class WithRowid {
  @PrimaryColumn({ type: "string" }) id!: string;
  @Column({ type: "string" }) body!: string;
  @Column({ type: "integer" }) rowid!: number;
}

@Entity("names_hidden")
class Hidden {
  @PrimaryColumn({ type: "string" }) id!: string;
  @Column({ type: "string" }) __strata_fts_doc!: string;
}

describe.skipIf(!backendSelected("sqlite"))("sqlite: full-text search and column names", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "strata-fts-names-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test("a where on columns named like the search's own aliases (strata_score, strata_rowid) filters by the columns", async () => {
    const storage = await createStorage({ url: `sqlite:${path.join(dir, "a.db")}`, entities: [Scored], autoCreate: true });
    try {
      const repo = storage.repository(Scored);
      await repo.saveMany([
        { id: "a", body: "hello there", strata_score: "x", strata_rowid: 1 },
        { id: "b", body: "hello world", strata_score: "y", strata_rowid: 2 },
      ]);
      expect((await repo.search("hello", { where: { strata_score: "y" } })).map((h) => h.entity)).toEqual([{ id: "b", body: "hello world", strata_score: "y", strata_rowid: 2 }]);
      expect((await repo.search("hello", { where: { strata_rowid: 1 } })).map((h) => h.entity.id)).toEqual(["a"]);
    } finally {
      await storage.close();
    }
  });

  test("a column named rowid is refused on a table with a full-text index (it would key the index), by autoCreate and by a migration", async () => {
    await expect(createStorage({ url: `sqlite:${path.join(dir, "b.db")}`, entities: [WithRowid], autoCreate: true })).rejects.toThrow(SchemaError);
    const backend = await openBackend(`sqlite:${path.join(dir, "c.db")}`);
    const tx = await backend.begin();
    try {
      const editor = tx.schema!();
      const m = createMigrationContext(backend.name, editor, tx, new Set());
      await m.createTable("notes", { id: { type: "string", primary: true }, body: { type: "string" }, OID: { type: "integer", nullable: true } });
      await expect(m.createFullTextIndex("notes", ["body"])).rejects.toThrow(/OID/);
      expect((await editor.describeTable("notes"))?.fullText).toBeUndefined();
    } finally {
      await tx.rollback();
      await backend.close();
    }
  });

  test("a column added or renamed to rowid on a table that has a full-text index is refused, the index left as it was", async () => {
    const backend = await openBackend(`sqlite:${path.join(dir, "d.db")}`);
    const tx = await backend.begin();
    try {
      const editor = tx.schema!();
      const m = createMigrationContext(backend.name, editor, tx, new Set());
      await m.createTable("notes", { id: { type: "string", primary: true }, body: { type: "string" }, n: { type: "integer", nullable: true } });
      await m.createFullTextIndex("notes", ["body"]);
      await expect(m.addColumn("notes", "RowId", { type: "integer", nullable: true })).rejects.toThrow(/RowId/);
      await expect(m.renameColumn("notes", "n", "_rowid_")).rejects.toThrow(SchemaError);
      expect((await editor.describeTable("notes"))?.columns.map((c) => c.name)).toEqual(["id", "body", "n"]);
      expect((await editor.describeTable("notes"))?.fullText?.properties).toEqual(["body"]);
    } finally {
      await tx.rollback();
      await backend.close();
    }
  });

  test("an entity column named with Strata's hidden prefix (__strata_) is refused: PostgreSQL keeps its own columns under it", () => {
    expect(() => readEntitySchema(Hidden)).toThrow(SchemaError);
    expect(() => readEntitySchema(Hidden)).toThrow(/__strata_fts_doc/);
  });
});
