/**
 * A schema read once, as plain table descriptions: what `strata migrate generate` diffs the entities
 * against (the schema the migrations folder produces, or the live database's), compares for drift, and
 * renames in before diffing. Only what the `m` API expresses is compared (as in `diffSchema`): column names,
 * logical types, nullability and keys, indexes by columns and uniqueness, foreign keys by column, target and
 * onDelete; defaults and names of indexes are not, since backends read them back in their own words.
 */
import type { SchemaEditor, TableDescription, TableIndex } from "../spi/index.js";
import { MIGRATIONS_TABLE } from "./applied-migration-store.js";
import { indexesOf } from "./diff-schema.js";
import type { TableSource } from "./diff-schema.js";
import { LOCK_TABLE } from "./row-migration-lock.js";

/** Every user table of a schema, by name. */
export type SchemaSnapshot = ReadonlyMap<string, TableDescription>;

/** Strata's own tables, which no migration creates. */
const INTERNAL_TABLES = new Set([MIGRATIONS_TABLE, LOCK_TABLE]);

/** Reads every user table `editor` knows. */
export async function readSnapshot(editor: Pick<SchemaEditor, "listTables" | "describeTable">): Promise<SchemaSnapshot> {
  const out = new Map<string, TableDescription>();
  for (const name of (await editor.listTables()).sort()) {
    if (INTERNAL_TABLES.has(name)) continue;
    const table = await editor.describeTable(name);
    if (table) out.set(name, table);
  }
  return out;
}

/** `snapshot` as the table source `diffSchema` reads. */
export function snapshotSource(snapshot: SchemaSnapshot): TableSource {
  return { describeTable: async (name) => snapshot.get(name) };
}

/** The indexes of a table by columns and uniqueness, one-column unique constraints included. */
const indexKeys = (table: TableDescription): Set<string> => new Set(indexesOf(table).map(indexKey));

const indexKey = (i: TableIndex) => `${i.unique ? "unique " : ""}(${i.columns.join(", ")})`;

/** A table's full-text index by its columns in order, as diff-schema.ts compares it; undefined when it has none. */
const fullTextKey = (t: TableDescription) => (t.fullText ? `(${t.fullText.properties.join(", ")})` : undefined);

/**
 * The differences between the schema the migrations describe (`expected`) and the database's (`actual`),
 * one line each, e.g. `tasks.views: integer in the migrations, string in the database`; empty when they agree.
 */
export function compareSnapshots(expected: SchemaSnapshot, actual: SchemaSnapshot): string[] {
  const out: string[] = [];
  for (const [name, want] of expected) {
    const have = actual.get(name);
    if (!have) {
      out.push(`table ${name}: in the migrations, not in the database`);
      continue;
    }
    const columns = new Map(have.columns.map((c) => [c.name, c]));
    for (const c of want.columns) {
      const found = columns.get(c.name);
      columns.delete(c.name);
      if (!found) out.push(`column ${name}.${c.name}: in the migrations, not in the database`);
      else if (found.type !== c.type) out.push(`column ${name}.${c.name}: ${c.type} in the migrations, ${found.type} in the database`);
      else if (found.primary !== c.primary) out.push(`column ${name}.${c.name}: ${c.primary ? "" : "not "}the primary key in the migrations, ${found.primary ? "" : "not "}in the database`);
      else if (!c.primary && found.nullable !== c.nullable) out.push(`column ${name}.${c.name}: ${c.nullable ? "" : "not "}nullable in the migrations, ${found.nullable ? "" : "not "}nullable in the database`);
    }
    for (const extra of columns.keys()) out.push(`column ${name}.${extra}: in the database, not in the migrations`);
    const wantIndexes = indexKeys(want);
    const haveIndexes = indexKeys(have);
    for (const i of wantIndexes) if (!haveIndexes.has(i)) out.push(`index ${name} ${i}: in the migrations, not in the database`);
    for (const i of haveIndexes) if (!wantIndexes.has(i)) out.push(`index ${name} ${i}: in the database, not in the migrations`);
    const fkKey = (f: { column: string; referencedTable: string; referencedColumn: string; onDelete: string }) =>
      `(${f.column}) -> ${f.referencedTable}.${f.referencedColumn} on delete ${f.onDelete}`;
    const wantKeys = new Set((want.foreignKeys ?? []).map(fkKey));
    const haveKeys = new Set((have.foreignKeys ?? []).map(fkKey));
    for (const k of wantKeys) if (!haveKeys.has(k)) out.push(`foreign key ${name} ${k}: in the migrations, not in the database`);
    for (const k of haveKeys) if (!wantKeys.has(k)) out.push(`foreign key ${name} ${k}: in the database, not in the migrations`);
    const wantFullText = fullTextKey(want);
    const haveFullText = fullTextKey(have);
    if (wantFullText !== haveFullText) {
      if (wantFullText) out.push(`full-text index ${name} ${wantFullText}: in the migrations, not in the database`);
      if (haveFullText) out.push(`full-text index ${name} ${haveFullText}: in the database, not in the migrations`);
    }
  }
  for (const name of actual.keys()) if (!expected.has(name)) out.push(`table ${name}: in the database, not in the migrations`);
  return out;
}

/** `snapshot` with column `from` of `table` named `to`, in its indexes, foreign keys and full-text index too. */
export function renameColumnIn(snapshot: SchemaSnapshot, table: string, from: string, to: string): SchemaSnapshot {
  const out = new Map(snapshot);
  const t = snapshot.get(table);
  if (!t) return out;
  const name = (c: string) => (c === from ? to : c);
  out.set(table, {
    ...t,
    columns: t.columns.map((c) => (c.name === from ? { ...c, name: to } : c)),
    indexes: t.indexes.map((i) => ({ ...i, columns: i.columns.map(name) })),
    foreignKeys: (t.foreignKeys ?? []).map((f) => ({ ...f, column: name(f.column) })),
    ...(t.fullText ? { fullText: { ...t.fullText, properties: t.fullText.properties.map(name) } } : {}),
  });
  // A foreign key of another table that references the renamed column follows it.
  for (const [n, other] of out) {
    if (!(other.foreignKeys ?? []).some((f) => f.referencedTable === table && f.referencedColumn === from)) continue;
    out.set(n, { ...other, foreignKeys: other.foreignKeys!.map((f) => (f.referencedTable === table && f.referencedColumn === from ? { ...f, referencedColumn: to } : f)) });
  }
  return out;
}

/** `snapshot` with table `from` named `to`, and the foreign keys referencing it following it. */
export function renameTableIn(snapshot: SchemaSnapshot, from: string, to: string): SchemaSnapshot {
  const out = new Map<string, TableDescription>();
  for (const [name, table] of snapshot) {
    const foreignKeys = (table.foreignKeys ?? []).map((f) => (f.referencedTable === from ? { ...f, referencedTable: to } : f));
    if (name === from) out.set(to, { ...table, name: to, foreignKeys });
    else out.set(name, { ...table, foreignKeys });
  }
  return out;
}
