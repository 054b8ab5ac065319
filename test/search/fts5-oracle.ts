/**
 * SQLite FTS5 (`unicode61 remove_diacritics 2`) run through plain better-sqlite3: the oracle the full-text
 * tests compare Strata's tokenizer, parser and matcher with.
 */
import Database from "better-sqlite3";

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
