/**
 * Full-text search on PostgreSQL (issue 14), without PostgreSQL's own text parser: Strata tokenizes every
 * document in JavaScript (search-tokenizer.ts, the tokenizer of every backend), so PostgreSQL matches
 * exactly the tokens SQLite FTS5 and the engine match.
 *
 * ## What is stored
 * Two hidden columns on the entity's own table, written by the same statement as the row:
 * - {@link FULL_TEXT_DOCUMENT_COLUMN}, a `tsvector` written as a literal (`'term':1,5 'other':2`) from
 *   Strata's tokens: each full-text column's tokens at consecutive positions, one unused position between
 *   columns so that no phrase spans two columns (as FTS5, whose positions are per column). A GIN index on it
 *   finds the candidate rows.
 * - {@link FULL_TEXT_LENGTH_COLUMN}, the document's length in tokens (every column), BM25's `D`.
 *
 * Hidden columns rather than a side table `<table>__fts`: measured on 50,000 rows, the side table cost 2.6x
 * the GIN index's own write cost with a foreign key (its check runs per row) and 1.5x without one, and every
 * search joined it back; the columns cost the GIN index alone and a search reads one table. Reads, copies,
 * introspection and `generate` never see them: selects list the entity's columns, the introspector leaves
 * out names starting with {@link HIDDEN_COLUMN_PREFIX}.
 *
 * ## PostgreSQL's limits on a tsvector, and what Strata does at them
 * - Positions stop at 16,383: a token past it is stored at 16,383 (PostgreSQL's own rule). Every word of a
 *   longer document is still found; a phrase lying wholly past that position is not, and such tokens count
 *   once in the term's frequency. The length column keeps the true token count.
 * - At most 256 positions per lexeme: a term's frequency in BM25 counts at most 256 occurrences.
 * - A lexeme is at most 2,046 bytes: a longer token is stored (and queried) as its first 500 characters, `#`
 *   and its SHA-256, so words still match exactly; a prefix query longer than 500 characters misses it.
 *
 * ## The query
 * The parsed query (search-query.ts) becomes a `tsquery` of literal lexemes (`'a' & 'b'`, `'a' <-> 'b'`
 * for a phrase, `'pre':*`, `!`, `|`), bound as a parameter: the user's text never reaches SQL. BM25 is
 * computed in SQL exactly as FTS5's `bm25()` does, in the same floating-point steps (see
 * {@link compileSearch}).
 */
import { createHash } from "node:crypto";
import type { EntitySchema, FullTextSchema, Row } from "../../schema/entity-schema.js";
import type { SearchNode, SearchPhrase, SearchQuery } from "../../search/search-query.js";
import { tokenize } from "../../search/search-tokenizer.js";
import type { NormalizedWhere } from "../../query/query.js";
import { SchemaError } from "../../errors.js";
import type { SqlDialect } from "../sql/sql-dialect.js";
import { quoteIdentifier } from "../sql/sql-dialect.js";
import type { CompiledSql } from "../sql/sql-query-compiler.js";
import { compileWhere, selectList } from "../sql/sql-query-compiler.js";
import type { RowCodec } from "../sql/sql-row-codec.js";

/** Columns whose names start with this are Strata's own: never an entity's, never introspected. */
export const HIDDEN_COLUMN_PREFIX = "__strata_";
/** The hidden `tsvector` column of a table with a full-text index. */
export const FULL_TEXT_DOCUMENT_COLUMN = "__strata_fts_doc";
/** The hidden column holding the document's length in tokens. */
export const FULL_TEXT_LENGTH_COLUMN = "__strata_fts_len";

/** PostgreSQL's last tsvector position (`MAXENTRYPOS - 1`): later tokens are stored there. */
export const MAX_POSITION = 16383;
/** PostgreSQL keeps at most this many positions per lexeme (`MAXNUMPOS`). */
export const MAX_POSITIONS_PER_LEXEME = 256;
/** The longest lexeme PostgreSQL accepts, in UTF-8 bytes (`MAXSTRLEN - 1`). */
const MAX_LEXEME_BYTES = 2046;
/** How much of a longer token its stand-in lexeme keeps before the hash. */
const LONG_LEXEME_KEPT = 500;

// BM25's parameters, as FTS5's bm25() has them.
const K1 = "1.2::float8";
const B = "0.75::float8";

/** The lexeme PostgreSQL stores for a folded token: itself, or for a token too long for a lexeme, a stand-in (see the module comment). */
export function lexemeOf(term: string): string {
  // Bytes are at most 3 per UTF-16 unit: most tokens skip the measurement.
  if (term.length * 3 <= MAX_LEXEME_BYTES || Buffer.byteLength(term, "utf8") <= MAX_LEXEME_BYTES) return term;
  let kept = term.slice(0, LONG_LEXEME_KEPT);
  // Never cut a surrogate pair in half.
  if (/[\uD800-\uDBFF]$/.test(kept)) kept = kept.slice(0, -1);
  return `${kept}#${createHash("sha256").update(term).digest("hex")}`;
}

/** A lexeme quoted for tsvector and tsquery input: in single quotes, with `'` doubled and `\` escaped. */
export function quoteLexeme(lexeme: string): string {
  return `'${lexeme.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
}

/** A document as the hidden columns hold it: the tsvector literal and the length in tokens. */
export interface FullTextDocument {
  readonly vector: string;
  readonly length: number;
}

/**
 * The document of `values` (the full-text columns' values in the index's order; null and undefined are
 * empty): its tsvector literal, and its length in tokens.
 */
export function fullTextDocument(values: readonly unknown[]): FullTextDocument {
  const positions = new Map<string, number[]>();
  let length = 0;
  // Positions are 1-based; each column starts one position after the gap that follows the previous one.
  let next = 1;
  for (const value of values) {
    if (typeof value !== "string" || value.length === 0) continue;
    const tokens = tokenize(value);
    if (tokens.length === 0) continue;
    for (const token of tokens) {
      const position = next < MAX_POSITION ? next : MAX_POSITION;
      next++;
      const lexeme = lexemeOf(token.term);
      const list = positions.get(lexeme);
      if (list === undefined) positions.set(lexeme, [position]);
      // Positions only grow, so a repeat is the capped last one; PostgreSQL would drop it and any past 256.
      else if (list[list.length - 1] !== position && list.length < MAX_POSITIONS_PER_LEXEME) list.push(position);
    }
    length += tokens.length;
    next++;
  }
  const parts: string[] = [];
  for (const [lexeme, list] of positions) parts.push(`${quoteLexeme(lexeme)}:${list.join(",")}`);
  return { vector: parts.join(" "), length };
}

/** The document of an entity row (every full-text property present). */
export function documentOfRow(fullText: FullTextSchema, row: Row): FullTextDocument {
  return fullTextDocument(fullText.properties.map((p) => row[p]));
}

/** The `tsquery` of one phrase: its lexemes side by side (`<->`), the last a prefix (`:*`) when asked. */
export function phraseTsquery(phrase: SearchPhrase): string {
  const last = phrase.tokens.length - 1;
  return phrase.tokens.map((t, i) => `${quoteLexeme(lexemeOf(t))}${phrase.prefix && i === last ? ":*" : ""}`).join(" <-> ");
}

/** The `tsquery` of a whole query tree, parenthesized where `&`, `|` and `!` would otherwise bind differently. */
export function searchTsquery(node: SearchNode): string {
  switch (node.kind) {
    case "phrase":
      return node.tokens.length === 1 ? phraseTsquery(node) : `(${phraseTsquery(node)})`;
    case "and":
      return `(${node.children.map(searchTsquery).join(" & ")})`;
    case "or":
      return `(${node.children.map(searchTsquery).join(" | ")})`;
    case "not":
      return `!${searchTsquery(node.child)}`;
  }
}

/** The table's full-text schema, or a SchemaError naming the table when it has none. */
export function fullTextOf(schema: EntitySchema): FullTextSchema {
  const fullText = schema.fullText;
  if (!fullText) throw new SchemaError(`${schema.entityName}: table "${schema.table}" has no full-text index (add @Index({ fulltext: true }) to a string column)`, { table: schema.table });
  return fullText;
}

/**
 * The statements that give `table` its full-text index named `name`: the hidden columns (empty documents
 * until {@link backfillStatements} fills them) and the GIN index. Each is idempotent, as autoCreate's are.
 */
export function createFullTextStatements(table: string, name: string): string[] {
  const t = quoteIdentifier(table);
  const doc = quoteIdentifier(FULL_TEXT_DOCUMENT_COLUMN);
  const len = quoteIdentifier(FULL_TEXT_LENGTH_COLUMN);
  return [
    `ALTER TABLE ${t} ADD COLUMN IF NOT EXISTS ${doc} tsvector NOT NULL DEFAULT '', ADD COLUMN IF NOT EXISTS ${len} integer NOT NULL DEFAULT 0`,
    `CREATE INDEX IF NOT EXISTS ${quoteIdentifier(name)} ON ${t} USING gin (${doc})`,
  ];
}

/** The statements that take the full-text index `name` off `table` (the index goes with its column). */
export function dropFullTextStatements(table: string, name: string): string[] {
  const t = quoteIdentifier(table);
  return [
    `DROP INDEX IF EXISTS ${quoteIdentifier(name)}`,
    `ALTER TABLE ${t} DROP COLUMN IF EXISTS ${quoteIdentifier(FULL_TEXT_DOCUMENT_COLUMN)}, DROP COLUMN IF EXISTS ${quoteIdentifier(FULL_TEXT_LENGTH_COLUMN)}`,
  ];
}

/** How the hidden columns of many rows are written at once: the key, document and length arrays bound as three parameters. */
export interface DocumentsUpdate {
  /** `UPDATE ... FROM unnest($1::<key type>[], $2::tsvector[], $3::integer[])`. */
  readonly text: string;
  /** The parameters for `rows` (each holds the key and every full-text property). */
  params(rows: readonly Row[]): unknown[];
}

/**
 * The statement that sets the hidden columns of existing rows from their full-text values: used to fill
 * them when an index is added to a table that has rows, and after writes that did not give every
 * full-text column (a partial update: the row read back has them all).
 */
export function documentsUpdate(schema: EntitySchema, dialect: SqlDialect, codec: RowCodec): DocumentsUpdate {
  const fullText = fullTextOf(schema);
  const pk = schema.primary;
  // The key column's type without its collation (`text COLLATE "C"` is `text` for an array parameter).
  const keyType = dialect.columnTypes[pk.type].replace(/ COLLATE .*$/, "");
  const t = quoteIdentifier(schema.table);
  const text =
    `UPDATE ${t} SET ${quoteIdentifier(FULL_TEXT_DOCUMENT_COLUMN)} = u.doc, ${quoteIdentifier(FULL_TEXT_LENGTH_COLUMN)} = u.len ` +
    `FROM unnest($1::${keyType}[], $2::tsvector[], $3::integer[]) AS u(key, doc, len) WHERE ${t}.${quoteIdentifier(pk.name)} = u.key`;
  return {
    text,
    params(rows) {
      const keys: unknown[] = [];
      const docs: string[] = [];
      const lengths: number[] = [];
      for (const row of rows) {
        keys.push(codec.encodeValue(pk, row[pk.property]));
        const document = documentOfRow(fullText, row);
        docs.push(document.vector);
        lengths.push(document.length);
      }
      return [keys, docs, lengths];
    },
  };
}

/**
 * The selects that read what a backfill needs, a page at a time in key order: the first page (`$1` the page
 * size), and each next one (`$1` the last key seen, `$2` the page size). Rows come as the key, then the
 * full-text columns in the index's order.
 */
export function backfillSelects(schema: EntitySchema, dialect: SqlDialect): { readonly first: string; readonly next: string } {
  const fullText = fullTextOf(schema);
  const pk = schema.primary;
  const key = `${quoteIdentifier(pk.name)}${pk.type === "string" ? dialect.stringCollation : ""}`;
  const columns = [pk.name, ...fullText.properties.map((p) => schema.columnsByProperty.get(p)!.name)].map(quoteIdentifier).join(", ");
  const from = `SELECT ${columns} FROM ${quoteIdentifier(schema.table)}`;
  return { first: `${from} ORDER BY ${key} LIMIT $1`, next: `${from} WHERE ${key} > $1 ORDER BY ${key} LIMIT $2` };
}

/** What {@link compileSearch} returns: the select, and where in each returned array the score is. */
export interface CompiledSearch extends CompiledSql {
  /** Each returned array holds the entity's columns in schema order, then the score. */
  readonly scoreAt: number;
}

/**
 * The select of a search: the rows matching `query` (the tsquery, bound) and `where` (compiled by the
 * shared query compiler), best first by BM25, ties by primary key, paged.
 *
 * BM25 as FTS5's `bm25()` computes it, step for step, so both databases produce the same doubles where
 * their inputs agree: for each phrase `i` in query order, `idf_i = ln((N - n_i + 0.5) / (n_i + 0.5))`
 * (1e-6 when not positive), with `N` the table's rows and `n_i` the rows matching the phrase alone
 * (`count(*) ... @@ phrase`, served by the GIN index); `avgdl` the table's tokens over `N`; `f_i` the phrase's
 * instances in the row, counted from the tsvector's positions (`unnest`): a position of the first token
 * followed by the next tokens at the next positions. The score is
 * `sum_i idf_i * ((f_i * (k1 + 1)) / (f_i + k1 * (1 - b + b * D / avgdl)))`, summed in query order.
 */
export function compileSearch(schema: EntitySchema, query: SearchQuery, where: NormalizedWhere | undefined, limit: number, offset: number, dialect: SqlDialect, codec: RowCodec): CompiledSearch {
  fullTextOf(schema);
  const t = quoteIdentifier(schema.table);
  const doc = `${t}.${quoteIdentifier(FULL_TEXT_DOCUMENT_COLUMN)}`;
  const len = `${t}.${quoteIdentifier(FULL_TEXT_LENGTH_COLUMN)}`;
  // The where's own parameters come first ($1...), as compileWhere numbers them.
  const filter = where === undefined ? { text: "", params: [] as unknown[] } : compileWhere(schema, where, dialect, codec);
  const params = filter.params;
  const add = (value: unknown): string => {
    params.push(value);
    return dialect.placeholder(params.length);
  };
  const hits: string[] = [];
  const terms: string[] = [];
  for (const phrase of query.phrases) {
    const i = phrase.index;
    hits.push(`(SELECT count(*) FROM ${t} WHERE ${quoteIdentifier(FULL_TEXT_DOCUMENT_COLUMN)} @@ ${add(phraseTsquery(phrase))}::tsquery)::float8 AS h${i}`);
    const f = `(${phraseFrequency(phrase, doc, add)})::float8`;
    const idf = `(CASE WHEN ln((s.n - s.h${i} + 0.5::float8) / (s.h${i} + 0.5::float8)) <= 0 THEN 1e-6::float8 ELSE ln((s.n - s.h${i} + 0.5::float8) / (s.h${i} + 0.5::float8)) END)`;
    terms.push(`${idf} * ((${f} * (${K1} + 1.0::float8)) / (${f} + ${K1} * (1::float8 - ${B} + ${B} * ${len}::float8 / s.avgdl)))`);
  }
  const match = add(searchTsquery(query.root));
  const condition = filter.text === "" ? "" : ` AND (${filter.text.replace(/^ WHERE /, "")})`;
  const pk = quoteIdentifier(schema.primary.name);
  const stats =
    `WITH strata_fts_stats AS (SELECT n, CASE WHEN n = 0 THEN 1::float8 ELSE tokens / n END AS avgdl${hits.map((_, i) => `, h${i}`).join("")} FROM (` +
    `SELECT count(*)::float8 AS n, coalesce(sum(${quoteIdentifier(FULL_TEXT_LENGTH_COLUMN)}), 0)::float8 AS tokens${hits.map((h) => `, ${h}`).join("")} FROM ${t}) AS totals)`;
  const columns = schema.columns.map((c) => `${t}.${quoteIdentifier(c.name)}`).join(", ");
  const scored = `SELECT ${columns}, (${terms.join(" + ")}) AS strata_score FROM ${t}, strata_fts_stats AS s WHERE ${doc} @@ ${match}::tsquery${condition}`;
  const text = `${stats} SELECT ${selectList(schema)}, strata_score FROM (${scored}) AS ${t} ORDER BY strata_score DESC, ${pk} ASC LIMIT ${add(limit)} OFFSET ${add(offset)}`;
  return { text, params, scoreAt: schema.columns.length };
}

/**
 * The SQL counting `phrase`'s instances in the tsvector `doc`: positions of its first token (each lexeme's
 * positions unnested) such that each next token is at the next position; the last token matching every
 * lexeme it starts when the phrase is a prefix.
 */
function phraseFrequency(phrase: SearchPhrase, doc: string, add: (value: unknown) => string): string {
  const last = phrase.tokens.length - 1;
  const test = (i: number, alias: string): string => {
    const lexeme = add(lexemeOf(phrase.tokens[i]!));
    return phrase.prefix && i === last ? `starts_with(${alias}.lexeme, ${lexeme})` : `${alias}.lexeme = ${lexeme}`;
  };
  const next: string[] = [];
  for (let i = 1; i <= last; i++) {
    next.push(`EXISTS (SELECT 1 FROM unnest(${doc}) AS u${i} WHERE ${test(i, `u${i}`)} AND p0 + ${i} = ANY (u${i}.positions))`);
  }
  return `SELECT count(*) FROM unnest(${doc}) AS u0, unnest(u0.positions) AS p0 WHERE ${[test(0, "u0"), ...next].join(" AND ")}`;
}
