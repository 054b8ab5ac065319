/**
 * The engine's full-text search (memory and file backends, through the SPI) against a brute-force reference
 * (engine-search-support.ts), on random documents and random query trees: the same matches in the same
 * order with bit-identical BM25 scores, committed, inside a transaction with its own inserts, updates and
 * deletes, after a savepoint rolled back, and after the transaction rolled back or committed.
 */
import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, test } from "vitest";
import { openBackend } from "../../src/conformance/index.js";
import type { DataSession, SearchRequest } from "../../src/spi/index.js";
import type { NormalizedWhere } from "../../src/query/query.js";
import type { SearchNode } from "../../src/search/search-query.js";
import { foldToken } from "../../src/search/search-tokenizer.js";
import type { DocRow } from "./engine-search-support.js";
import { asRow, DOCS, numbered, referenceSearch } from "./engine-search-support.js";

const WORDS = ["new", "york", "san", "santa", "sankt", "café", "cafe", "Köln", "koln", "port", "porto", "de", "la", "x"];
const TEXT = fc.option(fc.array(fc.constantFrom(...WORDS), { maxLength: 7 }).map((w) => w.join(" ")), { nil: null, freq: 6 });
const ID = fc.integer({ min: 1, max: 40 });
const DOC = fc.record({ id: ID, title: TEXT, body: TEXT, grp: fc.integer({ min: 0, max: 2 }) });

const PHRASE: fc.Arbitrary<SearchNode> = fc
  .tuple(fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 3 }), fc.boolean(), fc.integer({ min: 1, max: 3 }))
  .map(([words, prefix, cut]) => {
    const tokens = words.map(foldToken);
    if (prefix) tokens[tokens.length - 1] = tokens[tokens.length - 1]!.slice(0, cut);
    return { kind: "phrase", tokens, prefix, index: 0 };
  });
const { node } = fc.letrec<{ node: SearchNode }>((tie) => ({
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    PHRASE,
    fc
      .tuple(tie("node"), fc.array(fc.record({ negated: fc.boolean(), node: tie("node") }), { minLength: 1, maxLength: 2 }))
      .map(([first, rest]): SearchNode => ({ kind: "and", children: [first, ...rest.map((c) => (c.negated ? ({ kind: "not", child: c.node } as SearchNode) : c.node))] })),
    fc.tuple(tie("node"), tie("node")).map(([a, b]): SearchNode => ({ kind: "or", children: [a, b] })),
  ),
}));
const QUERY = node.map(numbered);

type Op = { kind: "put"; doc: DocRow } | { kind: "delete"; id: number } | { kind: "retitle"; id: number; title: string | null };
const OP: fc.Arbitrary<Op> = fc.oneof(
  DOC.map((doc) => ({ kind: "put" as const, doc })),
  ID.map((id) => ({ kind: "delete" as const, id })),
  fc.record({ kind: fc.constant("retitle" as const), id: ID, title: TEXT }),
);

const GRP = DOCS.columnsByProperty.get("grp")!;

async function apply(session: DataSession & { upsert: DataSession["upsert"] }, model: Map<number, DocRow>, ops: readonly Op[]): Promise<void> {
  for (const op of ops) {
    if (op.kind === "put") {
      await session.upsert(DOCS, asRow(op.doc));
      model.set(op.doc.id, { ...op.doc });
    } else if (op.kind === "delete") {
      await session.delete(DOCS, op.id);
      model.delete(op.id);
    } else {
      const outcome = await session.update(DOCS, op.id, { title: op.title });
      if (outcome !== "missing") model.set(op.id, { ...model.get(op.id)!, title: op.title });
    }
  }
}

async function check(session: DataSession, model: ReadonlyMap<number, DocRow>, queries: readonly ReturnType<typeof QUERY.generate>["value"][], grp: number | undefined): Promise<void> {
  const rows = [...model.values()];
  for (const q of queries) {
    const where: NormalizedWhere | undefined = grp === undefined ? undefined : [[{ column: GRP, op: "eq", value: grp }]];
    const request: SearchRequest = { query: q, where, limit: 5, offset: 1 };
    const got = (await session.search!(DOCS, request)).map((h) => ({ id: h.row["id"] as number, score: h.score }));
    const want = referenceSearch(rows, q, (r) => grp === undefined || r.grp === grp, 5, 1);
    expect(got).toEqual(want);
    // The whole match set too, unpaged.
    const all = (await session.search!(DOCS, { ...request, limit: 1000, offset: 0 })).map((h) => h.row["id"]);
    expect(all).toEqual(referenceSearch(rows, q, (r) => grp === undefined || r.grp === grp, 1000, 0).map((h) => h.id));
  }
}

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

for (const backendName of ["memory", "file"] as const) {
  describe(`${backendName}: full-text search against the reference`, () => {
    test("random documents, queries and transactions (savepoints, rollbacks, commits)", async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.uniqueArray(DOC, { selector: (d) => d.id, maxLength: 25 }),
          fc.array(QUERY, { minLength: 1, maxLength: 4 }),
          fc.array(OP, { maxLength: 8 }),
          fc.array(OP, { maxLength: 6 }),
          fc.boolean(),
          fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }),
          async (docs, queries, ops, inner, commit, grp) => {
            const dir = backendName === "file" ? fs.mkdtempSync(path.join(os.tmpdir(), "strata-fts-prop-")) : undefined;
            if (dir) dirs.push(dir);
            const backend = await openBackend({ url: dir ? `file:${dir}` : "memory:", autoCreate: true }, [DOCS]);
            try {
              const model = new Map<number, DocRow>(docs.map((d) => [d.id, d]));
              if (docs.length > 0) await backend.session.upsertMany(DOCS, docs.map(asRow));
              await check(backend.session, model, queries, grp);
              const tx = await backend.begin();
              const seen = new Map(model);
              await apply(tx, seen, ops);
              await check(tx, seen, queries, grp);
              await tx.savepoint("sp");
              const before = new Map(seen);
              await apply(tx, seen, inner);
              await check(tx, seen, queries, grp);
              await tx.rollbackToSavepoint("sp");
              await check(tx, before, queries, grp);
              // Outside the transaction, nothing of it shows.
              await check(backend.session, model, queries, grp);
              if (commit) await tx.commit();
              else await tx.rollback();
              await check(backend.session, commit ? before : model, queries, grp);
            } finally {
              await backend.close();
              if (dir) fs.rmSync(dir, { recursive: true, force: true });
            }
          },
        ),
        { numRuns: backendName === "memory" ? 150 : 40 },
      );
    });
  });
}
