/**
 * SQLite's catalog read back as table descriptions: `sqlite_master` for tables, `pragma_table_info`,
 * `pragma_index_list` and `pragma_index_info` for columns and indexes. Declared types name the logical
 * type (see sqlite-dialect.ts), and an `increment` key is the one whose table was created AUTOINCREMENT.
 * An index's folded companion (sql-table-statements.ts) is part of that index, not an index of its own.
 */
import type { TableColumn, TableIndex } from "../../spi/index.js";
import type { LogicalType } from "../../schema/entity-schema.js";
import type { SqlIntrospector } from "../sql/sql-dialect.js";
import { parsePlainDefault } from "../sql/sql-literals.js";
import { withoutFoldedIndexes } from "../sql/sql-table-statements.js";

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

export const sqliteIntrospector: SqlIntrospector = {
  async listTables(run) {
    const rows = await run.all(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name`, [], false);
    return rows.map((r) => String(r[0]));
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
    return { name, columns, indexes: withoutFoldedIndexes(indexes) };
  },
};
