/**
 * `repo.search` on every backend whose session searches, held to the reference (test/support/search-reference.ts)
 * on random documents and queries: the same rows in the same order with the same scores (to 1e-12), a `where`
 * applied after ranking, and writes of a rolled-back transaction never found. A backend that cannot search yet
 * is reported as skipped by name; "memory + reference" (the memory backend given the reference as its search)
 * runs always, to keep the harness itself honest.
 */
import "reflect-metadata";
import fc from "fast-check";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { createStorage, UnsupportedError, type Storage } from "../../src/index.js";
import { parseSearchQuery } from "../../src/search/search-parser.js";
import { searchReference } from "../support/search-reference.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "../postgres/pg-test-database.js";
import { expectSameRanking, fts5ScoresReproducible } from "./fts5-oracle.js";
import { withReferenceSearch } from "./reference-search.js";
import { documents, queryText } from "./search-arbitraries.js";

@Entity("search_property_docs")
@Index(["body", "note"], { fulltext: true })
class Doc {
  @PrimaryColumn({ type: "integer" }) id: number;
  @Column({ type: "string" }) body: string;
  @Column({ type: "string", nullable: true }) note: string | null;
  @Column({ type: "integer" }) group: number;
}

const dirs: string[] = [];
const freshDir = (): string => {
  const dir = mkdtempSync(path.join(tmpdir(), "strata-search-prop-"));
  dirs.push(dir);
  return dir;
};
let pg: PgTestDatabase | undefined;
afterAll(async () => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  await pg?.drop();
});

const selected = process.env["BACKENDS"]?.split(",").map((s) => s.trim());
/** `native`: the backend ranks with FTS5's own bm25() (SQLite). */
const backends: Array<{ name: string; skip?: string; native?: boolean; open: () => Promise<Storage> }> = [
  { name: "memory + reference", open: async () => withReferenceSearch(await createStorage({ url: "memory:", entities: [Doc], cache: false })) },
  { name: "memory", open: () => createStorage({ url: "memory:", entities: [Doc], cache: false }) },
  { name: "file", open: () => createStorage({ url: `file:${freshDir()}`, entities: [Doc], autoCreate: true, cache: false }) },
  { name: "sqlite", native: true, open: () => createStorage({ url: `sqlite:${path.join(freshDir(), "p.db")}`, entities: [Doc], autoCreate: true, cache: false }) },
  {
    name: "postgres",
    skip: pgSkipReason(),
    open: async () => {
      pg ??= await PgTestDatabase.create(PG_URL!);
      return createStorage({ url: await pg.freshSchemaUrl(), entities: [Doc], autoCreate: true, cache: false });
    },
  },
];

for (const backend of backends.filter((b) => selected === undefined || selected.includes(b.name.split(" ")[0]!))) {
  describe(`${backend.name}: search against the reference`, () => {
    test("random documents and queries", async (context) => {
      if (backend.skip !== undefined) return context.skip(`${backend.name}: ${backend.skip}`);
      const storage = await backend.open();
      try {
        const repo = storage.repository(Doc);
        const searches = await repo.search("x").then(
          () => true,
          (error: unknown) => {
            if (error instanceof UnsupportedError) return false;
            throw error;
          },
        );
        if (!searches) return context.skip(`${backend.name}: this backend's session has no search yet`);
        await fc.assert(
          fc.asyncProperty(documents, queryText, fc.integer({ min: 0, max: 2 }), async (docs, text, group) => {
            await repo.deleteMany({});
            const rows = docs.map((d) => ({ id: d.key as number, body: d.columns[0]!, note: d.columns[1]!, group: (d.key as number) % 3 }));
            await repo.saveMany(rows);
            const query = parseSearchQuery(text);
            const want = searchReference(query, docs);
            const got = await repo.search(text, { limit: 100 });
            expect(new Set(got.map((r) => r.entity.id))).toEqual(new Set(want.map((h) => h.key)));
            // SQLite runs FTS5 itself, whose bm25() of a few query shapes depends on its cursors' walk (README,
            // "Full-text search"): there only the matches are compared. Every other backend scores as the reference.
            if (!backend.native || fts5ScoresReproducible(query.root)) {
              expectSameRanking(
                got.map((r) => ({ key: r.entity.id, score: r.score })),
                want,
              );
              // `where` filters after ranking: the statistics stay the whole table's.
              const filtered = searchReference(query, docs, { filter: (d) => (d.key as number) % 3 === group, limit: 2, offset: 1 });
              const gotFiltered = await repo.search(text, { where: { group }, limit: 2, offset: 1 });
              expectSameRanking(
                gotFiltered.map((r) => ({ key: r.entity.id, score: r.score })),
                filtered,
              );
            }
            // A rolled-back write is never found, inside or after.
            await storage
              .transaction(async () => {
                await repo.save({ id: 1000, body: text.replace(/[-()"*]|\bOR\b/g, " "), note: null, group: 0 });
                throw new Error("roll back");
              })
              .catch((error: unknown) => {
                if (!(error instanceof Error) || error.message !== "roll back") throw error;
              });
            expect((await repo.search(text, { limit: 100 })).some((r) => r.entity.id === 1000)).toBe(false);
          }),
          { numRuns: 60 },
        );
      } finally {
        await storage.close();
      }
    });
  });
}
