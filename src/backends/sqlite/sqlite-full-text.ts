/**
 * SQLite's full-text search: an FTS5 external-content virtual table per table (`<table>__fts`), kept by
 * three triggers, ranked by FTS5's own `bm25()`.
 *
 * ## What a table's full-text index is made of
 * - `CREATE VIRTUAL TABLE "<table>__fts" USING fts5(<columns>, content='<table>', content_rowid='rowid',
 *   tokenize='unicode61 remove_diacritics 2' /* strata:fulltext name=<name> *\/)`: the index only (FTS5 reads
 *   a row's text from the table itself, by rowid, when it needs it). Strata's tables are ordinary rowid
 *   tables (never WITHOUT ROWID): an integer key is the rowid itself, a string key has a hidden rowid beside
 *   its unique index. The comment keeps the index's name (`m.dropFullTextIndex(table, name)`, generate's
 *   diff), which FTS5 has no option for; SQLite keeps the statement's text as written.
 * - `"<table>__fts_insert"`, `"<table>__fts_delete"`, `"<table>__fts_update"`: AFTER triggers that add a new
 *   row's tokens, remove a deleted row's (FTS5's `'delete'` command, with the old values) and do both when
 *   an indexed column (or the rowid) changes. They run inside the writing statement, so its transaction
 *   (and a savepoint's rollback) covers the index; a foreign key's cascade fires them too, and so does a
 *   `REPLACE` (the driver turns `recursive_triggers` on, see sqlite-driver.ts).
 * - FTS5's shadow tables `<table>__fts_data`, `_idx`, `_docsize`, `_config`, which the introspector hides.
 *
 * FTS5's options stay at their defaults: `automerge`, `crisismerge`, `usermerge`, `pgsz` and `hashsize`
 * measured within the noise of them on a one-row commit (whose cost is the pages FTS5 writes at each commit:
 * a segment, its `_idx` entry, the row's `_docsize`, the structure and totals), `columnsize=0` doubles a
 * search's time (`bm25()` then tokenizes every match) and `detail=column` loses phrase queries. The
 * connection that runs the `'rebuild'` gives FTS5's term buffer back afterwards (SqliteConnection.shrinkFullTextBuffers).
 *
 * ## Queries
 * The parsed query (search-query.ts) becomes an FTS5 expression in which every phrase is a double-quoted
 * string of its folded tokens (`"san francisco"`, `"fran"*`), every operator parenthesized; it is bound as a
 * parameter, so the user's text never reaches SQL, nor FTS5's own query syntax.
 */
import { QueryError } from "../../errors.js";
import type { FullTextSchema } from "../../schema/entity-schema.js";
import type { SearchNode, SearchQuery } from "../../search/search-query.js";
import type { FullTextSearch, SqlFullText } from "../sql/sql-dialect.js";
import { quoteIdentifier } from "../sql/sql-dialect.js";
import { quotedText } from "../sql/sql-literals.js";

/** The suffix of a table's FTS5 virtual table: `<table>__fts`. */
export const FTS_SUFFIX = "__fts";

/** The shadow tables FTS5 makes for an external-content table (`_content` only without `content=`). */
const SHADOW_SUFFIXES = ["_data", "_idx", "_docsize", "_config", "_content"] as const;

/** The comment that carries the index's name inside the virtual table's stored text. */
const NAME_MARK = "/* strata:fulltext name=";

/** `table`'s FTS5 virtual table. */
export function ftsTableOf(table: string): string {
  return `${table}${FTS_SUFFIX}`;
}

function triggerNames(table: string): { insert: string; delete: string; update: string } {
  const fts = ftsTableOf(table);
  return { insert: `${fts}_insert`, delete: `${fts}_delete`, update: `${fts}_update` };
}

/**
 * The index's name as the comment holds it: percent-encoded, so that no name can close the comment (`*` and
 * `/` of `*\/` never both survive) nor hold a quote.
 */
function encodeName(name: string): string {
  return encodeURIComponent(name).replace(/\*/g, "%2A");
}

/**
 * The full-text index that the stored text `sql` of `<table>__fts` declares, or undefined when the table
 * of that name is not one of Strata's (a user's table, or an FTS5 table made by hand): its name and columns.
 */
export function readFullTextDeclaration(sql: string, columns: readonly string[]): FullTextSchema | undefined {
  if (!/^CREATE VIRTUAL TABLE/i.test(sql) || !/USING\s+fts5\s*\(/i.test(sql)) return undefined;
  const at = sql.lastIndexOf(NAME_MARK);
  if (at < 0) return undefined;
  const end = sql.indexOf(" */", at);
  if (end < 0) return undefined;
  let name: string;
  try {
    name = decodeURIComponent(sql.slice(at + NAME_MARK.length, end));
  } catch {
    return undefined;
  }
  return { name, properties: [...columns] };
}

/** True when `name` is one of the objects a full-text index of some table made (the virtual table or a shadow table). */
export function isFullTextTableName(name: string, ftsTables: ReadonlySet<string>): boolean {
  if (ftsTables.has(name)) return true;
  for (const suffix of SHADOW_SUFFIXES) {
    if (name.endsWith(suffix) && ftsTables.has(name.slice(0, -suffix.length))) return true;
  }
  return false;
}

/** A phrase as an FTS5 string: its folded tokens in double quotes (a quote inside doubled), `*` after a prefix. */
function phraseText(tokens: readonly string[], prefix: boolean): string {
  return `"${tokens.join(" ").replace(/"/g, '""')}"${prefix ? "*" : ""}`;
}

function nodeText(node: SearchNode, query: SearchQuery): string {
  switch (node.kind) {
    case "phrase":
      return phraseText(node.tokens, node.prefix);
    case "or":
      return `(${node.children.map((c) => nodeText(c, query)).join(" OR ")})`;
    case "and": {
      const positive = node.children.filter((c) => c.kind !== "not");
      if (positive.length === 0) throw onlyExclusions(query);
      let text = positive.length === 1 ? nodeText(positive[0]!, query) : `(${positive.map((c) => nodeText(c, query)).join(" AND ")})`;
      // FTS5's NOT is binary (`a NOT b`): one per exclusion, each around what came before.
      for (const c of node.children) if (c.kind === "not") text = `(${text} NOT ${nodeText(c.child, query)})`;
      return text;
    }
    case "not":
      throw onlyExclusions(query);
  }
}

function onlyExclusions(query: SearchQuery): QueryError {
  return new QueryError(`Search query ${JSON.stringify(query.text)} excludes words but asks for none: add a word to find`);
}

/**
 * The FTS5 query expression of `query`: phrases as double-quoted strings of folded tokens, `AND`, `OR` and
 * `NOT` with explicit parentheses. Bound as a parameter; never built from the user's raw text.
 */
export function ftsMatchExpression(query: SearchQuery): string {
  return nodeText(query.root, query);
}

const TOKENIZE = "tokenize='unicode61 remove_diacritics 2'";

export const sqliteFullText: SqlFullText = {
  createStatements(table, index, primaryKey, mode) {
    const fts = quoteIdentifier(ftsTableOf(table));
    const t = quoteIdentifier(table);
    const names = triggerNames(table);
    const ifMissing = mode === "autoCreate" ? "IF NOT EXISTS " : "";
    const columns = index.properties.map(quoteIdentifier);
    const list = columns.join(", ");
    const newValues = columns.map((c) => `new.${c}`).join(", ");
    const oldValues = columns.map((c) => `old.${c}`).join(", ");
    const insertNew = `INSERT INTO ${fts}(rowid, ${list}) VALUES (new.rowid, ${newValues});`;
    const deleteOld = `INSERT INTO ${fts}(${fts}, rowid, ${list}) VALUES ('delete', old.rowid, ${oldValues});`;
    // An update that leaves the indexed text and the rowid as they were (a save of other columns) costs nothing.
    const changed = ["old.rowid IS NOT new.rowid", ...columns.map((c) => `old.${c} IS NOT new.${c}`)].join(" OR ");
    const rebuild =
      mode === "autoCreate"
        ? // Only a new index reads the table: its triggers are made last, so they are missing exactly then.
          `INSERT INTO ${fts}(${fts}) SELECT 'rebuild' WHERE NOT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = ${quotedText(names.insert)})`
        : `INSERT INTO ${fts}(${fts}) VALUES ('rebuild')`;
    return [
      `CREATE VIRTUAL TABLE ${ifMissing}${fts} USING fts5(${list}, content=${quotedText(table)}, content_rowid='rowid', ${TOKENIZE} ${NAME_MARK}${encodeName(index.name)} */)`,
      rebuild,
      `CREATE TRIGGER ${ifMissing}${quoteIdentifier(names.insert)} AFTER INSERT ON ${t} BEGIN ${insertNew} END`,
      `CREATE TRIGGER ${ifMissing}${quoteIdentifier(names.delete)} AFTER DELETE ON ${t} BEGIN ${deleteOld} END`,
      `CREATE TRIGGER ${ifMissing}${quoteIdentifier(names.update)} AFTER UPDATE OF ${[...columns, quoteIdentifier(primaryKey)].join(", ")} ON ${t} WHEN ${changed} BEGIN ${deleteOld} ${insertNew} END`,
    ];
  },

  dropStatements(table) {
    const names = triggerNames(table);
    return [
      `DROP TRIGGER IF EXISTS ${quoteIdentifier(names.insert)}`,
      `DROP TRIGGER IF EXISTS ${quoteIdentifier(names.delete)}`,
      `DROP TRIGGER IF EXISTS ${quoteIdentifier(names.update)}`,
      `DROP TABLE ${quoteIdentifier(ftsTableOf(table))}`,
    ];
  },

  reservedTables(table) {
    const fts = ftsTableOf(table);
    return [fts, ...SHADOW_SUFFIXES.map((s) => `${fts}${s}`)];
  },

  // A column of one of these names takes the name from the hidden rowid that FTS5 keys its rows by
  // (`content_rowid`, the triggers' `new.rowid`, the search's join): the index would key rows by the column.
  reservedColumns: ["rowid", "oid", "_rowid_"],

  searchStatement(search: FullTextSearch) {
    const { schema } = search;
    const t = quoteIdentifier(schema.table);
    const fts = quoteIdentifier(ftsTableOf(schema.table));
    const params: unknown[] = [ftsMatchExpression(search.query)];
    const where = search.where(2);
    if (where) params.push(...where.params);
    params.push(search.offset);
    const select = search.columns.map((c) => `${t}.${quoteIdentifier(c)}`).join(", ");
    // The matches and their scores come from a subquery on the FTS5 table alone, the table's rows joined by
    // rowid: the where's unqualified columns then resolve in the table only (the FTS5 table has columns of
    // the same names; the subquery's names start with `__strata_`, which no entity's column may). bm25() is
    // negative, lower is better: negated, a score is positive, higher is better.
    // LIMIT is written as digits, as finds write it (SqlDialect.literalPaging): a bound one is re-planned.
    return {
      text:
        `SELECT ${select}, "__strata_hit"."__strata_score" FROM ` +
        `(SELECT rowid AS "__strata_rowid", -bm25(${fts}) AS "__strata_score" FROM ${fts} WHERE ${fts} MATCH ?) AS "__strata_hit" ` +
        `JOIN ${t} ON ${t}.rowid = "__strata_hit"."__strata_rowid"${where ? ` WHERE ${where.text}` : ""} ` +
        `ORDER BY "__strata_hit"."__strata_score" DESC, ${t}.${quoteIdentifier(schema.primary.name)} LIMIT ${search.limit} OFFSET ?`,
      params,
    };
  },
};
