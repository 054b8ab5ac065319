/**
 * The schema catalog of a file-backend directory, `catalog.json`: which tables exist, their columns and
 * types (so stored values decode exactly: a datetime string back to a `Date`, an integer stays an integer),
 * their indexes, their foreign keys (so a process opening the directory without the entities enforces
 * them too), and the snapshot file of each.
 *
 * Format (version 2), pretty-printed:
 * ```json
 * {
 *   "format": 2,
 *   "seq": 42,                       // the last journal sequence number folded into the snapshots
 *   "generation": 2,                 // bumped by each schema change (optional, 0 when absent)
 *   "tables": {
 *     "tasks": {
 *       "file": "tasks.table.json",  // tableFileName(name) or, after a schema change, tableFileName(name, generation)
 *       "columns": [                 // in column order; values in snapshots and the journal are keyed by "name"
 *         { "name": "id", "type": "string", "nullable": false, "primary": true, "generated": "uuid" },
 *         { "name": "due", "type": "datetime", "nullable": true },
 *         { "name": "version", "type": "integer", "nullable": false, "role": "version" }
 *       ],
 *       "indexes": [{ "name": "idx_tasks_title", "columns": ["title"], "unique": true }],
 *       "foreignKeys": [             // optional, absent when none; by column name, as TableForeignKey
 *         { "name": "fk_tasks_ownerId", "column": "ownerId", "referencedTable": "users", "referencedColumn": "id", "onDelete": "CASCADE" }
 *       ],
 *       "fullText": { "name": "fts_tasks", "columns": ["title", "notes"] }  // optional: the full-text index, columns in document order
 *     }
 *   },
 *   "crc": "0b8e7f4d"                 // always the last member: the CRC-32 of every byte before its ","
 * }
 * ```
 * The `crc` seal (see file-snapshot.ts) makes a flipped byte (a type, a nullable flag, a file name) a
 * `CorruptionError` on open. Format 1, written by v0.1, has no `crc`; it is still read, and the next
 * write of the catalog (a compaction, a new table) replaces it with format 2. `foreignKeys` came with
 * relations, still in format 2: a version before them reads such a catalog but does not enforce the keys.
 * `fullText` came with full-text search, also in format 2: only the index's definition is stored; the
 * index itself lives in memory and is built from the rows by the first search after the open
 * (engine/full-text-index.ts). A version before it reads such a catalog and ignores the member.
 * Rows removed or emptied by an `onDelete` (CASCADE, SET NULL) are ordinary changes of the commit that
 * deleted their parent: in the journal line with it, and in the snapshots after compaction.
 *
 * A directory that holds table snapshots with rows, or a non-empty journal, but no `catalog.json` is a
 * `CorruptionError` naming those files: creating an empty catalog over them would empty the tables.
 * Schema changes (migrations) go through `FileBackend.checkpointSchema`: every table is written in its
 * new shape under a new generation's file names, then the catalog is replaced (the moment the change
 * takes effect), then the journal is emptied; so the journal never holds rows of an older shape than the
 * catalog describes, and a crash at any step leaves either the old or the new schema whole.
 */
import type { ColumnRole, ColumnSchema, EntitySchema, ForeignKeySchema, FullTextSchema, IndexSchema, LogicalType, OnDelete } from "../../schema/entity-schema.js";
import { buildEntitySchema, isLogicalType, LOGICAL_TYPES } from "../../schema/entity-schema.js";
import { SEALED_FORMAT, hasExactly, sealedJsonText } from "./file-snapshot.js";

/** The catalog file's name inside the data directory. */
export const CATALOG_FILE = "catalog.json";
/** The format this version writes (sealed with a `crc`). */
export const CATALOG_FORMAT = SEALED_FORMAT;
/** The format v0.1 wrote (no `crc`), still read. */
export const LEGACY_CATALOG_FORMAT = 1;

export interface CatalogColumn {
  name: string;
  type: LogicalType;
  nullable: boolean;
  primary?: boolean;
  generated?: "uuid" | "increment";
  unique?: boolean;
  role?: ColumnRole;
  default?: unknown;
}

export interface CatalogIndex {
  name: string;
  columns: string[];
  unique: boolean;
}

export interface CatalogForeignKey {
  name: string;
  column: string;
  referencedTable: string;
  referencedColumn: string;
  onDelete: OnDelete;
}

/** A table's full-text index: its name and its string columns, by column name, in document order. */
export interface CatalogFullText {
  name: string;
  columns: string[];
}

export interface CatalogTable {
  file: string;
  columns: CatalogColumn[];
  indexes: CatalogIndex[];
  /** Absent when the table has none (and in catalogs written before relations). */
  foreignKeys?: CatalogForeignKey[];
  /** Absent when the table has none (and in catalogs written before full-text search). */
  fullText?: CatalogFullText;
}

const ON_DELETE: readonly unknown[] = ["RESTRICT", "CASCADE", "SET NULL"] satisfies OnDelete[];

export interface Catalog {
  format: number;
  seq: number;
  generation?: number;
  tables: Record<string, CatalogTable>;
}

/** The catalog entry describing an entity's table. */
export function catalogTableOf(schema: EntitySchema, file: string): CatalogTable {
  const nameOf = (property: string) => schema.columnsByProperty.get(property)?.name ?? property;
  return {
    file,
    columns: [schema.primary, ...schema.columns.filter((c) => c !== schema.primary)].map((c) => ({
      name: c.name,
      type: c.type,
      nullable: c.nullable,
      ...(c.primary ? { primary: true } : {}),
      ...(c.generated ? { generated: c.generated } : {}),
      ...(c.unique ? { unique: true } : {}),
      ...(c.role ? { role: c.role } : {}),
      ...(c.default !== undefined ? { default: c.default } : {}),
    })),
    indexes: schema.indexes.map((i) => ({ name: i.name, columns: i.properties.map(nameOf), unique: i.unique })),
    ...(schema.foreignKeys.length > 0
      ? {
          foreignKeys: schema.foreignKeys.map((f) => ({
            name: f.name,
            column: nameOf(f.property),
            referencedTable: f.referencedTable,
            referencedColumn: f.referencedColumn,
            onDelete: f.onDelete,
          })),
        }
      : {}),
    ...(schema.fullText ? { fullText: { name: schema.fullText.name, columns: schema.fullText.properties.map(nameOf) } } : {}),
  };
}

/**
 * The catalog's full-text index of a table as a schema's, its columns turned into `schema`'s properties
 * (undefined when the catalog has none).
 */
export function catalogFullText(schema: EntitySchema, entry: CatalogTable): FullTextSchema | undefined {
  if (!entry.fullText) return undefined;
  const propertyOf = new Map(schema.columns.map((c) => [c.name, c.property]));
  return { name: entry.fullText.name, properties: entry.fullText.columns.map((c) => propertyOf.get(c) ?? c) };
}

/** Why the stored columns do not fit the entity (missing, extra or retyped columns), or undefined when they do. */
export function catalogMismatch(schema: EntitySchema, entry: CatalogTable): string | undefined {
  const stored = new Map(entry.columns.map((c) => [c.name, c]));
  const problems: string[] = [];
  for (const c of schema.columns) {
    const s = stored.get(c.name);
    if (!s) problems.push(`column "${c.name}" is not stored`);
    else if (s.type !== c.type) problems.push(`column "${c.name}" is stored as ${s.type}, the entity says ${c.type}`);
    stored.delete(c.name);
  }
  for (const name of stored.keys()) problems.push(`stored column "${name}" is not in the entity`);
  const pk = entry.columns.find((c) => c.primary)?.name;
  if (pk !== undefined && pk !== schema.primary.name) problems.push(`the stored primary key is "${pk}", the entity's is "${schema.primary.name}"`);
  return problems.length ? problems.join("; ") : undefined;
}

/**
 * A schema for a stored table that no entity of this storage describes as stored (a table of another
 * program, or one whose entity changed and awaits a migration): its rows load and survive compaction,
 * with properties named as the columns. `target`: the class it stands for (default: a fresh class named `label`).
 */
export function schemaOfCatalogTable(table: string, entry: CatalogTable, label: string, target?: Function): EntitySchema {
  const columns: ColumnSchema[] = entry.columns.map((c) => ({
    property: c.name,
    name: c.name,
    type: c.type,
    nullable: c.nullable,
    unique: c.unique ?? false,
    primary: c.primary ?? false,
    ...(c.generated ? { generated: c.generated } : {}),
    ...(c.role ? { role: c.role } : {}),
    ...(c.default !== undefined ? { default: c.default } : {}),
  }));
  if (!columns.some((c) => c.primary)) throw new Error(`table "${table}" has no primary column`);
  const indexes: IndexSchema[] = entry.indexes.map((i) => ({ name: i.name, properties: i.columns, unique: i.unique }));
  const foreignKeys: ForeignKeySchema[] = (entry.foreignKeys ?? []).map((f) => ({
    name: f.name,
    property: f.column,
    referencedTable: f.referencedTable,
    referencedColumn: f.referencedColumn,
    onDelete: f.onDelete,
  }));
  const fullText = entry.fullText ? { fullText: { name: entry.fullText.name, properties: [...entry.fullText.columns] } } : {};
  return buildEntitySchema({ entityName: label, table, target: target ?? { [label]: class {} }[label]!, columns, indexes, foreignKeys, ...fullText });
}

/** The sealed text of `catalog` (which must not hold a `crc` member). */
export function catalogText(catalog: Catalog): string {
  return sealedJsonText(catalog);
}

/**
 * Checks the shape of a parsed catalog (`sealed`: its seal was present and matched); returns the problem,
 * or undefined when it is well formed. A sealed catalog must say format 2, an unsealed one must be v0.1's
 * format 1 with no `crc` member, so that no single damaged byte passes a sealed catalog off as unsealed.
 */
export function catalogProblem(value: unknown, sealed: boolean): string | undefined {
  if (typeof value !== "object" || value === null) return "expected an object";
  const c = value as Partial<Catalog> & { crc?: unknown };
  const expected = sealed ? CATALOG_FORMAT : LEGACY_CATALOG_FORMAT;
  if (c.format !== expected) {
    return sealed || c.format === CATALOG_FORMAT || Object.hasOwn(value, "crc")
      ? `format ${JSON.stringify(c.format)} with${sealed ? "" : "out"} a valid "crc" as the last member: the file was damaged or edited`
      : `unknown format ${JSON.stringify(c.format)} (this version of Strata reads formats ${LEGACY_CATALOG_FORMAT} and ${CATALOG_FORMAT})`;
  }
  const members = ["format", "seq", "tables", ...(c.generation !== undefined ? ["generation"] : []), ...(sealed ? ["crc"] : [])];
  if (!hasExactly(value, members)) return `expected exactly the members ${members.join(", ")}; the file was damaged or edited`;
  if (!Number.isSafeInteger(c.seq) || (c.seq as number) < 0) return `"seq" must be a non-negative integer`;
  if (c.generation !== undefined && (!Number.isSafeInteger(c.generation) || c.generation < 0)) return `"generation" must be a non-negative integer`;
  if (typeof c.tables !== "object" || c.tables === null) return `"tables" must be an object`;
  for (const [name, t] of Object.entries(c.tables)) {
    if (typeof t?.file !== "string" || !Array.isArray(t.columns) || !Array.isArray(t.indexes)) return `table "${name}": expected file, columns and indexes`;
    for (const col of t.columns) {
      if (typeof col?.name !== "string" || !isLogicalType(col.type) || typeof col.nullable !== "boolean") {
        return `table "${name}": column ${JSON.stringify(col?.name)} needs a name, a type (${LOGICAL_TYPES.join(", ")}) and nullable`;
      }
    }
    if (t.columns.filter((col) => col.primary).length !== 1) return `table "${name}": expected exactly one primary column`;
    if (t.foreignKeys !== undefined) {
      if (!Array.isArray(t.foreignKeys)) return `table "${name}": "foreignKeys" must be an array`;
      for (const fk of t.foreignKeys) {
        const named = (v: unknown) => typeof v === "string" && v !== "";
        if (!named(fk?.name) || !t.columns.some((col) => col.name === fk.column) || !named(fk.referencedTable) || !named(fk.referencedColumn) || !ON_DELETE.includes(fk.onDelete)) {
          return `table "${name}": foreign key ${JSON.stringify(fk?.name)} needs a name, one of its columns, a referencedTable, a referencedColumn and onDelete (${ON_DELETE.join(", ")})`;
        }
      }
    }
    if (t.fullText !== undefined) {
      const ft = t.fullText as Partial<CatalogFullText> | null;
      const strings = (c: string) => t.columns.some((col) => col.name === c && col.type === "string");
      if (typeof ft?.name !== "string" || ft.name === "" || !Array.isArray(ft.columns) || ft.columns.length === 0 || !ft.columns.every((c) => typeof c === "string" && strings(c))) {
        return `table "${name}": "fullText" needs a name and columns, each one of its string columns`;
      }
      // As the schema editor refuses it (createFullTextIndex): a column twice would count its words twice.
      const twice = ft.columns.find((c, i) => ft.columns!.indexOf(c) !== i);
      if (twice !== undefined) return `table "${name}": "fullText" names the column ${JSON.stringify(twice)} twice`;
    }
  }
  return undefined;
}
