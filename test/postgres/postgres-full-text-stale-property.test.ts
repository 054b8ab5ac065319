/**
 * Property: whichever rows wait for their document (written by `storage.sql`), and whichever of those another
 * open transaction holds (so that the search must build them itself), a search answers as the reference
 * (test/support/search-reference.ts) over the rows as committed: the same rows, order and scores, also with
 * `where`, `limit` and `offset`.
 */
import "reflect-metadata";
import fc from "fast-check";
import pg from "pg";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { afterAll, beforeAll, describe, test } from "vitest";
import { createStorage } from "../../src/index.js";
import { parseSearchQuery } from "../../src/search/search-parser.js";
import { searchReference, type ReferenceDocument } from "../support/search-reference.js";
import { expectSameRanking } from "../search/fts5-oracle.js";
import { documents, queryText, WORDS } from "../search/search-arbitraries.js";
import { backendSelected } from "../sql/sql-backend-cases.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "./pg-test-database.js";

@Entity("stale_property_docs")
@Index(["body", "note"], { fulltext: true })
class Doc {
  @PrimaryColumn({ type: "integer" }) id!: number;
  @Column({ type: "string" }) body!: string;
  @Column({ type: "string", nullable: true }) note!: string | null;
  @Column({ type: "integer" }) group!: number;
}

const skip = backendSelected("postgres") ? pgSkipReason() : "postgres not selected";

/** What happens to a row after it is saved: nothing, its body rewritten by a statement of the user's (waiting), and then held. */
const fate = fc.record({ stale: fc.boolean(), held: fc.boolean(), body: fc.array(fc.constantFrom(...WORDS), { maxLength: 6 }).map((w) => w.join(" ")) });

describe.skipIf(skip !== undefined)("postgres: search over waiting and held rows against the reference", () => {
  let db: PgTestDatabase;
  beforeAll(async () => {
    db = await PgTestDatabase.create(PG_URL!);
  });
  afterAll(async () => {
    await db?.drop();
  });

  test("random documents, waiting and held rows, and queries", async () => {
    const url = await db.freshSchemaUrl();
    const storage = await createStorage({ url, entities: [Doc], autoCreate: true, cache: false, poolSize: 1 });
    const other = new pg.Client({ connectionString: url });
    await other.connect();
    const repo = storage.repository(Doc);
    try {
      await fc.assert(
        fc.asyncProperty(documents, fc.array(fate, { minLength: 12, maxLength: 12 }), queryText, fc.integer({ min: 0, max: 2 }), async (docs, fates, text, group) => {
          await storage.sql`TRUNCATE stale_property_docs`;
          await repo.saveMany(docs.map((d) => ({ id: d.key as number, body: d.columns[0]!, note: d.columns[1]!, group: (d.key as number) % 3 })));
          const committed: ReferenceDocument[] = [];
          const held: number[] = [];
          for (const [i, d] of docs.entries()) {
            const f = fates[i]!;
            if (f.stale) await storage.sql`UPDATE stale_property_docs SET body = ${f.body} WHERE id = ${d.key}`;
            if (f.stale && f.held) held.push(d.key as number);
            committed.push(f.stale ? { key: d.key, columns: [f.body, d.columns[1]!] } : d);
          }
          await other.query("BEGIN");
          try {
            // Held: changed again without committing (its committed text is what the search must see).
            if (held.length > 0) await other.query("UPDATE stale_property_docs SET body = 'x x x' WHERE id = ANY($1)", [held]);
            const query = parseSearchQuery(text);
            const got = await repo.search(text, { limit: 100 });
            expectSameRanking(
              got.map((r) => ({ key: r.entity.id, score: r.score })),
              searchReference(query, committed),
            );
            const filtered = await repo.search(text, { where: { group }, limit: 2, offset: 1 });
            expectSameRanking(
              filtered.map((r) => ({ key: r.entity.id, score: r.score })),
              searchReference(query, committed, { filter: (d) => (d.key as number) % 3 === group, limit: 2, offset: 1 }),
            );
          } finally {
            await other.query("ROLLBACK");
          }
        }),
        { numRuns: 60 },
      );
    } finally {
      await other.end();
      await storage.close();
    }
  });
});
