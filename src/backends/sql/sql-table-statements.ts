/**
 * `CREATE TABLE` and `CREATE INDEX` from a table description, written once for every dialect: the schema
 * editor's `createTable` (a migration) and autoCreate (the entity schemas, when the storage opens) both
 * use it. autoCreate only ever adds what is missing; it never drops or alters a column. A table's foreign
 * keys are part of its `CREATE TABLE` (sql-foreign-keys.ts), and autoCreate creates parents before children.
 */
import { createHash } from "node:crypto";
import type { TableColumn, TableDescription, TableForeignKey, TableIndex } from "../../spi/index.js";
import { SchemaError } from "../../errors.js";
import type { EntitySchema, FullTextSchema } from "../../schema/entity-schema.js";
import { FOLDED_INDEX_SUFFIX } from "../../schema/entity-schema.js";
import { describeSchema } from "../../schema/table-schema.js";
import { foreignKeyClause, parentsFirst } from "./sql-foreign-keys.js";
import type { CreateMode, SqlDialect } from "./sql-dialect.js";
import { quoteIdentifier } from "./sql-dialect.js";

export type { CreateMode } from "./sql-dialect.js";

/** A column's definition in `CREATE TABLE` or `ADD COLUMN`. */
export function columnDefinition(dialect: SqlDialect, table: string, column: TableColumn, mode: CreateMode = "migration"): string {
  const name = quoteIdentifier(column.name);
  if (column.primary && column.generated === "increment") return `${name} ${dialect.incrementPrimaryKey}`;
  let text = `${name} ${dialect.columnTypes[column.type]}`;
  if (column.primary) text += " PRIMARY KEY";
  else if (!column.nullable) text += " NOT NULL";
  if (mode === "migration" && column.default !== undefined && column.default !== null) text += ` DEFAULT ${literal(dialect, table, column)}`;
  return text;
}

function literal(dialect: SqlDialect, table: string, column: TableColumn): string {
  try {
    return dialect.literal(column.type, column.default);
  } catch (error) {
    throw new SchemaError(`The default of column "${column.name}" of table "${table}" cannot be stored: ${(error as Error).message}`, { table, field: column.name, cause: error });
  }
}

/** Names are at most this many bytes on PostgreSQL (NAMEDATALEN - 1); longer ones it would cut. */
const MAX_NAME_BYTES = 63;

/**
 * The name of the companion index of the index `declared` (see {@link indexStatements}): `<name>__folded`,
 * or, when that would be longer than an index name may be, a cut of the name and a hash of the whole, so
 * that two long names never share a companion. A `declared` name longer than PostgreSQL keeps is taken as
 * it keeps it (its first 63 bytes): introspection reads that cut name back and must find the same companion.
 */
export function foldedIndexName(declared: string): string {
  return suffixedName(storedName(declared), FOLDED_INDEX_SUFFIX);
}

/**
 * `<name><suffix>` as the name of an object Strata makes beside `name` (a companion index, a full-text
 * index's triggers and table): whole when it fits PostgreSQL's 63 bytes, else a cut of `name`, `_` and a hash
 * of the whole `name`, then `suffix`. PostgreSQL would otherwise cut the name itself, and the names of two
 * objects that differ only in their suffixes would become one.
 */
export function suffixedName(name: string, suffix: string): string {
  const whole = `${name}${suffix}`;
  if (Buffer.byteLength(whole) <= MAX_NAME_BYTES) return whole;
  const hash = createHash("sha256").update(name).digest("hex").slice(0, 8);
  const points = [...name];
  while (points.length > 0 && Buffer.byteLength(`${points.join("")}_${hash}${suffix}`) > MAX_NAME_BYTES) points.pop();
  return `${points.join("")}_${hash}${suffix}`;
}

/** `name` as PostgreSQL stores it: its first 63 bytes, never splitting a character. */
export function storedName(name: string): string {
  if (Buffer.byteLength(name) <= MAX_NAME_BYTES) return name;
  const points = [...name];
  while (Buffer.byteLength(points.join("")) > MAX_NAME_BYTES) points.pop();
  return points.join("");
}

/** True when `index` gets a companion on its folded value: a single-column index on a string column. */
function hasFoldedCompanion(index: TableIndex, columns: readonly Pick<TableColumn, "name" | "type">[]): boolean {
  return index.columns.length === 1 && columns.some((c) => c.name === index.columns[0] && c.type === "string");
}

/**
 * `CREATE [UNIQUE] INDEX` of `index` on `table`, each column in the contract's ascending order (nulls first,
 * {@link SqlDialect.indexColumnOrder}) so that either scan direction serves an ORDER BY on it; and, for a
 * single-column index on a string column (of `columns`, the table's), a companion index on the column's
 * ASCII-folded value ({@link SqlDialect.foldedIndexExpression}) that serves `$ilike` with a literal
 * prefix. The companion is never unique (folding may make two values one) and is part of its index:
 * introspection hides it ({@link withoutFoldedIndexes}) and dropping the index drops it.
 */
export function indexStatements(dialect: SqlDialect, table: string, index: TableIndex, columns: readonly Pick<TableColumn, "name" | "type">[], mode: CreateMode = "migration"): string[] {
  const ifNotExists = mode === "autoCreate" ? "IF NOT EXISTS " : "";
  const list = index.columns.map((c) => `${quoteIdentifier(c)}${dialect.indexColumnOrder}`).join(", ");
  const out = [`CREATE ${index.unique ? "UNIQUE " : ""}INDEX ${ifNotExists}${quoteIdentifier(index.name)} ON ${quoteIdentifier(table)} (${list})`];
  if (hasFoldedCompanion(index, columns)) {
    out.push(`CREATE INDEX ${ifNotExists}${quoteIdentifier(foldedIndexName(index.name))} ON ${quoteIdentifier(table)} (${dialect.foldedIndexExpression(quoteIdentifier(index.columns[0]!))})`);
  }
  return out;
}

/**
 * `DROP INDEX` of `name` and of its companion, if it has one (an index made by an older version, or on a
 * column that is not a string, has none).
 */
export function dropIndexStatements(name: string): string[] {
  return [`DROP INDEX ${quoteIdentifier(name)}`, `DROP INDEX IF EXISTS ${quoteIdentifier(foldedIndexName(name))}`];
}

/** `indexes` read from a catalog without the companions {@link indexStatements} made: to Strata, each is part of its index. */
export function withoutFoldedIndexes<T extends { readonly name: string }>(indexes: readonly T[]): T[] {
  const companions = new Set(indexes.map((i) => foldedIndexName(i.name)));
  return indexes.filter((i) => !companions.has(i.name));
}

/**
 * The statements that create `table` (with its foreign keys), its indexes and its full-text index, in
 * order. A full-text index on a dialect without full-text search is left out (its searches are then an
 * `UnsupportedError`; the schema editor refuses one a migration asks for).
 */
export function createTableStatements(dialect: SqlDialect, table: TableDescription, mode: CreateMode): string[] {
  if (table.fullText && dialect.fullText) checkFullTextColumns(dialect, table.name, table.columns.map((c) => c.name), table.fullText);
  const columns = table.columns.map((c) => columnDefinition(dialect, table.name, c, mode));
  const constraints = (table.foreignKeys ?? []).map(foreignKeyClause);
  const out = [`CREATE TABLE ${mode === "autoCreate" ? "IF NOT EXISTS " : ""}${quoteIdentifier(table.name)} (${[...columns, ...constraints].join(", ")})`];
  for (const index of table.indexes) out.push(...indexStatements(dialect, table.name, index, table.columns, mode));
  if (table.fullText && dialect.fullText) {
    const primary = table.columns.find((c) => c.primary)!;
    out.push(...dialect.fullText.createStatements(table.name, table.fullText, primary.name, mode));
  }
  return out;
}

/**
 * autoCreate's statements for every entity, in order: each table (parents before children), then its
 * indexes. Where a foreign key may only name a table that exists ({@link SqlDialect.addForeignKeyIfMissing}),
 * one pointing forward (a cycle between tables) is added once every table exists; a self-reference stays inline.
 */
export function autoCreateStatements(dialect: SqlDialect, schemas: readonly EntitySchema[]): string[] {
  const tables = parentsFirst(schemas.map(describeSchema));
  const names = new Set(tables.map((t) => t.name));
  const created = new Set<string>();
  const out: string[] = [];
  const later: string[] = [];
  for (const table of tables) {
    const forward = (fk: TableForeignKey) => dialect.addForeignKeyIfMissing !== undefined && fk.referencedTable !== table.name && names.has(fk.referencedTable) && !created.has(fk.referencedTable);
    const foreignKeys = table.foreignKeys ?? [];
    out.push(...createTableStatements(dialect, { ...table, foreignKeys: foreignKeys.filter((fk) => !forward(fk)) }, "autoCreate"));
    for (const fk of foreignKeys.filter(forward)) later.push(dialect.addForeignKeyIfMissing!(table.name, fk.name, foreignKeyClause(fk)));
    created.add(table.name);
  }
  return [...out, ...later];
}

/**
 * Refuses a full-text index on `table` when one of `columns` (the table's, or one a migration adds or renames
 * to) bears a name the dialect's index keeps for itself ({@link SqlFullText.reservedColumns}): the index would
 * be built on the wrong values.
 */
export function checkFullTextColumns(dialect: SqlDialect, table: string, columns: readonly string[], index: FullTextSchema): void {
  const reserved = new Set((dialect.fullText?.reservedColumns ?? []).map((name) => name.toLowerCase()));
  const clash = columns.find((name) => reserved.has(name.toLowerCase()));
  if (clash === undefined) return;
  throw new SchemaError(
    `Table "${table}" cannot get the full-text index "${index.name}": its column "${clash}" has a name ${dialect.label} keeps for the index's own use: rename the column`,
    { table, field: clash },
  );
}
