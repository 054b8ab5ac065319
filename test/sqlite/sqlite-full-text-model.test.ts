/**
 * SQLite's full-text index against raw FTS5, on random histories: random inserts, upserts, updates and
 * deletes (some inside a transaction that rolls back, some under a savepoint undone), then random queries
 * (phrases, prefixes, AND, OR, exclusions) answered by `session.search` and by a plain FTS5 table holding
 * the rows the model says are there. Same rows, same order, same scores; FTS5's integrity check passes.
 */
import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import fc from "fast-check";
import { Column, Entity, PrimaryColumn } from "typeorm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Backend, EntitySchema } from "../../src/index.js";
import { readEntitySchema } from "../../src/index.js";
import { openBackend } from "../../src/conformance/index.js";
import type { SearchNode, SearchPhrase, SearchQuery } from "../../src/search/search-query.js";
import type { DataSession } from "../../src/spi/index.js";
import { ftsMatchExpression } from "../../src/backends/sqlite/sqlite-full-text.js";
import { backendSelected } from "../sql/sql-backend-cases.js";

@Entity("fts_model_docs")
class Doc {
  @PrimaryColumn({ type: "varchar" }) id!: string;
  @Column({ type: "varchar" }) title!: string;
  @Column({ type: "varchar", nullable: true }) body!: string | null;
}

const docs: EntitySchema = { ...readEntitySchema(Doc), fullText: { name: "fts_docs", properties: ["title", "body"] } };

/** Words as typed (with case and diacritics) and the folded tokens queries use. */
const WORDS = ["San", "sán", "José", "jose", "Köln", "koln", "New", "york", "Fran", "francisco", "city", "Ville", "o'brien"];
const TOKENS = ["san", "jose", "koln", "new", "york", "fran", "francisco", "city", "ville", "o", "brien"];

type Row = { id: string; title: string; body: string | null };
type Command = { kind: "put"; row: Row } | { kind: "update"; id: string; title: string } | { kind: "delete"; id: string };

const text = fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 4 }).map((w) => w.join(" "));
const id = fc.constantFrom("a", "b", "c", "d", "e", "f", "g", "h");
const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record({ kind: fc.constant("put" as const), row: fc.record({ id, title: text, body: fc.option(text, { nil: null }) }) }),
  fc.record({ kind: fc.constant("update" as const), id, title: text }),
  fc.record({ kind: fc.constant("delete" as const), id }),
);

const phrase: fc.Arbitrary<SearchNode> = fc
  .record({ tokens: fc.array(fc.constantFrom(...TOKENS), { minLength: 1, maxLength: 2 }), prefix: fc.boolean() })
  .map(({ tokens, prefix }) => ({ kind: "phrase", tokens, prefix, index: 0 }));
const node: fc.Arbitrary<SearchNode> = fc.letrec<{ node: SearchNode }>((tie) => ({
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    phrase,
    fc.array(tie("node"), { minLength: 2, maxLength: 3 }).map((children): SearchNode => ({ kind: "or", children })),
    fc
      .tuple(fc.array(tie("node"), { minLength: 1, maxLength: 2 }), fc.array(phrase, { maxLength: 1 }))
      .map(([positive, excluded]): SearchNode => ({ kind: "and", children: [...positive, ...excluded.map((child): SearchNode => ({ kind: "not", child }))] })),
  ),
})).node;

function query(root: SearchNode): SearchQuery {
  const phrases: SearchPhrase[] = [];
  const walk = (n: SearchNode): void => {
    if (n.kind === "phrase") phrases.push(n);
    else if (n.kind === "not") walk(n.child);
    else n.children.forEach(walk);
  };
  walk(root);
  return { text: "(random)", root, phrases: phrases.map((p, index) => ({ ...p, index })) };
}

async function apply(session: DataSession, model: Map<string, Row>, c: Command): Promise<void> {
  if (c.kind === "put") {
    await session.upsert(docs, c.row);
    model.set(c.row.id, { ...c.row });
  } else if (c.kind === "update") {
    const outcome = await session.update(docs, c.id, { title: c.title });
    if (outcome !== "missing") model.set(c.id, { ...model.get(c.id)!, title: c.title });
  } else {
    await session.delete(docs, c.id);
    model.delete(c.id);
  }
}

describe.skipIf(!backendSelected("sqlite"))("sqlite: full-text search against raw FTS5 on random histories", () => {
  let dir: string;
  let file: string;
  let backend: Backend;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "strata-fts-model-"));
    file = path.join(dir, "db.sqlite");
    backend = await openBackend({ url: `sqlite:${file}`, autoCreate: true }, [docs]);
  });
  afterAll(async () => {
    await backend.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("same rows, order and scores as FTS5 over the model's rows, after writes, rollbacks and savepoints", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(command, { maxLength: 12 }), fc.array(command, { maxLength: 6 }), fc.array(command, { maxLength: 4 }), fc.array(node, { minLength: 1, maxLength: 4 }), async (kept, undone, rolledBack, roots) => {
        await backend.session.deleteMany(docs, [[]]);
        const model = new Map<string, Row>();
        for (const c of kept) await apply(backend.session, model, c);
        // A transaction: its savepoint's writes undone, the rest committed.
        const tx = await backend.begin();
        await tx.savepoint("s1");
        for (const c of undone) await apply(tx, new Map(model), c);
        await tx.rollbackToSavepoint("s1");
        for (const c of kept.slice(0, 3)) await apply(tx, model, c);
        await tx.commit();
        // A transaction rolled back whole.
        const lost = await backend.begin();
        for (const c of rolledBack) await apply(lost, new Map(model), c);
        await lost.rollback();

        const raw = new Database(":memory:");
        try {
          raw.exec(`CREATE VIRTUAL TABLE raw USING fts5(id UNINDEXED, title, body, tokenize='unicode61 remove_diacritics 2')`);
          const insert = raw.prepare(`INSERT INTO raw(id, title, body) VALUES (?, ?, ?)`);
          for (const row of model.values()) insert.run(row.id, row.title, row.body);
          const select = raw.prepare(`SELECT id, -bm25(raw) AS score FROM raw WHERE raw MATCH ? ORDER BY bm25(raw), id`);
          for (const root of roots) {
            const q = query(root);
            const expected = select.all(ftsMatchExpression(q)) as Array<{ id: string; score: number }>;
            const hits = await backend.session.search!(docs, { query: q, where: undefined, limit: 100, offset: 0 });
            expect(hits.map((h) => h.row["id"])).toEqual(expected.map((r) => r.id));
            hits.forEach((hit, i) => {
              expect(hit.score).toBeCloseTo(expected[i]!.score, 9);
              expect(hit.row).toEqual(model.get(String(hit.row["id"])));
            });
          }
        } finally {
          raw.close();
        }
        const check = new Database(file);
        try {
          check.prepare(`INSERT INTO "fts_model_docs__fts"("fts_model_docs__fts", rank) VALUES ('integrity-check', 1)`).run();
        } finally {
          check.close();
        }
      }),
      { numRuns: 40 },
    );
  });
});
