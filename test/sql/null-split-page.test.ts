/**
 * A descending page over a nullable column, split at the nulls into two selects (sql-query-compiler.ts,
 * `nullSplit`): outside a transaction the two selects read two states, so a row another process moves
 * between them (its value set to null) must still come once in the page.
 */
import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { afterAll, expect, test } from "vitest";
import { createStorage } from "../../src/index.js";
import { coreOf } from "../../src/storage-core.js";
import type { SqlRunner } from "../../src/backends/sql/sql-runner.js";

@Entity("split_rows")
class SplitRow {
  @PrimaryColumn({ type: "integer" }) id: number;
  @Index()
  @Column({ type: "integer", nullable: true })
  score: number | null;
}

const dir = mkdtempSync(path.join(tmpdir(), "strata-split-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("sqlite: a row set to null by another process between a split page's two selects comes once in the page", async () => {
  const file = path.join(dir, "split.db");
  const storage = await createStorage({ url: `sqlite:${file}`, entities: [SplitRow], autoCreate: true, cache: false });
  const other = new Database(file);
  try {
    const repo = storage.repository(SplitRow);
    await repo.saveMany([5, 4, 3, null, null].map((score, k) => ({ id: k + 1, score })));
    const first = await repo.findPage({ orderBy: { score: "desc" }, first: 1 });
    expect(first.items.map((r) => r.id)).toEqual([1]);
    // Another process sets row 2 (already read by the select of the values) to null before the select of the nulls.
    const reads = (coreOf(storage).backend as unknown as { session: { reads: SqlRunner } }).session.reads;
    const all = reads.all.bind(reads);
    reads.all = (text, params, prepared) => {
      if (/IS NULL/.test(text)) other.prepare(`UPDATE "split_rows" SET "score" = NULL WHERE "id" = 2`).run();
      return all(text, params, prepared);
    };
    const page = await repo.findPage({ orderBy: { score: "desc" }, first: 10, after: first.nextCursor });
    const ids = page.items.map((r) => r.id);
    expect(ids).toEqual([...new Set(ids)]);
    expect(ids).toEqual([2, 3, 4, 5]);
  } finally {
    other.close();
    await storage.close();
  }
});

test("sqlite: a descending walk by keyset over an indexed nullable column, with a projection, yields every row once (split pages)", async () => {
  const storage = await createStorage({ url: `sqlite:${path.join(dir, "walk.db")}`, entities: [SplitRow], autoCreate: true, cache: false });
  try {
    const repo = storage.repository(SplitRow);
    await repo.saveMany(Array.from({ length: 23 }, (_, k) => ({ id: k + 1, score: k % 4 === 0 ? null : k % 5 })));
    for (const select of [undefined, ["score"], ["id", "score"]] as const) {
      const query = { orderBy: { score: "desc" as const }, ...(select ? { select } : {}) };
      const walked: unknown[] = [];
      for await (const r of repo.iterate(query as never, { pageSize: 2 })) walked.push(r);
      expect(walked).toEqual(await repo.findAll(query as never));
      expect(walked).toHaveLength(23);
    }
  } finally {
    await storage.close();
  }
});
