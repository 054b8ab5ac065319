/**
 * Foreign keys on SQL, written once for every dialect: the constraint clause of `CREATE TABLE`, the order
 * autoCreate creates tables in (parents first), the catalog of every known foreign key by name (what an
 * error mapper needs to name the relation), and the slow path that finds which foreign key a write broke
 * when the database does not say (SQLite's bare "FOREIGN KEY constraint failed").
 *
 * A RESTRICT foreign key is written `ON DELETE NO ACTION`, not `ON DELETE RESTRICT`: both refuse the delete
 * of a referenced row and neither is deferred (Strata declares no DEFERRABLE constraint), but SQLite checks
 * RESTRICT at each row, so one `DELETE` of a parent and its child on a self-referencing table would succeed
 * or fail depending on the order SQLite visits the rows in, where NO ACTION is checked once the statement is
 * done, as PostgreSQL checks both and as the engine does. Introspection reads either back as RESTRICT.
 */
import type { Key, TableForeignKey } from "../../spi/index.js";
import type { NormalizedWhere } from "../../query/query.js";
import type { ColumnSchema, EntitySchema, ForeignKeySchema, OnDelete, Row } from "../../schema/entity-schema.js";
import type { ReferencingKey } from "../../schema/foreign-key-graph.js";
import { referencingKeys } from "../../schema/foreign-key-graph.js";
import type { SqlDialect } from "./sql-dialect.js";
import { quoteIdentifier } from "./sql-dialect.js";
import { missingParent, stillReferenced } from "./sql-errors.js";
import { compileFind } from "./sql-query-compiler.js";
import type { SqlRunner } from "./sql-runner.js";
import type { SqlTables } from "./sql-table.js";

/** The `ON DELETE` action written for each {@link OnDelete} (see the module comment for RESTRICT). */
const ON_DELETE_SQL: Readonly<Record<OnDelete, string>> = { RESTRICT: "NO ACTION", CASCADE: "CASCADE", "SET NULL": "SET NULL" };

/** A catalog's `ON DELETE` action back as an {@link OnDelete}; NO ACTION (and SET DEFAULT, which Strata never writes) refuse like RESTRICT. */
export function onDeleteOf(action: string): OnDelete {
  const a = action.toUpperCase().replace(/_/g, " ");
  return a === "CASCADE" ? "CASCADE" : a === "SET NULL" ? "SET NULL" : "RESTRICT";
}

/** `CONSTRAINT "name" FOREIGN KEY ("column") REFERENCES "table" ("key") ON DELETE ...`, every name quoted. */
export function foreignKeyClause(fk: TableForeignKey): string {
  return `CONSTRAINT ${quoteIdentifier(fk.name)} FOREIGN KEY (${quoteIdentifier(fk.column)}) REFERENCES ${quoteIdentifier(fk.referencedTable)} (${quoteIdentifier(fk.referencedColumn)}) ON DELETE ${ON_DELETE_SQL[fk.onDelete]}`;
}

/**
 * `tables` with every table after the tables its foreign keys reference (itself aside), keeping the given
 * order otherwise. Tables in a cycle keep their relative order: the foreign key that points forward is then
 * added after both exist ({@link SqlDialect.addForeignKeyIfMissing}).
 */
export function parentsFirst<T extends { readonly name: string; readonly foreignKeys?: readonly TableForeignKey[] }>(tables: readonly T[]): T[] {
  const byName = new Map(tables.map((t) => [t.name, t]));
  const out: T[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (table: T): void => {
    if (state.has(table.name)) return;
    state.set(table.name, "visiting");
    for (const fk of table.foreignKeys ?? []) {
      const parent = byName.get(fk.referencedTable);
      if (parent && parent !== table) visit(parent);
    }
    state.set(table.name, "done");
    out.push(table);
  };
  for (const table of tables) visit(table);
  return out;
}

/**
 * Every foreign key a backend knows of, by constraint name, by referenced table and by referencing table: its
 * storage's entities and join tables, and, once {@link ForeignKeyCatalog.update}d, those the database holds
 * besides (a migration's). One object for the backend's life: its sessions and error mapper see each update.
 */
export class ForeignKeyCatalog {
  private byName = new Map<string, ReferencingKey>();
  private referencing = new Map<string, ReferencingKey[]>();
  private byChild = new Map<string, ReferencingKey[]>();

  constructor(schemas: readonly EntitySchema[]) {
    this.update(schemas);
  }

  /** Replaces every key with those of `schemas` (each table once, with all its foreign keys). */
  update(schemas: readonly EntitySchema[]): void {
    this.referencing = referencingKeys(schemas);
    this.byName = new Map();
    this.byChild = new Map();
    for (const keys of this.referencing.values()) {
      for (const key of keys) {
        this.byName.set(`${key.child.table}\0${key.fk.name}`, key);
        let own = this.byChild.get(key.child.table);
        if (!own) this.byChild.set(key.child.table, (own = []));
        own.push(key);
      }
    }
  }

  /** The foreign key `name` of table `child` (a constraint name is unique only within its table on PostgreSQL). */
  find(child: string, name: string): ReferencingKey | undefined {
    return this.byName.get(`${child}\0${name}`);
  }

  /** The foreign keys that reference `table`, each with the schema of its (child) table. */
  referencingTable(table: string): readonly ReferencingKey[] {
    return this.referencing.get(table) ?? [];
  }

  /** The foreign keys table `child` holds, each with the schema of `child` it was known by. */
  heldBy(child: string): readonly ReferencingKey[] {
    return this.byChild.get(child) ?? [];
  }
}

/** What a failed write was doing, for {@link explainForeignKeyFailure}. */
export type ForeignKeyWrite =
  /** Rows written (inserted, upserted, or an update's changed columns with the key): each foreign key value present is checked. */
  | { readonly kind: "write"; readonly rows: readonly Row[] }
  /** Rows deleted, by key or by a where. */
  | { readonly kind: "delete"; readonly keys: readonly Key[] }
  | { readonly kind: "deleteWhere"; readonly where: NormalizedWhere };

/** Keys per `IN (...)` of the slow path's queries. */
const CHUNK = 500;

/**
 * Finds which foreign key a failed write broke, for a database whose error does not say (SQLite): the
 * statement was rolled back, so the state it ran on is back, and the write is replayed as reads. Slow, and
 * only ever run after such a failure. For a write: the first row (in order) whose foreign key value names
 * no row of the referenced table (a value among the keys of the same rows counts for a self-reference).
 * For a delete: the rows it would delete, cascades followed level after level, then the first RESTRICT
 * foreign key with a row outside them that references one. Undefined when nothing is found (a foreign key
 * the schemas do not know), and the caller keeps the database's own error.
 */
export async function explainForeignKeyFailure(
  run: SqlRunner,
  tables: SqlTables,
  catalog: ForeignKeyCatalog,
  schema: EntitySchema,
  write: ForeignKeyWrite,
  cause: unknown,
): Promise<Error | undefined> {
  if (write.kind === "write") return explainWrite(run, tables, catalog, schema, write.rows, cause);
  let keys: readonly Key[];
  if (write.kind === "delete") keys = write.keys;
  else {
    const t = tables.get(schema);
    const query = { where: write.where, orderBy: [{ column: schema.primary, direction: "asc" as const }], offset: 0 };
    const sql = compileFind(schema, query, tables.dialect, t.codec, "", { columns: [schema.primary], list: quoteIdentifier(schema.primary.name) });
    keys = (await run.all(sql.text, sql.params, false)).map((r) => r[0] as Key);
  }
  return explainDelete(run, tables.dialect, catalog, schema, keys, cause);
}

async function explainWrite(run: SqlRunner, tables: SqlTables, catalog: ForeignKeyCatalog, schema: EntitySchema, rows: readonly Row[], cause: unknown): Promise<Error | undefined> {
  const codec = tables.get(schema).codec;
  const ownKeys = new Set(rows.map((r) => r[schema.primary.property]).filter((k) => k !== undefined && k !== null));
  // The keys `schema` has (a migration's schema is read from the table as it is now, renames included), then
  // those of the catalog it lacks (a migration's keys, which no entity declares), each found in `schema` by its
  // column's name: a migration writes rows keyed by column names, a repository by its entity's properties.
  const checks: Array<{ fk: ForeignKeySchema; column: ColumnSchema }> = [];
  for (const fk of schema.foreignKeys) {
    const column = schema.columnsByProperty.get(fk.property);
    if (column) checks.push({ fk, column });
  }
  for (const { child, fk } of catalog.heldBy(schema.table)) {
    if (schema.foreignKeys.some((f) => f.name === fk.name)) continue;
    const name = child.columnsByProperty.get(fk.property)?.name ?? fk.property;
    const column = schema.columns.find((c) => c.name === name);
    if (column) checks.push({ fk: column.property === fk.property ? fk : { ...fk, property: column.property }, column });
  }
  for (const row of rows) {
    for (const { fk, column } of checks) {
      const value = row[fk.property];
      if (value === undefined || value === null) continue;
      if (fk.referencedTable === schema.table && ownKeys.has(value)) continue;
      const found = await run.all(`SELECT 1 FROM ${quoteIdentifier(fk.referencedTable)} WHERE ${quoteIdentifier(fk.referencedColumn)} = ${tables.dialect.placeholder(1)} LIMIT 1`, [codec.encodeValue(column, value)], false);
      if (found.length === 0) return missingParent(schema.table, fk, value, cause);
    }
  }
  return undefined;
}

async function explainDelete(run: SqlRunner, dialect: SqlDialect, catalog: ForeignKeyCatalog, schema: EntitySchema, keys: readonly Key[], cause: unknown): Promise<Error | undefined> {
  // Every row the delete reaches: the rows themselves, then the rows each CASCADE foreign key takes along.
  const deleted = new Map<string, Set<unknown>>([[schema.table, new Set(keys)]]);
  const queue: Array<[string, unknown[]]> = [[schema.table, [...keys]]];
  while (queue.length > 0) {
    const [table, parentKeys] = queue.shift()!;
    for (const { child, fk } of catalog.referencingTable(table)) {
      if (fk.onDelete !== "CASCADE") continue;
      const childColumn = child.columnsByProperty.get(fk.property)?.name ?? fk.property;
      let seen = deleted.get(child.table);
      if (!seen) deleted.set(child.table, (seen = new Set()));
      const fresh: unknown[] = [];
      for (const [pk] of await selectIn(run, dialect, child.table, [child.primary.name], childColumn, parentKeys)) {
        if (!seen.has(pk)) {
          seen.add(pk);
          fresh.push(pk);
        }
      }
      if (fresh.length > 0) queue.push([child.table, fresh]);
    }
  }
  for (const [table, tableKeys] of deleted) {
    for (const { child, fk } of catalog.referencingTable(table)) {
      if (fk.onDelete !== "RESTRICT") continue;
      const childColumn = child.columnsByProperty.get(fk.property)?.name ?? fk.property;
      const gone = deleted.get(child.table);
      for (const [pk, value] of await selectIn(run, dialect, child.table, [child.primary.name, childColumn], childColumn, [...tableKeys])) {
        if (gone?.has(pk)) continue;
        const keyColumn = child.columnsByProperty.get(fk.property);
        const key = keyColumn ? decodeStored(dialect, keyColumn.type, value) : value;
        return stillReferenced(fk, key, child.table, cause);
      }
    }
  }
  return undefined;
}

/** `SELECT columns FROM table WHERE column IN (values)`, in chunks; values as stored. */
async function selectIn(run: SqlRunner, dialect: SqlDialect, table: string, columns: readonly string[], column: string, values: readonly unknown[]): Promise<unknown[][]> {
  const out: unknown[][] = [];
  for (let i = 0; i < values.length; i += CHUNK) {
    const chunk = values.slice(i, i + CHUNK);
    const list = chunk.map((_, n) => dialect.placeholder(n + 1)).join(", ");
    out.push(...(await run.all(`SELECT ${columns.map(quoteIdentifier).join(", ")} FROM ${quoteIdentifier(table)} WHERE ${quoteIdentifier(column)} IN (${list})`, chunk, false)));
  }
  return out;
}

function decodeStored(dialect: SqlDialect, type: keyof SqlDialect["codecs"], value: unknown): unknown {
  return value === null || value === undefined ? null : dialect.codecs[type].decode(value);
}
