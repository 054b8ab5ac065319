/**
 * The engine of `storage.migrations.diff()` and `strata migrate generate`: the difference between the
 * entities and the introspected schema, as the statements of a migration file. Indexes are compared by
 * their columns and uniqueness, not by name, and only what the `m` API can express is compared, so that an
 * unchanged schema yields no difference at all (TypeORM's spurious diffs, #9394, come from comparing
 * dialect details). Foreign keys likewise, by column, referenced table and key, and onDelete: new tables
 * are created parents first (a foreign key into a table created later, a cycle, is added after both), a
 * foreign key is dropped before anything else changes and added after everything it needs exists. A
 * table's full-text index is compared by its columns in order (not its name): a changed one is dropped
 * before the table's columns change and made again after.
 */
import type { SchemaEditor, TableColumn, TableDescription, TableForeignKey, TableIndex } from "../spi/index.js";
import { MIGRATIONS_TABLE } from "./applied-migration-store.js";
import type { EntitySchema, FullTextSchema, LogicalType } from "../schema/entity-schema.js";
import { describeSchema } from "../schema/table-schema.js";
import { impliedUniqueIndexName } from "../schema/entity-schema.js";

/** The statements of a generated migration; both lists are empty when nothing differs. */
export interface SchemaDiff {
  readonly up: string[];
  readonly down: string[];
  /** Differences the `m` API cannot express (a changed column type...): the user writes those by hand. */
  readonly warnings: string[];
}

/** A column the generated `up` drops: its values are lost unless a rename was meant. */
export interface DroppedColumn {
  readonly table: string;
  readonly column: string;
}

/** What `strata migrate generate` needs besides the statements: each change in words, and the columns dropped. */
export interface DetailedSchemaDiff extends SchemaDiff {
  /** One line per change of `up`, in its order, e.g. `add column tasks.viewCount (integer)`. */
  readonly changes: string[];
  readonly dropped: DroppedColumn[];
}

/** Where {@link diffSchema} reads the current tables: a schema editor, or a snapshot of one. */
export type TableSource = Pick<SchemaEditor, "describeTable">;

/** A JavaScript literal for a value (JSON, with Dates as `new Date(...)`). */
function literal(value: unknown): string {
  if (value instanceof Date) return `new Date(${JSON.stringify(value.toISOString())})`;
  if (Array.isArray(value)) return `[${value.map(literal).join(", ")}]`;
  if (value !== null && typeof value === "object") {
    return `{ ${Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k)}: ${literal(v)}`)
      .join(", ")} }`;
  }
  return JSON.stringify(value);
}

function columnSpec(column: TableColumn, forAdd: boolean, schema?: EntitySchema): Record<string, unknown> {
  const spec: Record<string, unknown> = { type: column.type };
  if (column.primary) spec["primary"] = true;
  if (column.generated) spec["generated"] = column.generated;
  if (column.nullable) spec["nullable"] = true;
  let fallback = column.default;
  // Existing rows need a value for a non-nullable column added later: the entity's special columns get one.
  if (forAdd && fallback === undefined && !column.nullable && schema) {
    const role = schema.columns.find((c) => c.name === column.name)?.role;
    if (role === "version") fallback = 1;
    else if (role === "createDate" || role === "updateDate") fallback = new Date(0);
  }
  if (fallback !== undefined) spec["default"] = fallback;
  return spec;
}

/** A value of each logical type, for the rows a non-nullable column comes back to in a generated `down`. */
const EMPTY_VALUES: Readonly<Record<LogicalType, unknown>> = { string: "", integer: 0, number: 0, boolean: false, datetime: new Date(0), json: {} };

/** Indexes are compared by their columns, in order, and uniqueness: never by name. */
export const sameIndex = (a: TableIndex, b: TableIndex) => a.unique === b.unique && a.columns.join("\0") === b.columns.join("\0");

const sameForeignKey = (a: TableForeignKey, b: TableForeignKey) =>
  a.column === b.column && a.referencedTable === b.referencedTable && a.referencedColumn === b.referencedColumn && a.onDelete === b.onDelete;

/** The `m.createTable` option of a foreign key. */
function foreignKeySpec(fk: TableForeignKey): Record<string, unknown> {
  return { column: fk.column, references: { table: fk.referencedTable, column: fk.referencedColumn }, onDelete: fk.onDelete, name: fk.name };
}

/** `m.addForeignKey(...)` of `fk` on `table`. */
function addForeignKey(table: string, fk: TableForeignKey): string {
  return `await m.addForeignKey(${JSON.stringify(table)}, ${JSON.stringify(fk.column)}, ${literal({ table: fk.referencedTable, column: fk.referencedColumn })}, ${literal({ onDelete: fk.onDelete, name: fk.name })});`;
}

/** `m.createFullTextIndex(...)` of `index` (its `properties` are column names) on `table`. */
function createFullTextIndex(table: string, index: FullTextSchema): string {
  return `await m.createFullTextIndex(${JSON.stringify(table)}, ${literal(index.properties)}, ${JSON.stringify(index.name)});`;
}

function dropFullTextIndex(table: string, index: FullTextSchema): string {
  return `await m.dropFullTextIndex(${JSON.stringify(table)}, ${JSON.stringify(index.name)});`;
}

/** Full-text indexes are compared by their columns and their order (the document's), not by name, as indexes are. */
const sameFullText = (a: FullTextSchema | undefined, b: FullTextSchema | undefined) =>
  a === undefined || b === undefined ? a === b : a.properties.join("\0") === b.properties.join("\0");

function dropForeignKey(table: string, fk: TableForeignKey): string {
  return `await m.dropForeignKey(${JSON.stringify(table)}, ${JSON.stringify(fk.name)});`;
}

/** `schemas` sorted by table, then each after the tables its foreign keys reference (a cycle keeps the sorted order). */
function parentsFirst(schemas: readonly EntitySchema[]): EntitySchema[] {
  const sorted = [...schemas].sort((a, b) => a.table.localeCompare(b.table));
  const byTable = new Map(sorted.map((s) => [s.table, s]));
  const out: EntitySchema[] = [];
  const seen = new Set<string>();
  const visit = (schema: EntitySchema): void => {
    if (seen.has(schema.table)) return;
    seen.add(schema.table);
    for (const fk of schema.foreignKeys) {
      const parent = byTable.get(fk.referencedTable);
      if (parent) visit(parent);
    }
    out.push(schema);
  };
  for (const schema of sorted) visit(schema);
  return out;
}

/** The indexes a table description implies, one-column unique constraints included. */
export function indexesOf(table: TableDescription): TableIndex[] {
  const out = [...table.indexes];
  for (const c of table.columns) {
    const implied = { name: impliedUniqueIndexName(table.name, [c.name]), columns: [c.name], unique: true };
    if (c.unique && !c.primary && !out.some((i) => sameIndex(i, implied))) out.push(implied);
  }
  return out;
}

/** Compares each entity with its table as `editor` describes it. Tables no entity declares are left alone. */
export async function diffSchema(schemas: readonly EntitySchema[], editor: TableSource): Promise<SchemaDiff> {
  const { up, down, warnings } = await detailedDiffSchema(schemas, editor);
  return { up, down, warnings };
}

/** {@link diffSchema}, with each change in words and the columns dropped (for `strata migrate generate`). */
export async function detailedDiffSchema(schemas: readonly EntitySchema[], editor: TableSource): Promise<DetailedSchemaDiff> {
  const up: string[] = [];
  const down: string[] = [];
  const warnings: string[] = [];
  const changes: string[] = [];
  const dropped: DroppedColumn[] = [];
  // The words of the foreign keys dropped first and added last, in the order of their statements.
  const changesFirst: string[] = [];
  const changesLast: string[] = [];
  // Foreign keys dropped run before every other change (and come back last in down); those added run after
  // every other change (and go first in down), once the tables and columns they need exist.
  const upFirst: string[] = [];
  const downLast: string[] = [];
  const upLast: string[] = [];
  const downFirst: string[] = [];
  const known = new Set<string>();
  const wantedTables = new Set(schemas.map((s) => s.table));
  for (const schema of parentsFirst(schemas)) {
    if (schema.table === MIGRATIONS_TABLE) continue;
    const wanted = describeSchema(schema);
    const wantedIndexes = indexesOf(wanted);
    const wantedForeignKeys = wanted.foreignKeys ?? [];
    const actual = await editor.describeTable(schema.table);
    const t = JSON.stringify(schema.table);
    known.add(schema.table);
    if (!actual) {
      // The primary key first, then the columns as the entity reader lists them.
      const ordered = [...wanted.columns.filter((c) => c.primary), ...wanted.columns.filter((c) => !c.primary)];
      const columns = ordered.map((c) => `      ${JSON.stringify(c.name)}: ${literal(columnSpec(c, false))},`).join("\n");
      const indexes = wantedIndexes.map((i) => `      ${literal({ columns: i.columns, ...(i.unique ? { unique: true } : {}), name: i.name })},`).join("\n");
      // A foreign key into a table this migration creates later (a cycle) is added once both exist.
      const later = (fk: TableForeignKey) => fk.referencedTable !== schema.table && wantedTables.has(fk.referencedTable) && !known.has(fk.referencedTable);
      const foreignKeys = wantedForeignKeys.filter((fk) => !later(fk)).map((fk) => `      ${literal(foreignKeySpec(fk))},`).join("\n");
      const options = [
        ...(indexes.length ? [`      indexes: [\n${indexes.replace(/^/gm, "  ")}\n      ],`] : []),
        ...(foreignKeys.length ? [`      foreignKeys: [\n${foreignKeys.replace(/^/gm, "  ")}\n      ],`] : []),
      ];
      changes.push(`create table ${schema.table} (${ordered.length} column${ordered.length === 1 ? "" : "s"})`);
      up.push(`await m.createTable(${t}, {\n${columns}\n    }${options.length ? `, {\n${options.join("\n")}\n    }` : ""});`);
      down.unshift(`await m.dropTable(${t});`);
      if (wanted.fullText) {
        // Dropping the table drops its full-text index: down needs nothing more.
        changes.push(`create full-text index ${wanted.fullText.name} on ${schema.table} (${wanted.fullText.properties.join(", ")})`);
        up.push(createFullTextIndex(schema.table, wanted.fullText));
      }
      for (const fk of wantedForeignKeys.filter(later)) {
        changesLast.push(`add foreign key ${schema.table}.${fk.column} -> ${fk.referencedTable}`);
        upLast.push(addForeignKey(schema.table, fk));
        downFirst.unshift(dropForeignKey(schema.table, fk));
      }
      continue;
    }
    const actualForeignKeys = actual.foreignKeys ?? [];
    for (const fk of actualForeignKeys) {
      if (wantedForeignKeys.some((w) => sameForeignKey(w, fk))) continue;
      changesFirst.push(`drop foreign key ${schema.table}.${fk.name}`);
      upFirst.push(dropForeignKey(schema.table, fk));
      downLast.unshift(addForeignKey(schema.table, fk));
    }
    for (const fk of wantedForeignKeys) {
      if (actualForeignKeys.some((a) => sameForeignKey(a, fk))) continue;
      changesLast.push(`add foreign key ${schema.table}.${fk.column} -> ${fk.referencedTable}`);
      upLast.push(addForeignKey(schema.table, fk));
      downFirst.unshift(dropForeignKey(schema.table, fk));
    }
    // A full-text index that changes is dropped before the columns change (one of its columns may go) and
    // made again after (one of its columns may be new); down does the reverse.
    const fullTextChanged = !sameFullText(wanted.fullText, actual.fullText);
    if (fullTextChanged && actual.fullText) {
      changes.push(`drop full-text index ${actual.fullText.name} of ${schema.table}`);
      up.push(dropFullTextIndex(schema.table, actual.fullText));
      down.unshift(createFullTextIndex(schema.table, actual.fullText));
    }
    const have = new Map(actual.columns.map((c) => [c.name, c]));
    for (const column of wanted.columns) {
      const existing = have.get(column.name);
      if (!existing) {
        changes.push(`add column ${schema.table}.${column.name} (${column.type}${column.nullable ? ", nullable" : ""})`);
        up.push(`await m.addColumn(${t}, ${JSON.stringify(column.name)}, ${literal(columnSpec(column, true, schema))});`);
        down.unshift(`await m.dropColumn(${t}, ${JSON.stringify(column.name)});`);
      } else if (existing.type !== column.type) {
        warnings.push(`Column "${column.name}" of table "${schema.table}" holds ${existing.type} values but ${schema.entityName} declares ${column.type}: write that change by hand (add a column, copy with updateRows, drop the old one)`);
      } else if (existing.nullable !== column.nullable && !column.primary) {
        warnings.push(`Column "${column.name}" of table "${schema.table}" is ${existing.nullable ? "" : "not "}nullable but ${schema.entityName} declares it ${column.nullable ? "" : "not "}nullable: write that change by hand`);
      }
    }
    const declared = new Set(wanted.columns.map((c) => c.name));
    for (const column of actual.columns) {
      if (declared.has(column.name)) continue;
      changes.push(`drop column ${schema.table}.${column.name} (${column.type})`);
      dropped.push({ table: schema.table, column: column.name });
      up.push(`await m.dropColumn(${t}, ${JSON.stringify(column.name)});`);
      // Its values are gone: down brings the column back, and a non-nullable one needs a value for the rows there.
      const restored = column.nullable || column.default !== undefined ? column : { ...column, default: EMPTY_VALUES[column.type] };
      down.unshift(`await m.addColumn(${t}, ${JSON.stringify(column.name)}, ${literal(columnSpec(restored, true))});`);
    }
    const actualIndexes = indexesOf(actual);
    for (const index of wantedIndexes) {
      if (actualIndexes.some((i) => sameIndex(i, index))) continue;
      changes.push(`create ${index.unique ? "unique " : ""}index ${index.name} on ${schema.table} (${index.columns.join(", ")})`);
      up.push(`await m.createIndex(${t}, ${literal(index.columns)}, ${literal({ ...(index.unique ? { unique: true } : {}), name: index.name })});`);
      down.unshift(`await m.dropIndex(${t}, ${JSON.stringify(index.name)});`);
    }
    for (const index of actualIndexes) {
      if (wantedIndexes.some((i) => sameIndex(i, index))) continue;
      // A unique column constraint is not an index m.dropIndex can drop by itself: leave it to the user.
      if (index.columns.length === 1 && have.get(index.columns[0]!)?.unique && !declared.has(index.columns[0]!)) continue;
      changes.push(`drop index ${index.name} of ${schema.table}`);
      up.push(`await m.dropIndex(${t}, ${JSON.stringify(index.name)});`);
      down.unshift(`await m.createIndex(${t}, ${literal(index.columns)}, ${literal({ ...(index.unique ? { unique: true } : {}), name: index.name })});`);
    }
    if (fullTextChanged && wanted.fullText) {
      changes.push(`create full-text index ${wanted.fullText.name} on ${schema.table} (${wanted.fullText.properties.join(", ")})`);
      up.push(createFullTextIndex(schema.table, wanted.fullText));
      down.unshift(dropFullTextIndex(schema.table, wanted.fullText));
    }
  }
  return { up: [...upFirst, ...up, ...upLast], down: [...downFirst, ...down, ...downLast], warnings, changes: [...changesFirst, ...changes, ...changesLast], dropped };
}
