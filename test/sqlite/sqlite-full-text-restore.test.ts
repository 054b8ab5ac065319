/**
 * A restore of a generation of another page size VACUUMs a copy of it (sqlite-backup-layout.ts). VACUUM may
 * renumber the hidden rowid of a table without an INTEGER PRIMARY KEY, which the FTS5 index keys rows by;
 * SQLite keeps them where the table has an index (every Strata table has its primary key's), and this
 * checks that it does: after such a restore, searches find the right rows and FTS5's integrity check passes.
 */
import "reflect-metadata";
import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { createStorage } from "../../src/index.js";
import { createGeneration } from "../../src/backup/backup-generations.js";
import { backupPlanOf } from "../../src/backup/backup-plan.js";
import { restoreGeneration } from "../../src/backup/restore-generation.js";
import { backendSelected } from "../sql/sql-backend-cases.js";

@Entity("restored_notes")
@Index(["body"], { fulltext: true })
class Note {
  @PrimaryColumn({ type: "string" }) id!: string;
  @Column({ type: "string" }) body!: string;
}

describe.skipIf(!backendSelected("sqlite"))("sqlite: full-text search after a restore that VACUUMs", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "strata-fts-restore-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test("rows with gaps in their hidden rowids are found by their own words", async () => {
    const file = path.join(dir, "app.db");
    const root = path.join(dir, "generations");
    const storage = await createStorage({ url: `sqlite:${file}`, entities: [Note], autoCreate: true });
    const words = ["apple", "banana", "cherry", "damson", "elder", "fig", "grape", "hazel"];
    await storage.repository(Note).saveMany(words.map((w, i) => ({ id: `n${i}`, body: `${w} fruit` })));
    // Gaps: the rows after them would move down if VACUUM renumbered.
    await storage.repository(Note).deleteMany({ id: { $in: ["n0", "n2", "n3", "n5"] } });
    await storage.close();
    const other = path.join(dir, "other.db");
    fs.copyFileSync(file, other);
    const db = new Database(other);
    db.pragma("journal_mode = DELETE");
    db.pragma("page_size = 8192");
    db.exec("VACUUM");
    db.close();
    const generation = await createGeneration(root, { reason: "manual", backend: "sqlite", source: path.resolve(file), dataName: "data.db", write: (dataPath) => fs.copyFileSync(other, dataPath) });
    await restoreGeneration({ backend: "sqlite", location: file, plan: backupPlanOf("sqlite", file, root)!, generation: generation.name });

    const restored = await createStorage({ url: `sqlite:${file}`, entities: [Note], autoCreate: true });
    try {
      const repo = restored.repository(Note);
      for (const [i, word] of words.entries()) {
        const expected = ["n0", "n2", "n3", "n5"].includes(`n${i}`) ? [] : [{ id: `n${i}`, body: `${word} fruit` }];
        expect((await repo.search(word)).map((h) => h.entity), word).toEqual(expected);
      }
      expect((await repo.search("fruit")).map((h) => h.entity.id).sort()).toEqual(["n1", "n4", "n6", "n7"]);
    } finally {
      await restored.close();
    }
    const check = new Database(file);
    try {
      check.prepare(`INSERT INTO "restored_notes__fts"("restored_notes__fts", rank) VALUES ('integrity-check', 1)`).run();
    } finally {
      check.close();
    }
  });
});
