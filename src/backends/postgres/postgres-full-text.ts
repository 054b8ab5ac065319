/**
 * Full-text search on PostgreSQL (issue 14), without PostgreSQL's own text parser: Strata tokenizes every
 * document in JavaScript (search-tokenizer.ts, the tokenizer of every backend), so PostgreSQL matches
 * exactly the tokens SQLite FTS5 and the engine match.
 *
 * ## What is stored
 * - Two hidden columns on the entity's own table: {@link FULL_TEXT_DOCUMENT_COLUMN}, a `tsvector` written as
 *   a literal (`'term':1,5 'other':2`) from Strata's tokens, each full-text column's tokens at consecutive
 *   positions and one unused position between columns so that no phrase spans two columns (as in FTS5,
 *   whose positions are per column), with a GIN index; and {@link FULL_TEXT_LENGTH_COLUMN}, the document's
 *   length in tokens (BM25's `D`).
 * - `<table>__strata_fts_totals`: one row of changes (rows, tokens) per inserting or deleting statement, added
 *   by statement-level triggers (insert, delete, truncate; a foreign key's cascade fires them too), and one per
 *   row whose update changes its length (a row trigger, see {@link postgresFullText}'s createStatements),
 *   summed by a search (BM25's `N` and average length) and summed up into one row by a search once it holds
 *   more than {@link TOTALS_COMPACT_AT}: `count(*)` over the table took 30-40 ms on 135k cities, every search.
 *
 * Hidden columns rather than a side table `<table>__fts (key, doc, len)`: measured on 50,000 rows, the side
 * table cost 2.6x the GIN index's own write cost with its foreign key (checked per row) and 1.5x without one,
 * and every search would join it back; the columns cost the GIN index alone, and a search reads one table.
 * Reads, copies, introspection and `generate` never see them: selects list the entity's columns, and the
 * introspector leaves out names starting with {@link HIDDEN_COLUMN_PREFIX} and the table of totals.
 *
 * ## Kept current by every write
 * The document is built in JavaScript, so the database cannot build it on its own. Strata's inserts and
 * upserts (save, saveMany, insert) write it in the row's own statement ({@link SqlFullText.rowColumns}).
 * Every other write leaves it null: a row inserted by a statement of the user's gets the column's default
 * (null), and a trigger nulls it when an update changes an indexed column without writing the document (a
 * partial update, a partial upsert that leaves out an indexed column, `storage.sql`). Before each search,
 * {@link SqlFullText.refresh} builds the documents of such rows on the search's own connection (so inside a
 * transaction, with its writes; a rollback undoes them with the rest), a page at a time, each page locked
 * while it is built. A partial index holds exactly the null documents, so the check costs one index probe.
 *
 * A search never waits for a lock: rows another transaction holds are skipped, and where the search may not
 * write (a read-only transaction, a hot standby, a role that may only read) or should not (a transaction above
 * READ COMMITTED, which could fail on a row another search indexed since its snapshot) none is written. Those
 * rows are still found: the refresh reads them as the search sees them (a plain select, the committed version,
 * or the transaction's own) and the search statement binds their documents, built here, as arrays, matched and
 * scored as if stored, the totals corrected by the difference between their lengths and the ones their rows
 * hold ({@link postgresSearchStatement}).
 *
 * That read and the search statement must see one snapshot: between two, another client's commit could null
 * a row's document after the read (the row in neither) or change a waiting row (scored on the text read
 * first). Outside a transaction the session runs both in one `REPEATABLE READ READ ONLY` transaction on one
 * connection (`SqlRunner.snapshot`: a pool's client, a replica's when reads go there; PgBouncer keeps an explicit
 * transaction on one server connection), only when rows were waiting, so that the common search stays one
 * statement. The statement itself then checks, in its snapshot, for waiting rows it was not given as they
 * are there (their key and `xmin`, read with them): a commit after the search's first check found none, or
 * inside a READ COMMITTED transaction between the read and the select. It says so in every row it answers
 * (one row of nulls when nothing matches), and the session searches again (`SearchStatement.checksWaiting`).
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
 * {@link postgresSearchStatement}).
 */
import { createHash } from "node:crypto";
import { SchemaError } from "../../errors.js";
import { RESERVED_COLUMN_PREFIX, type EntitySchema, type FullTextSchema } from "../../schema/entity-schema.js";
import type { SearchNode, SearchPhrase } from "../../search/search-query.js";
import { tokenize } from "../../search/search-tokenizer.js";
import type { FullTextSearch, SearchStatement, SqlFullText, UnindexedRow } from "../sql/sql-dialect.js";
import { quoteIdentifier } from "../sql/sql-dialect.js";
import { dollarQuoted, quotedText } from "../sql/sql-literals.js";
import { storedName, suffixedName } from "../sql/sql-table-statements.js";
import type { SqlRunner, WriteGate } from "../sql/sql-runner.js";

/** Columns whose names start with this are Strata's own: never an entity's (the schema reader refuses them), never introspected. */
export const HIDDEN_COLUMN_PREFIX = RESERVED_COLUMN_PREFIX;
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


/** The suffix of the table that holds a full-text index's totals (rows and tokens), `<table>__strata_fts_totals`. */
export const TOTALS_SUFFIX = "__strata_fts_totals";

/**
 * The table of `table`'s totals: `<table>__strata_fts_totals`, or for a long table name a cut of it and a
 * hash (sql-table-statements.ts suffixedName), which PostgreSQL would otherwise cut to another object's name.
 */
export function totalsTableOf(table: string): string {
  return suffixedName(storedName(table), TOTALS_SUFFIX);
}

/**
 * The names of the objects the full-text index of `table` makes beside its GIN index, each within
 * PostgreSQL's 63 bytes: cut by PostgreSQL, a long table's would all become one name.
 */
function objectNames(table: string, index: string) {
  const base = storedName(table);
  const fts = (suffix: string): string => suffixedName(base, `__strata_fts${suffix}`);
  return {
    // The index's name is kept whole in the declaration (the comment): the GIN index's own is fitted, so
    // that two long names alike in their first 63 bytes are two indexes, not one of them skipped or refused.
    index: suffixedName(index, ""),
    stale: suffixedName(index, "__stale"),
    trigger: fts(""),
    refresher: fts("_stale"),
    totals: totalsTableOf(table),
    counter: fts("_count"),
    lengthCounter: fts("_count_length"),
    counters: { insert: fts("_count_insert"), update: fts("_count_update"), delete: fts("_count_delete"), truncate: fts("_count_truncate") },
  };
}

/** Past this many rows of changes in a totals table, a search sums them into one. */
const TOTALS_COMPACT_AT = 256;

/** What the comment on the document column says: the index's name and its columns, in document order. */
interface Declaration {
  readonly strataFullText: string;
  readonly columns: readonly string[];
}

/**
 * The full-text index a comment on a table's {@link FULL_TEXT_DOCUMENT_COLUMN} declares (the introspector
 * reads it back this way), or undefined when the comment is not Strata's.
 */
export function readFullTextComment(comment: string | null | undefined): FullTextSchema | undefined {
  if (!comment) return undefined;
  try {
    const parsed = JSON.parse(comment) as Partial<Declaration>;
    if (typeof parsed.strataFullText !== "string" || !Array.isArray(parsed.columns) || !parsed.columns.every((c) => typeof c === "string")) return undefined;
    return { name: parsed.strataFullText, properties: [...parsed.columns] };
  } catch {
    return undefined;
  }
}

/**
 * The type of an array parameter of the table's keys, the key column's own (a key is a string, an integer or a
 * number, read-declared-table.ts): PostgreSQL has no `=` between a double and text.
 */
function keyArrayType(schema: EntitySchema): string {
  switch (schema.primary.type) {
    case "integer":
      return "bigint[]";
    case "number":
      return "float8[]";
    default:
      return "text[]";
  }
}

/** How many stale rows one refresh statement writes: a page of documents stays well under a megabyte for short texts. */
const REFRESH_PAGE = 2000;

/** PostgreSQL's `read_only_sql_transaction`: a write in a read-only transaction, or on a hot standby. */
const READ_ONLY_STATE = "25006";

function isReadOnlyRefusal(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === READ_ONLY_STATE;
}

/**
 * Brings the documents of `schema`'s table up to date, and resolves to true when there were stale rows, some
 * of which it may not have written: the search then reads them ({@link unindexedRows}) and its statement
 * builds their documents itself ({@link postgresSearchStatement}), so that no row is missing from a search
 * while its document is stale.
 *
 * The rows whose document is missing (written by a statement that left it null: an insert or an update of
 * an indexed column that did not give the document) are read, tokenized here and written back, a page at
 * a time, each page's rows locked while their document is built. Rows another transaction holds locked are
 * skipped, never waited for (a search never waits on a writer, and with `poolSize: 1` nothing could end
 * the wait). Nothing is written where the search's transaction is read-only (a `READ ONLY` transaction, a
 * hot standby) or runs above READ COMMITTED (its snapshot may hold rows others have indexed since), nor by a
 * role without the privileges the writes need; outside a transaction, a gate whose write the server refuses as
 * read-only is left alone.
 */
async function refreshDocuments(schema: EntitySchema, indexColumns: readonly string[], reads: SqlRunner, writes: WriteGate, inTransaction: boolean): Promise<boolean> {
  const t = quoteIdentifier(schema.table);
  const doc = quoteIdentifier(FULL_TEXT_DOCUMENT_COLUMN);
  const pk = quoteIdentifier(schema.primary.name);
  const totals = quoteIdentifier(totalsTableOf(schema.table));
  // The cheap questions first, on the session's reads: a partial index holds exactly the stale rows, and
  // the totals table holds one row per writing statement since it was last summed up.
  let state: unknown[] | undefined;
  try {
    [state] = await reads.all(
      `SELECT EXISTS (SELECT 1 FROM ${t} WHERE ${doc} IS NULL), (SELECT count(*) FROM ${totals}) > ${TOTALS_COMPACT_AT}, ` +
        `current_setting('transaction_read_only') = 'on' OR current_setting('transaction_isolation') IN ('repeatable read', 'serializable'), ` +
        `has_table_privilege(${quotedText(t)}::regclass, 'UPDATE') AND has_table_privilege(${quotedText(totals)}::regclass, 'UPDATE') ` +
        `AND has_table_privilege(${quotedText(totals)}::regclass, 'INSERT') AND has_table_privilege(${quotedText(totals)}::regclass, 'DELETE')`,
      [],
      true,
    );
  } catch (error) {
    // The entity declares the index, the database does not have it: autoCreate off and no migration made it.
    const code = (error as { code?: unknown } | null)?.code;
    if (code !== "42703" && code !== "42P01") throw error;
    throw new SchemaError(
      `${schema.entityName}: table "${schema.table}" has no full-text index in the database: create it with autoCreate or with a migration (m.createFullTextIndex("${schema.table}", [...]))`,
      { table: schema.table, cause: error },
    );
  }
  // Inside a read-only transaction a refused write would end it; so would, in a REPEATABLE READ or SERIALIZABLE
  // one, locking a row another search indexed since the transaction's snapshot ("could not serialize access"),
  // and a serializable one's writes would add to the conflicts that fail it at commit: a search there writes
  // nothing. Outside one the reads may be a replica's (read-only) while the gate writes on the primary: the
  // gate is tried, and a refusal ends only its own work. A role that may only read (a reporting service's) writes
  // nothing either: the refresh locks and updates the table's rows, its triggers and the summing-up write the totals.
  const mayWrite = state?.[3] === true && !(inTransaction && state[2] === true);
  const write = async <T>(work: (runner: SqlRunner) => Promise<T>, multiStatement: boolean): Promise<T | undefined> => {
    try {
      return await writes(work, multiStatement);
    } catch (error) {
      if (!inTransaction && isReadOnlyRefusal(error)) return undefined;
      throw error;
    }
  };
  if (state?.[1] === true && mayWrite) {
    // Only the rows no one else holds: summing up is work a search may leave to the next one, never wait for
    // (a search inside a transaction holds the rows it summed until that transaction ends).
    await write(
      async (runner) =>
        runner.run(
          `WITH gone AS (DELETE FROM ${totals} WHERE ctid = ANY (ARRAY(SELECT ctid FROM ${totals} FOR UPDATE SKIP LOCKED)) RETURNING rows, tokens) ` +
            `INSERT INTO ${totals} SELECT sum(rows), sum(tokens) FROM gone HAVING count(*) > 0`,
          [],
          true,
        ),
      false,
    );
  }
  if (state?.[0] !== true) return false;
  if (mayWrite) {
    const columns = [pk, ...indexColumns.map(quoteIdentifier)].join(", ");
    const select = `SELECT ${columns} FROM ${t} WHERE ${doc} IS NULL LIMIT ${REFRESH_PAGE} FOR UPDATE SKIP LOCKED`;
    const update =
      `UPDATE ${t} SET ${doc} = __strata_u.doc, ${quoteIdentifier(FULL_TEXT_LENGTH_COLUMN)} = __strata_u.len ` +
      `FROM unnest($1::${keyArrayType(schema)}, $2::tsvector[], $3::integer[]) AS __strata_u(key, doc, len) WHERE ${t}.${pk} = __strata_u.key`;
    await write(async (runner) => {
      for (;;) {
        const rows = await runner.all(select, [], true);
        const keys: unknown[] = [];
        const docs: string[] = [];
        const lengths: number[] = [];
        for (const [key, ...values] of rows) {
          const document = fullTextDocument(values);
          keys.push(key);
          docs.push(document.vector);
          lengths.push(document.length);
        }
        if (rows.length > 0) await runner.run(update, [keys, docs, lengths], true);
        if (rows.length < REFRESH_PAGE) return;
      }
    }, true);
  }
  return true;
}

/**
 * What {@link refreshDocuments} left: the rows other transactions hold (a plain select reads their committed
 * version, taking no lock), or every stale row where nothing may be written, as `runner` sees them. Read in
 * the search statement's snapshot (see the module comment).
 */
async function unindexedRows(schema: EntitySchema, indexColumns: readonly string[], runner: SqlRunner): Promise<readonly UnindexedRow[]> {
  const t = quoteIdentifier(schema.table);
  const columns = [quoteIdentifier(schema.primary.name), ...indexColumns.map(quoteIdentifier)].join(", ");
  // xmin: the row's version, which the search statement compares with the one its own snapshot holds.
  const rows = await runner.all(`SELECT xmin::text, ${columns} FROM ${t} WHERE ${quoteIdentifier(FULL_TEXT_DOCUMENT_COLUMN)} IS NULL`, [], true);
  return rows.map(([version, key, ...values]) => ({ key, values, version }));
}

/**
 * The select of a search (see {@link SqlFullText.searchStatement}): the rows matching the query's tsquery
 * (bound) and the `where`, best first by BM25, ties by primary key, paged.
 *
 * BM25 as FTS5's `bm25()` computes it, step for step, so both databases produce the same doubles where
 * their inputs agree: for each phrase `i` in query order, `idf_i = ln((N - n_i + 0.5) / (n_i + 0.5))`
 * (1e-6 when not positive), with `N` the table's rows and `n_i` the rows matching the phrase alone
 * (`count(*) ... @@ phrase`, served by the GIN index); `avgdl` the table's tokens over `N`; `f_i` the phrase's
 * instances in the row, counted from the tsvector's positions (`unnest`): a position of the first token
 * followed by the next tokens at the next positions. The score is
 * `sum_i idf_i * ((f_i * (k1 + 1)) / (f_i + k1 * (1 - b + b * D / avgdl)))`, summed in query order.
 */
export function postgresSearchStatement(search: FullTextSearch): SearchStatement {
  const { schema, query } = search;
  const t = quoteIdentifier(schema.table);
  const docName = quoteIdentifier(FULL_TEXT_DOCUMENT_COLUMN);
  const pk = `${t}.${quoteIdentifier(schema.primary.name)}`;
  const params: unknown[] = [];
  const add = (value: unknown): string => {
    params.push(value);
    return `$${params.length}`;
  };
  const pending = search.unindexed !== undefined && search.unindexed.length > 0 ? pendingDocuments(search, add) : undefined;
  const stored = `${t}.${docName}`;
  // A row's document and length: the stored ones, or for a row whose document is null, the one built here.
  const doc = pending ? `coalesce(${stored}, __strata_p.__strata_doc)` : stored;
  const len = pending
    ? `(CASE WHEN ${stored} IS NULL THEN __strata_p.__strata_len ELSE ${t}.${quoteIdentifier(FULL_TEXT_LENGTH_COLUMN)} END)`
    : `${t}.${quoteIdentifier(FULL_TEXT_LENGTH_COLUMN)}`;
  const hits: string[] = [];
  const frequencies: string[] = [];
  const terms: string[] = [];
  const counting = countingConditions(query.root);
  for (const phrase of query.phrases) {
    const i = phrase.index;
    const tsquery = add(phraseTsquery(phrase));
    const built = pending ? ` + (SELECT count(*) FROM __strata_fts_pending WHERE __strata_doc @@ ${tsquery}::tsquery)` : "";
    hits.push(`((SELECT count(*) FROM ${t} WHERE ${docName} @@ ${tsquery}::tsquery)${built})::float8 AS __strata_h${i}`);
    // Each row's frequencies are computed once (a lateral select), not once per use in the formula; a phrase
    // counts only where it takes part in the row's match (see countingConditions).
    const when = counting.get(i);
    const frequency =
      when === undefined
        ? "0"
        : when.length === 0
          ? phraseFrequency(phrase, doc, add)
          : `CASE WHEN ${when.map((node) => `${doc} @@ ${add(searchTsquery(node))}::tsquery`).join(" AND ")} THEN (${phraseFrequency(phrase, doc, add)}) ELSE 0 END`;
    frequencies.push(`(${frequency})::float8 AS __strata_f${i}`);
    const f = `__strata_f.__strata_f${i}`;
    const raw = `ln((__strata_s.__strata_n - __strata_s.__strata_h${i} + 0.5::float8) / (__strata_s.__strata_h${i} + 0.5::float8))`;
    const idf = `(CASE WHEN ${raw} <= 0 THEN 1e-6::float8 ELSE ${raw} END)`;
    terms.push(`${idf} * ((${f} * (${K1} + 1.0::float8)) / (${f} + ${K1} * (1::float8 - ${B} + ${B} * ${len}::float8 / __strata_s.__strata_avgdl)))`);
  }
  const match = add(searchTsquery(query.root));
  const where = search.where(params.length + 1);
  if (where) params.push(...where.params);
  // Every name the select brings into scope beside the table's columns starts with `__strata_`, which no
  // entity's column may (read-declared-table.ts), so that the where's unqualified columns resolve in the table.
  // The totals count a stale row with the length its row holds (0 for a row inserted without a document, the
  // old document's for an update): the tokens of the documents built here replace it, as the refresh would.
  const tokens = `coalesce(sum(tokens), 0)${pending ? " + (SELECT coalesce(sum(__strata_len - __strata_old), 0) FROM __strata_fts_pending)" : ""}`;
  const stats =
    `${pending ? `${pending.table}, ` : ""}__strata_fts_stats AS (SELECT __strata_n, CASE WHEN __strata_n = 0 THEN 1::float8 ELSE __strata_tokens / __strata_n END AS __strata_avgdl${hits.map((_, i) => `, __strata_h${i}`).join("")} FROM (` +
    `SELECT coalesce(sum(rows), 0)::float8 AS __strata_n, (${tokens})::float8 AS __strata_tokens${hits.map((h) => `, ${h}`).join("")} ` +
    `FROM ${quoteIdentifier(totalsTableOf(schema.table))}) AS __strata_totals)`;
  const columns = search.columns.map((c) => `${t}.${quoteIdentifier(c)}`).join(", ");
  // With built documents, the rows are the indexed matches or the keys built (one bitmap scan of the GIN
  // index and the key's), each then matched against its document, stored or built.
  const from = pending
    ? `FROM ${t} LEFT JOIN __strata_fts_pending AS __strata_p ON __strata_p.__strata_key = ${pk} CROSS JOIN __strata_fts_stats AS __strata_s `
    : `FROM ${t} CROSS JOIN __strata_fts_stats AS __strata_s `;
  const matches = pending ? `(${stored} @@ ${match}::tsquery OR ${pk} = ANY (${pending.keys})) AND ${doc} @@ ${match}::tsquery` : `${doc} @@ ${match}::tsquery`;
  // Limit and offset as digits (the session checked them: non-negative safe integers), as finds write them.
  const hitsSelect =
    `SELECT ${columns}, (${terms.join(" + ")}) AS __strata_score ` +
    `${from}CROSS JOIN LATERAL (SELECT ${frequencies.join(", ")}) AS __strata_f ` +
    `WHERE ${matches}${where ? ` AND (${where.text})` : ""} ` +
    `ORDER BY __strata_score DESC, ${pk} ASC LIMIT ${search.limit} OFFSET ${search.offset}`;
  // Whether this statement's snapshot holds a waiting row the rows given do not list as it is here (see
  // SearchStatement.checksWaiting): one probe of the partial index of waiting rows when none were given. Carried
  // by every row, and by one row of nulls when nothing matches, so that an empty answer says it too.
  const waiting = pending
    ? `EXISTS (SELECT 1 FROM ${t} AS __strata_w WHERE __strata_w.${docName} IS NULL AND NOT EXISTS (SELECT 1 FROM unnest(${pending.keys}, ${pending.versions}) ` +
      `AS __strata_g(key, version) WHERE __strata_g.key = __strata_w.${quoteIdentifier(schema.primary.name)} AND __strata_g.version = __strata_w.xmin::text))`
    : `EXISTS (SELECT 1 FROM ${t} WHERE ${docName} IS NULL)`;
  const text =
    `WITH ${stats} SELECT __strata_h.*, __strata_c.__strata_waiting FROM (SELECT ${waiting} AS __strata_waiting) AS __strata_c ` +
    `LEFT JOIN (${hitsSelect}) AS __strata_h ON true ORDER BY __strata_h.__strata_score DESC, __strata_h.${quoteIdentifier(schema.primary.name)} ASC`;
  return { text, params, checksWaiting: true };
}

/**
 * The documents of the rows {@link FullTextSearch.unindexed} lists, built here and bound as arrays: the
 * common table `__strata_fts_pending` (key, document, length, and the length the row holds, which the totals
 * count) of those still stale as the search's snapshot sees them (a row indexed since is read as stored),
 * and the placeholders of their keys and of the versions read ({@link UnindexedRow.version}).
 */
function pendingDocuments(search: FullTextSearch, add: (value: unknown) => string): { table: string; keys: string; versions: string } {
  const { schema } = search;
  const t = quoteIdentifier(schema.table);
  const keys: unknown[] = [];
  const docs: string[] = [];
  const lengths: number[] = [];
  const versions: unknown[] = [];
  for (const row of search.unindexed ?? []) {
    const document = fullTextDocument(row.values);
    keys.push(row.key);
    docs.push(document.vector);
    lengths.push(document.length);
    versions.push(row.version ?? null);
  }
  const keyArray = `${add(keys)}::${keyArrayType(schema)}`;
  const table =
    `__strata_fts_pending AS (SELECT __strata_u.key AS __strata_key, __strata_u.doc AS __strata_doc, __strata_u.len AS __strata_len, ${t}.${quoteIdentifier(FULL_TEXT_LENGTH_COLUMN)} AS __strata_old ` +
    `FROM unnest(${keyArray}, ${add(docs)}::tsvector[], ${add(lengths)}::integer[]) AS __strata_u(key, doc, len) ` +
    `JOIN ${t} ON ${t}.${quoteIdentifier(schema.primary.name)} = __strata_u.key WHERE ${t}.${quoteIdentifier(FULL_TEXT_DOCUMENT_COLUMN)} IS NULL)`;
  return { table, keys: keyArray, versions: `${add(versions)}::text[]` };
}

/**
 * When each phrase's occurrences count in a matching row's BM25, as FTS5 counts them (its iterators leave a
 * phrase out of the row where it takes no part in the match): never under an exclusion (absent from the
 * map), and only where every `and` above it matches the row (the `and` nodes listed). An `and` with no `or`
 * above it matches in every row the query matches, so only those below an `or` are listed: a query without
 * `or` adds no condition.
 */
function countingConditions(root: SearchNode): Map<number, readonly SearchNode[]> {
  const conditions = new Map<number, readonly SearchNode[]>();
  const walk = (node: SearchNode, ands: readonly SearchNode[], belowOr: boolean): void => {
    switch (node.kind) {
      case "phrase":
        conditions.set(node.index, ands);
        return;
      case "not":
        return;
      case "and":
        for (const child of node.children) walk(child, belowOr ? [...ands, node] : ands, belowOr);
        return;
      case "or":
        for (const child of node.children) walk(child, ands, true);
        return;
    }
  };
  walk(root, [], false);
  return conditions;
}

/**
 * The SQL counting `phrase`'s instances in the tsvector `doc`: positions of its first token such that each
 * next token is at the next position. A token's positions are read with PostgreSQL's own functions (the
 * lexeme weighted `A`, every other lexeme filtered out: three times faster than unnesting the document in
 * SQL, measured on the city names); a prefix's, which may be several lexemes', by unnesting.
 */
function phraseFrequency(phrase: SearchPhrase, doc: string, add: (value: unknown) => string): string {
  const last = phrase.tokens.length - 1;
  const positions = (i: number): string => {
    const lexeme = add(lexemeOf(phrase.tokens[i]!));
    return phrase.prefix && i === last
      ? `ARRAY(SELECT __strata_pos FROM unnest(${doc}) AS __strata_u, unnest(__strata_u.positions) AS __strata_pos WHERE starts_with(__strata_u.lexeme, ${lexeme}))`
      : // coalesce: an array expression (`= ANY ((SELECT ...))` would compare with the subquery's rows), empty when absent.
        `coalesce((SELECT positions FROM unnest(ts_filter(setweight(${doc}, 'A', ARRAY[${lexeme}::text]), '{a}'))), '{}'::smallint[])`;
  };
  if (last === 0) return `cardinality(${positions(0)})`;
  const first = positions(0);
  const next: string[] = [];
  for (let i = 1; i <= last; i++) next.push(`__strata_pos + ${i} = ANY (${positions(i)})`);
  return `SELECT count(*) FROM unnest(${first}) AS __strata_pos WHERE ${next.join(" AND ")}`;
}

/**
 * The SQLSTATE Strata raises (in autoCreate's statements) when the table of totals a full-text index needs is
 * a table of the user's: postgres-errors.ts makes it a `SchemaError`. Class `ST` is no class of PostgreSQL's.
 */
export const FULL_TEXT_CLASH_STATE = "STFT1";

/** The body of the trigger function that marks a row's document stale (dollar-quoted: no quote inside to escape). */
const MARK_STALE = `BEGIN NEW.${quoteIdentifier(FULL_TEXT_DOCUMENT_COLUMN)} := NULL; RETURN NEW; END`;

/** PostgreSQL's full-text search for the SQL backend (see the module comment). */
export const postgresFullText: SqlFullText = {
  createStatements(table, index, primaryKey, mode) {
    const t = quoteIdentifier(table);
    const doc = quoteIdentifier(FULL_TEXT_DOCUMENT_COLUMN);
    const names = objectNames(table, index.name);
    const ifMissing = mode === "autoCreate" ? "IF NOT EXISTS " : "";
    const columns = index.properties.map(quoteIdentifier);
    const declaration: Declaration = { strataFullText: index.name, columns: index.properties };
    // Only a change of an indexed column that leaves the document as it was (every statement but Strata's
    // own, which write the new document with the row) marks the document stale.
    const changed = columns.map((c) => `NEW.${c} IS DISTINCT FROM OLD.${c}`).join(" OR ");
    const trigger =
      `CREATE TRIGGER ${quoteIdentifier(names.trigger)} BEFORE UPDATE OF ${columns.join(", ")} ON ${t} FOR EACH ROW ` +
      `WHEN (NEW.${doc} IS NOT DISTINCT FROM OLD.${doc} AND (${changed})) EXECUTE FUNCTION ${quoteIdentifier(names.refresher)}()`;
    const totals = quoteIdentifier(names.totals);
    const len = quoteIdentifier(FULL_TEXT_LENGTH_COLUMN);
    // Each inserting or deleting statement adds one row of changes (rows, tokens) to the totals: writers never
    // wait for one another on a counter, and a search sums a few rows instead of reading the whole table.
    const counter =
      `BEGIN IF TG_OP = 'INSERT' THEN INSERT INTO ${totals} SELECT count(*), coalesce(sum(${len}), 0) FROM strata_new HAVING count(*) > 0; ` +
      `ELSIF TG_OP = 'DELETE' THEN INSERT INTO ${totals} SELECT -count(*), -coalesce(sum(${len}), 0) FROM strata_old HAVING count(*) > 0; ` +
      `ELSIF TG_OP = 'TRUNCATE' THEN DELETE FROM ${totals}; INSERT INTO ${totals} VALUES (0, 0); END IF; RETURN NULL; END`;
    // An update changes the tokens only where it changes a length (Strata's own writes of a document, which
    // set it; no statement of the user's does), so a row trigger whose WHEN the server checks without calling
    // any function counts it: measured, the statement trigger with transition tables it replaces was most of
    // what the index added to a save that changes a row (its tables of old and new rows, two queries over them).
    const lengthCounter = `BEGIN INSERT INTO ${totals} VALUES (0, NEW.${len} - OLD.${len}); RETURN NULL; END`;
    const counters = [
      `CREATE TRIGGER ${quoteIdentifier(names.counters.insert)} AFTER INSERT ON ${t} REFERENCING NEW TABLE AS strata_new FOR EACH STATEMENT EXECUTE FUNCTION ${quoteIdentifier(names.counter)}()`,
      `CREATE TRIGGER ${quoteIdentifier(names.counters.update)} AFTER UPDATE OF ${len} ON ${t} FOR EACH ROW WHEN (NEW.${len} IS DISTINCT FROM OLD.${len}) EXECUTE FUNCTION ${quoteIdentifier(names.lengthCounter)}()`,
      `CREATE TRIGGER ${quoteIdentifier(names.counters.delete)} AFTER DELETE ON ${t} REFERENCING OLD TABLE AS strata_old FOR EACH STATEMENT EXECUTE FUNCTION ${quoteIdentifier(names.counter)}()`,
      `CREATE TRIGGER ${quoteIdentifier(names.counters.truncate)} AFTER TRUNCATE ON ${t} FOR EACH STATEMENT EXECUTE FUNCTION ${quoteIdentifier(names.counter)}()`,
    ];
    const once = (name: string, statement: string): string =>
      mode === "autoCreate"
        ? `DO ${dollarQuoted(`BEGIN IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = ${quotedText(t)}::regclass AND tgname = ${quotedText(name)}) THEN ${statement}; END IF; END`)}`
        : statement;
    // An earlier version counted updates with a statement trigger of this name calling the counting function,
    // which no longer counts them: autoCreate drops it (made again below as the row trigger) rather than keep it.
    const updateCounter = quotedText(names.counters.update);
    const replaceStatementCounter = `DO ${dollarQuoted(
      `BEGIN IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = ${quotedText(t)}::regclass AND tgname = ${updateCounter} AND (tgtype & 1) = 0) ` +
        `THEN DROP TRIGGER ${quoteIdentifier(names.counters.update)} ON ${t}; END IF; END`,
    )}`;
    // autoCreate's CREATE TABLE IF NOT EXISTS would take a table of the user's of that name over: a table of
    // totals is Strata's only beside the document column it was made with (the same transaction made both).
    // A DO block, not a check in JS shared with SQLite's (refuseFullTextClashes, sqlite-driver.ts): it runs in
    // autoCreate's own transaction, under the advisory lock that serializes autoCreate between processes
    // (postgres-driver.ts), as the statement just before the creation it guards, so no other process's
    // autoCreate can commit between the check and the creation, and it costs no round trip of its own.
    const clash =
      `Table "${names.totals}" already exists and is not the totals of table "${table}"'s full-text index, which would be kept there: rename that table`;
    const refuseClash = `DO ${dollarQuoted(
      `BEGIN IF to_regclass(${quotedText(totals)}) IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = ${quotedText(t)}::regclass ` +
        `AND attname = ${quotedText(FULL_TEXT_DOCUMENT_COLUMN)} AND NOT attisdropped) THEN RAISE EXCEPTION USING ERRCODE = ${quotedText(FULL_TEXT_CLASH_STATE)}, MESSAGE = ${quotedText(clash)}; END IF; END`,
    )}`;
    // The same for the indexes: autoCreate's CREATE INDEX IF NOT EXISTS would skip one whose name a relation of
    // the user's holds (a table `fts_<table>`, or an index of the user's on this very table), and every search
    // would then read the whole table. A name held by anything but an index of this table that reads the
    // document (`ours`: the GIN index keys on it, the index of waiting rows is over the rows where it is null)
    // is refused, from a migration too (whose own CREATE INDEX would fail with the database's words, naming
    // neither the entity's table nor the index).
    const docName = quotedText(FULL_TEXT_DOCUMENT_COLUMN);
    const refuseIndexClash = (name: string, ours: string): string => {
      const held =
        `Relation "${name}" already exists and is not the index Strata made under that name for table "${table}", whose full-text index "${index.name}" needs that name: ` +
        `rename that relation, or give the full-text index another name`;
      return `DO ${dollarQuoted(
        `BEGIN IF to_regclass(${quotedText(quoteIdentifier(name))}) IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_index AS i WHERE i.indexrelid = to_regclass(${quotedText(quoteIdentifier(name))}) ` +
          `AND i.indrelid = ${quotedText(t)}::regclass AND ${ours}) THEN RAISE EXCEPTION USING ERRCODE = ${quotedText(FULL_TEXT_CLASH_STATE)}, MESSAGE = ${quotedText(held)}; END IF; END`,
      )}`;
    };
    const keysOnDocument = `EXISTS (SELECT 1 FROM pg_attribute AS a WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) AND a.attname = ${docName})`;
    const overWaitingRows = `position(${docName} in coalesce(pg_get_expr(i.indpred, i.indrelid), '')) > 0`;
    return [
      ...(mode === "autoCreate" ? [refuseClash] : []),
      refuseIndexClash(names.index, keysOnDocument),
      refuseIndexClash(names.stale, overWaitingRows),
      // The totals as the table stands (every row's length is 0 until its document is built, which counts
      // its tokens as an update), made only with the table of totals itself.
      `CREATE TABLE ${ifMissing}${totals} (rows bigint NOT NULL, tokens bigint NOT NULL)`,
      `INSERT INTO ${totals} SELECT count(*), 0 FROM ${t} WHERE NOT EXISTS (SELECT 1 FROM ${totals})`,
      `CREATE OR REPLACE FUNCTION ${quoteIdentifier(names.counter)}() RETURNS trigger LANGUAGE plpgsql AS ${dollarQuoted(counter)}`,
      `CREATE OR REPLACE FUNCTION ${quoteIdentifier(names.lengthCounter)}() RETURNS trigger LANGUAGE plpgsql AS ${dollarQuoted(lengthCounter)}`,
      // A new column is null in every row: each row is stale until the first search builds its document.
      `ALTER TABLE ${t} ADD COLUMN ${ifMissing}${doc} tsvector, ADD COLUMN ${ifMissing}${quoteIdentifier(FULL_TEXT_LENGTH_COLUMN)} integer NOT NULL DEFAULT 0`,
      `COMMENT ON COLUMN ${t}.${doc} IS ${quotedText(JSON.stringify(declaration))}`,
      // After the length column, which the update counter's WHEN names.
      ...(mode === "autoCreate" ? [replaceStatementCounter] : []),
      ...counters.map((statement, i) => once(Object.values(names.counters)[i]!, statement)),
      `CREATE INDEX ${ifMissing}${quoteIdentifier(names.index)} ON ${t} USING gin (${doc})`,
      `CREATE INDEX ${ifMissing}${quoteIdentifier(names.stale)} ON ${t} (${quoteIdentifier(primaryKey)}) WHERE ${doc} IS NULL`,
      `CREATE OR REPLACE FUNCTION ${quoteIdentifier(names.refresher)}() RETURNS trigger LANGUAGE plpgsql AS ${dollarQuoted(MARK_STALE)}`,
      once(names.trigger, trigger),
    ];
  },

  dropStatements(table, index) {
    const names = objectNames(table, index.name);
    const t = quoteIdentifier(table);
    return [
      `DROP TRIGGER IF EXISTS ${quoteIdentifier(names.trigger)} ON ${t}`,
      `DROP FUNCTION IF EXISTS ${quoteIdentifier(names.refresher)}()`,
      ...Object.values(names.counters).map((name) => `DROP TRIGGER IF EXISTS ${quoteIdentifier(name)} ON ${t}`),
      `DROP FUNCTION IF EXISTS ${quoteIdentifier(names.counter)}()`,
      `DROP FUNCTION IF EXISTS ${quoteIdentifier(names.lengthCounter)}()`,
      `DROP TABLE IF EXISTS ${quoteIdentifier(names.totals)}`,
      // The indexes go with the document column.
      `ALTER TABLE ${t} DROP COLUMN IF EXISTS ${quoteIdentifier(FULL_TEXT_DOCUMENT_COLUMN)}, DROP COLUMN IF EXISTS ${quoteIdentifier(FULL_TEXT_LENGTH_COLUMN)}`,
    ];
  },

  reservedTables(table) {
    return [totalsTableOf(table)];
  },

  searchStatement(search) {
    return postgresSearchStatement(search);
  },

  // Strata's own inserts and upserts write the document with the row: a search after them refreshes nothing.
  rowColumns: {
    names: [FULL_TEXT_DOCUMENT_COLUMN, FULL_TEXT_LENGTH_COLUMN],
    values(indexed) {
      const document = fullTextDocument(indexed);
      return [document.vector, document.length];
    },
  },

  refresh(search, reads, writes, inTransaction) {
    return refreshDocuments(search.schema, search.indexColumns, reads, writes, inTransaction);
  },

  unindexed(search, runner) {
    return unindexedRows(search.schema, search.indexColumns, runner);
  },
};
