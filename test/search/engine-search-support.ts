/**
 * Shared by the engine's full-text tests: a table schema with a two-column full-text index, hand-made
 * query trees (the parser is the core's), and a brute-force reference of the search contract (spi/data-session.ts):
 * every document tokenized column by column, each phrase's instances counted column by column, BM25 as
 * SQLite FTS5's bm25() computes it. It shares no code with the engine's index but the tokenizer and the
 * correctly rounded logarithm.
 */
import { buildEntitySchema } from "../../src/schema/entity-schema.js";
import type { EntitySchema, Row } from "../../src/schema/entity-schema.js";
import type { SearchNode, SearchPhrase, SearchQuery } from "../../src/search/search-query.js";
import { correctLog } from "../../src/search/correct-log.js";
import { tokenize } from "../../src/search/search-tokenizer.js";

export class Doc {}

/** `docs(id integer, title string?, body string?, grp integer)`, full-text index over title then body. */
export const DOCS: EntitySchema = buildEntitySchema({
  entityName: "Doc",
  table: "docs",
  target: Doc,
  columns: [
    { property: "id", name: "id", type: "integer", nullable: false, unique: false, primary: true },
    { property: "title", name: "title", type: "string", nullable: true, unique: false, primary: false },
    { property: "body", name: "body", type: "string", nullable: true, unique: false, primary: false },
    { property: "grp", name: "grp", type: "integer", nullable: false, unique: false, primary: false },
  ],
  indexes: [],
  fullText: { name: "fts_docs", properties: ["title", "body"] },
});

export interface DocRow {
  id: number;
  title: string | null;
  body: string | null;
  grp: number;
}

/** A query tree from a builder that numbers the phrases in reading order, as the parser does. */
export function query(build: (p: (text: string, prefix?: boolean) => SearchPhrase) => SearchNode): SearchQuery {
  const phrases: SearchPhrase[] = [];
  const root = build((text, prefix = false) => {
    const phrase: SearchPhrase = { kind: "phrase", tokens: tokenize(text).map((t) => t.term), prefix, index: phrases.length };
    phrases.push(phrase);
    return phrase;
  });
  return { text: "(hand-made)", root, phrases };
}

export const and = (...children: SearchNode[]): SearchNode => ({ kind: "and", children });
export const or = (...children: SearchNode[]): SearchNode => ({ kind: "or", children });
export const not = (child: SearchNode): SearchNode => ({ kind: "not", child });

/** Renumbers a generated tree's phrases in reading order (fast-check builds them out of order). */
export function numbered(root: SearchNode): SearchQuery {
  const phrases: SearchPhrase[] = [];
  const walk = (node: SearchNode): SearchNode => {
    switch (node.kind) {
      case "phrase": {
        const phrase: SearchPhrase = { ...node, index: phrases.length };
        phrases.push(phrase);
        return phrase;
      }
      case "and":
      case "or":
        return { kind: node.kind, children: node.children.map(walk) };
      case "not":
        return { kind: "not", child: walk(node.child) };
    }
  };
  const out = walk(root);
  return { text: "(generated)", root: out, phrases };
}

/** How many times `phrase` starts in one column's terms. */
function instancesIn(terms: readonly string[], phrase: SearchPhrase): number {
  let n = 0;
  const k = phrase.tokens.length;
  for (let s = 0; s + k <= terms.length; s++) {
    let ok = true;
    for (let j = 0; j < k && ok; j++) {
      const want = phrase.tokens[j]!;
      const have = terms[s + j]!;
      ok = phrase.prefix && j === k - 1 ? have.startsWith(want) : have === want;
    }
    if (ok) n++;
  }
  return n;
}

export interface ReferenceHit {
  id: number;
  score: number;
}

/**
 * The contract by brute force: `rows` is the table as the reader sees it. Returns the page, best first,
 * ties by id.
 */
export function referenceSearch(rows: readonly DocRow[], q: SearchQuery, keep: (row: DocRow) => boolean, limit: number, offset: number): ReferenceHit[] {
  const columns = rows.map((r) => [r.title, r.body].map((v) => (v === null ? [] : tokenize(v).map((t) => t.term))));
  const counts = rows.map((_, d) => q.phrases.map((p) => columns[d]!.reduce((n, terms) => n + instancesIn(terms, p), 0)));
  const matches = (node: SearchNode, d: number): boolean => {
    switch (node.kind) {
      case "phrase":
        return counts[d]![node.index]! > 0;
      case "and":
        return node.children.every((c) => matches(c, d));
      case "or":
        return node.children.some((c) => matches(c, d));
      case "not":
        return !matches(node.child, d);
    }
  };
  // FTS5: a phrase scores a row when its node sits on the row (every node above matches; an OR passes the
  // row to its matching branches only; an exclusion's phrases never score).
  const active = (node: SearchNode, d: number, out: Set<number>): void => {
    switch (node.kind) {
      case "phrase":
        out.add(node.index);
        return;
      case "and":
        for (const c of node.children) active(c, d, out);
        return;
      case "or":
        for (const c of node.children) if (matches(c, d)) active(c, d, out);
        return;
      case "not":
        return;
    }
  };
  const N = rows.length;
  const lengths = columns.map((cols) => cols.reduce((n, c) => n + c.length, 0));
  const avgdl = lengths.reduce((a, b) => a + b, 0) / N;
  const idf = q.phrases.map((p) => {
    const n = counts.filter((c) => c[p.index]! > 0).length;
    const v = correctLog((N - n + 0.5) / (n + 0.5));
    return v <= 0 ? 1e-6 : v;
  });
  const hits: ReferenceHit[] = [];
  rows.forEach((row, d) => {
    if (!matches(q.root, d) || !keep(row)) return;
    const on = new Set<number>();
    active(q.root, d, on);
    let score = 0;
    for (let i = 0; i < q.phrases.length; i++) {
      const f = on.has(i) ? counts[d]![i]! : 0;
      if (f === 0) continue;
      score += idf[i]! * ((f * (1.2 + 1.0)) / (f + 1.2 * (1 - 0.75 + (0.75 * lengths[d]!) / avgdl)));
    }
    hits.push({ id: row.id, score });
  });
  hits.sort((a, b) => (a.score !== b.score ? b.score - a.score : a.id - b.id));
  return hits.slice(offset, offset + limit);
}

/** A row as the SPI takes it. */
export const asRow = (d: DocRow): Row => ({ ...d });
