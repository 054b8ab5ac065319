/**
 * SQLite's catalog read back as table descriptions: `sqlite_master` for tables, `pragma_table_info`,
 * `pragma_index_list` and `pragma_index_info` for columns and indexes. Declared types name the logical
 * type (see sqlite-dialect.ts), and an `increment` key is the one whose table was created AUTOINCREMENT.
 * An index's folded companion (sql-table-statements.ts) is part of that index, not an index of its own.
 * Foreign keys come from `pragma_foreign_key_list`, their names from the `CREATE TABLE` text (the pragma
 * has none; an unnamed one is called as a relation's would be, `fk_<table>_<column>`). A table's full-text
 * index is its `<table>__fts` FTS5 table (sqlite-full-text.ts), whose columns are the index's; that table
 * and FTS5's shadow tables are part of the index, not tables of their own, and `listTables` leaves them out.
 */
import type { TableColumn, TableForeignKey, TableIndex } from "../../spi/index.js";
import { foreignKeyName } from "../../schema/entity-schema.js";
import { onDeleteOf } from "../sql/sql-foreign-keys.js";
import { foreignKeyNames } from "../sql/table-definition-text.js";
import type { FullTextSchema, LogicalType } from "../../schema/entity-schema.js";
import type { SqlIntrospector } from "../sql/sql-dialect.js";
import { parsePlainDefault } from "../sql/sql-literals.js";
import { withoutFoldedIndexes } from "../sql/sql-table-statements.js";
import type { SqlRunner } from "../sql/sql-runner.js";
import { ftsTableOf, isFullTextTableName, readFullTextDeclaration } from "./sqlite-full-text.js";

function sqliteTypeOf(declared: string): LogicalType {
  const t = declared.toUpperCase();
  if (t.includes("JSON")) return "json";
  if (t.includes("BOOL")) return "boolean";
  if (t.includes("DATE") || t.includes("TIME")) return "datetime";
  if (t.includes("INT")) return "integer";
  if (t.includes("REAL") || t.includes("FLOA") || t.includes("DOUB") || t.includes("NUM")) return "number";
  return "string";
}

/** A stored default (catalog text) back as a logical value; datetimes are epoch milliseconds. */
function parseSqliteDefault(type: LogicalType, text: string | null): unknown {
  return parsePlainDefault(type, text, (t) => (/^-?\d+$/.test(t) ? new Date(Number(t)) : undefined));
}

/** The full-text index of `table`: its `<table>__fts` table when that is one of Strata's, over this table. */
async function readFullText(run: SqlRunner, table: string): Promise<FullTextSchema | undefined> {
  const fts = ftsTableOf(table);
  const found = await run.all(`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?`, [fts], false);
  if (found.length === 0) return undefined;
  const columns = await run.all(`SELECT name FROM pragma_table_info(?) ORDER BY cid`, [fts], false);
  return readFullTextDeclaration(String(found[0]![0] ?? ""), columns.map((c) => String(c[0])));
}

export const sqliteIntrospector: SqlIntrospector = {
  async listTables(run) {
    const rows = await run.all(`SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name`, [], false);
    // Strata's FTS5 tables carry their index's name in their text: those and their shadow tables are hidden.
    const ftsTables = new Set(rows.filter((r) => readFullTextDeclaration(String(r[1] ?? ""), []) !== undefined).map((r) => String(r[0])));
    return rows.map((r) => String(r[0])).filter((name) => !isFullTextTableName(name, ftsTables));
  },
  async describeTable(run, name) {
    const exists = await run.all(`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?`, [name], false);
    if (exists.length === 0) return undefined;
    const createText = String(exists[0]![0] ?? "");
    // cid, name, type, notnull, dflt_value, pk
    const info = await run.all(`SELECT cid, name, type, "notnull", dflt_value, pk FROM pragma_table_info(?)`, [name], false);
    const indexList = await run.all(`SELECT name, "unique", origin FROM pragma_index_list(?)`, [name], false);
    const indexes: TableIndex[] = [];
    for (const [indexName, unique, origin] of indexList) {
      if (origin === "pk") continue;
      const cols = await run.all(`SELECT name FROM pragma_index_info(?) ORDER BY seqno`, [indexName], false);
      indexes.push({ name: String(indexName), columns: cols.map((c) => String(c[0])), unique: Number(unique) === 1 });
    }
    const columns: TableColumn[] = info.map(([, colName, declared, notnull, dflt, pk]) => {
      const type = sqliteTypeOf(String(declared ?? ""));
      const primary = Number(pk) > 0;
      const fallback = parseSqliteDefault(type, dflt as string | null);
      const increment = primary && /AUTOINCREMENT/i.test(createText);
      return {
        name: String(colName),
        type,
        nullable: !primary && Number(notnull) === 0,
        ...(fallback !== undefined ? { default: fallback } : {}),
        primary,
        unique: false,
        ...(increment ? { generated: "increment" as const } : {}),
      };
    });
    // id, seq, table, from, to, on_delete; several rows of one id are a key over several columns, which
    // Strata cannot express (nor create): left out. `to` is null when the key references the primary key.
    const fkRows = await run.all(`SELECT id, seq, "table", "from", "to", on_delete FROM pragma_foreign_key_list(?) ORDER BY id, seq`, [name], false);
    const names = foreignKeyNames(createText, name);
    const foreignKeys: TableForeignKey[] = [];
    for (const [id, , referencedTable, from, to, onDelete] of fkRows) {
      if (fkRows.filter((r) => r[0] === id).length !== 1) continue;
      let referencedColumn = to === null ? undefined : String(to);
      if (referencedColumn === undefined) {
        const key = await run.all(`SELECT name FROM pragma_table_info(?) WHERE pk > 0`, [referencedTable], false);
        referencedColumn = key.length === 1 ? String(key[0]![0]) : "";
      }
      const column = String(from);
      foreignKeys.push({
        name: names.get(column) ?? foreignKeyName(name, column),
        column,
        referencedTable: String(referencedTable),
        referencedColumn,
        onDelete: onDeleteOf(String(onDelete)),
      });
    }
    foreignKeys.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const fullText = await readFullText(run, name);
    return { name, columns, indexes: withoutFoldedIndexes(indexes), foreignKeys, ...(fullText ? { fullText } : {}) };
  },
};
