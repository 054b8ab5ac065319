/**
 * SQLite FTS5 (`unicode61 remove_diacritics 2`) run through plain better-sqlite3: the oracle the full-text
 * tests compare Strata's tokenizer, parser and matcher with.
 */
import Database from "better-sqlite3";
import { expect } from "vitest";
import type { SearchNode } from "../../src/search/search-query.js";

/** FTS5's tokens of each text: terms in order, read from an `fts5vocab` instance table. */
export function fts5Terms(texts: readonly string[]): string[][] {
  const db = new Database(":memory:");
  try {
    db.exec(`CREATE VIRTUAL TABLE docs USING fts5(body, tokenize = 'unicode61 remove_diacritics 2');
             CREATE VIRTUAL TABLE docs_vocab USING fts5vocab(docs, 'instance');`);
    const insert = db.prepare("INSERT INTO docs(rowid, body) VALUES (?, ?)");
    db.transaction(() => texts.forEach((text, i) => insert.run(i + 1, text)))();
    const terms: string[][] = texts.map(() => []);
    for (const [term, doc] of db.prepare("SELECT term, doc FROM docs_vocab ORDER BY doc, offset").raw().iterate() as Iterable<[string, number]>) {
      terms[doc - 1]!.push(term);
    }
    return terms;
  } finally {
    db.close();
  }
}

/**
 * FTS5's token spans of `text` (UTF-16 offsets), read from `highlight()` with a query that matches every
 * term of the text. `text` must not hold U+0001, U+0002 or a lone surrogate (the markers, and what
 * better-sqlite3 cannot hand back unchanged).
 */
export function fts5Spans(text: string, terms: readonly string[]): Array<[number, number]> {
  if (terms.length === 0) return [];
  const db = new Database(":memory:");
  try {
    db.exec(`CREATE VIRTUAL TABLE docs USING fts5(body, tokenize = 'unicode61 remove_diacritics 2');`);
    db.prepare("INSERT INTO docs(rowid, body) VALUES (1, ?)").run(text);
    const match = [...new Set(terms)].map((t) => `"${t}"`).join(" OR ");
    const marked = db.prepare("SELECT highlight(docs, 0, char(1), char(2)) FROM docs WHERE docs MATCH ?").pluck().get(match) as string;
    const spans: Array<[number, number]> = [];
    let at = 0;
    let open = -1;
    for (const unit of marked) {
      if (unit === "\u0001") open = at;
      else if (unit === "\u0002") spans.push([open, at]);
      else at += unit.length;
    }
    return spans;
  } finally {
    db.close();
  }
}

/** The FTS5 MATCH text of a parsed query (every group parenthesized; an `and`'s exclusions as `NOT` after its positive part). */
export function toFts5(node: SearchNode): string {
  switch (node.kind) {
    case "phrase":
      return `"${node.tokens.join(" ")}"${node.prefix ? "*" : ""}`;
    case "or":
      return node.children.map((c) => `(${toFts5(c)})`).join(" OR ");
    case "not":
      throw new Error("a not outside an and");
    case "and": {
      let text = node.children.filter((c) => c.kind !== "not").map((c) => `(${toFts5(c)})`).join(" AND ");
      for (const c of node.children) if (c.kind === "not") text = `(${text}) NOT (${toFts5(c.child)})`;
      return text;
    }
  }
}

/** An FTS5 table of documents (rowid = key, one column per document column), to run queries on. */
export class Fts5Table {
  private readonly db = new Database(":memory:");
  private readonly select;

  constructor(columnCount: number, documents: Iterable<{ key: number; columns: readonly (string | null)[] }>) {
    const columns = Array.from({ length: columnCount }, (_, i) => `c${i}`);
    this.db.exec(`CREATE VIRTUAL TABLE docs USING fts5(${columns.join(", ")}, tokenize = 'unicode61 remove_diacritics 2')`);
    const insert = this.db.prepare(`INSERT INTO docs(rowid, ${columns.join(", ")}) VALUES (?${", ?".repeat(columnCount)})`);
    this.db.transaction(() => {
      for (const d of documents) insert.run(d.key, ...d.columns);
    })();
    this.select = this.db.prepare("SELECT rowid AS key, -bm25(docs) AS score FROM docs WHERE docs MATCH ? ORDER BY bm25(docs), rowid");
  }

  /** The matches of an FTS5 MATCH text, best first (ties by rowid), with the score negated (higher is better). */
  search(match: string): Array<{ key: number; score: number }> {
    return this.select.all(match) as Array<{ key: number; score: number }>;
  }

  close(): void {
    this.db.close();
  }
}

/** Whether a `-` exclusion sits below an `or` or another exclusion (not in the root's chain of `and`s). */
export function nestedExclusion(node: SearchNode, nested = false): boolean {
  switch (node.kind) {
    case "phrase":
      return false;
    case "not":
      return nested || nestedExclusion(node.child, true);
    case "and":
      return node.children.some((c) => nestedExclusion(c, nested));
    case "or":
      return node.children.some((c) => nestedExclusion(c, true));
  }
}

/**
 * The same scores (to 1e-12, relative: SQLite's `ln` may be one ulp from the correctly rounded one) and the
 * same order, except among rows whose scores are that close.
 */
export function expectSameRanking(actual: ReadonlyArray<{ key: string | number; score: number }>, expected: ReadonlyArray<{ key: string | number; score: number }>): void {
  const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-12 * Math.max(Math.abs(a), Math.abs(b));
  expect(actual.length).toBe(expected.length);
  const expectedScore = new Map(expected.map((h) => [h.key, h.score]));
  for (let i = 0; i < actual.length; i++) {
    const hit = actual[i]!;
    expect(expectedScore.has(hit.key)).toBe(true);
    expect(close(hit.score, expectedScore.get(hit.key)!), `score of ${hit.key}: ${hit.score} vs ${expectedScore.get(hit.key)}`).toBe(true);
    if (actual[i]!.key !== expected[i]!.key) {
      expect(close(hit.score, expected[i]!.score), `row ${i}: ${hit.key} vs FTS5's ${expected[i]!.key}`).toBe(true);
    }
  }
}


/** Whether the tree has a node of `kind` somewhere (below an `or` only, with `belowOr`). */
function has(node: SearchNode, test: (n: SearchNode, belowOr: boolean) => boolean, belowOr = false): boolean {
  if (test(node, belowOr)) return true;
  if (node.kind === "not") return has(node.child, test, belowOr);
  if (node.kind === "phrase") return false;
  return node.children.some((c) => has(c, test, belowOr || node.kind === "or"));
}

/**
 * Whether FTS5's bm25() of this query is reproducible without FTS5's cursors (test/support/search-reference.ts, module doc):
 * no exclusion below an `or` or another exclusion; and, with a phrase of several tokens, no exclusion at all
 * and no `and` below an `or` (there FTS5 empties the positions of an and-group on a row where the phrase's
 * words are but the phrase is not, which can drop another phrase's count on a later row).
 */
export function fts5ScoresReproducible(root: SearchNode): boolean {
  if (nestedExclusion(root)) return false;
  if (!has(root, (n) => n.kind === "phrase" && n.tokens.length > 1)) return true;
  return !has(root, (n) => n.kind === "not") && !has(root, (n, belowOr) => n.kind === "and" && belowOr);
}
