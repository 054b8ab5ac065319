/**
 * PostgreSQL's catalog read back as table descriptions: `pg_class`, `pg_attribute`, `pg_attrdef` and
 * `pg_index` of the current schema. Column types are read with `format_type` and mapped back to the
 * logical types of postgres-dialect.ts; an identity (or serial) primary key is an `increment` key. An
 * index's folded companion (sql-table-statements.ts) is part of that index, not an index of its own.
 * Foreign keys come from `pg_constraint` (one-column ones: Strata neither writes nor expresses others).
 * A full-text index is read from the comment on its hidden document column (postgres-full-text.ts); its
 * hidden columns and its own indexes are left out of the table's.
 */
import type { TableColumn, TableForeignKey, TableIndex } from "../../spi/index.js";
import { onDeleteOf } from "../sql/sql-foreign-keys.js";
import type { FullTextSchema, LogicalType } from "../../schema/entity-schema.js";
import type { SqlIntrospector } from "../sql/sql-dialect.js";
import { parsePlainDefault, unquote } from "../sql/sql-literals.js";
import { withoutFoldedIndexes } from "../sql/sql-table-statements.js";
import { FULL_TEXT_DOCUMENT_COLUMN, HIDDEN_COLUMN_PREFIX, readFullTextComment, totalsTableOf } from "./postgres-full-text.js";

function postgresTypeOf(formatted: string): LogicalType {
  const t = formatted.toLowerCase();
  if (t.startsWith("json")) return "json";
  if (t === "boolean") return "boolean";
  if (t.startsWith("timestamp") || t === "date") return "datetime";
  if (t === "bigint" || t === "integer" || t === "smallint") return "integer";
  if (t === "double precision" || t === "real" || t.startsWith("numeric")) return "number";
  return "string";
}

/** A stored default (`pg_get_expr` text) back as a logical value; datetimes are quoted timestamps. */
function parsePostgresDefault(type: LogicalType, text: string | null): unknown {
  return parsePlainDefault(type, text, (t) => {
    const s = unquote(t);
    const d = s === undefined ? undefined : new Date(s);
    return d && !Number.isNaN(d.getTime()) ? d : undefined;
  });
}

/** `pg_constraint.confdeltype` codes as actions. */
const CONFDELTYPE: Readonly<Record<string, string>> = { a: "NO ACTION", r: "RESTRICT", c: "CASCADE", n: "SET NULL", d: "SET DEFAULT" };

/** The foreign keys of `pg_constraint`, each with its table's name first; a `WHERE` follows. */
const FOREIGN_KEYS = `SELECT c.relname, con.conname, a.attname, rc.relname, ra.attname, con.confdeltype
  FROM pg_constraint con
  JOIN pg_class c ON c.oid = con.conrelid
  JOIN pg_class rc ON rc.oid = con.confrelid
  JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1]
  JOIN pg_attribute ra ON ra.attrelid = con.confrelid AND ra.attnum = con.confkey[1]`;
const ONE_COLUMN_KEYS = `con.contype = 'f' AND cardinality(con.conkey) = 1`;

/** A row of {@link FOREIGN_KEYS} without its table's name, as a foreign key. */
function foreignKeyOf([conname, column, referencedTable, referencedColumn, action]: readonly unknown[]): TableForeignKey {
  return {
    name: String(conname),
    column: String(column),
    referencedTable: String(referencedTable),
    referencedColumn: String(referencedColumn),
    onDelete: onDeleteOf(CONFDELTYPE[String(action)] ?? "NO ACTION"),
  };
}

export const postgresIntrospector: SqlIntrospector = {
  async listTables(run) {
    const rows = await run.all(`SELECT c.relname FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') ORDER BY c.relname`, [], false);
    const names = rows.map((r) => String(r[0]));
    // A full-text index's table of totals is part of the index, not a table of its own.
    const totals = new Set(names.map(totalsTableOf));
    return names.filter((name) => !totals.has(name));
  },
  async describeTable(run, name) {
    const found = await run.all(`SELECT c.oid FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') AND c.relname = $1`, [name], false);
    if (found.length === 0) return undefined;
    const oid = found[0]![0];
    const cols = await run.all(
      `SELECT a.attname, format_type(a.atttypid, NULL), a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attidentity,
              EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisprimary AND a.attnum = ANY(i.indkey)),
              col_description(a.attrelid, a.attnum)
         FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
      [oid],
      false,
    );
    const idx = await run.all(
      `SELECT ic.relname, i.indisunique, array_to_json(ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(attnum, n)
              JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.n))::text,
              coalesce(pg_get_expr(i.indpred, i.indrelid), '')
         FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
        WHERE i.indrelid = $1 AND NOT i.indisprimary ORDER BY ic.relname`,
      [oid],
      false,
    );
    // The full-text index's hidden columns (postgres-full-text.ts) are not the table's: the comment on the
    // document column says which index they hold.
    let fullText: FullTextSchema | undefined;
    for (const [attname, , , , , , comment] of cols) if (attname === FULL_TEXT_DOCUMENT_COLUMN) fullText = readFullTextComment(comment as string | null);
    const columns: TableColumn[] = cols.filter(([attname]) => !String(attname).startsWith(HIDDEN_COLUMN_PREFIX)).map(([attname, type, notnull, dflt, identity, primary]) => {
      const logical = postgresTypeOf(String(type));
      const isPrimary = primary === true;
      const increment = isPrimary && (identity === "d" || identity === "a" || /^nextval\(/.test(String(dflt ?? "")));
      const fallback = increment ? undefined : parsePostgresDefault(logical, (dflt as string | null) ?? null);
      return {
        name: String(attname),
        type: logical,
        nullable: !isPrimary && notnull !== true,
        ...(fallback !== undefined ? { default: fallback } : {}),
        primary: isPrimary,
        unique: false,
        ...(increment ? { generated: "increment" as const } : {}),
      };
    });
    const indexes: TableIndex[] = withoutFoldedIndexes(
      idx
        // The full-text index's own indexes (over its hidden columns, or only where they are null) are part of it.
        .filter(([, , columnsJson, predicate]) => !String(columnsJson).includes(HIDDEN_COLUMN_PREFIX) && !String(predicate).includes(HIDDEN_COLUMN_PREFIX))
        .map(([relname, unique, columnsJson]) => ({
          name: String(relname),
          columns: JSON.parse(String(columnsJson)) as string[],
          unique: unique === true,
        })),
    );
    const fks = await run.all(`${FOREIGN_KEYS} WHERE con.conrelid = $1 AND ${ONE_COLUMN_KEYS} ORDER BY con.conname`, [oid], false);
    const foreignKeys = fks.map((r) => foreignKeyOf(r.slice(1)));
    return { name, columns, indexes, foreignKeys, ...(fullText ? { fullText } : {}) };
  },
  async readForeignKeys(run) {
    const rows = await run.all(`${FOREIGN_KEYS} WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') AND ${ONE_COLUMN_KEYS} ORDER BY c.relname, con.conname`, [], false);
    const held = new Map<string, TableForeignKey[]>();
    for (const [table, ...fk] of rows) {
      let keys = held.get(String(table));
      if (!keys) held.set(String(table), (keys = []));
      keys.push(foreignKeyOf(fk));
    }
    return held;
  },
};
