/**
 * The engine of `storage.migrations.diff()` and `strata migrate generate`: the difference between the
 * entities and the introspected schema, as the statements of a migration file. Indexes are compared by
 * their columns and uniqueness, not by name, and only what the `m` API can express is compared, so that an
 * unchanged schema yields no difference at all (TypeORM's spurious diffs, #9394, come from comparing
 * dialect details).
 */
import type { SchemaEditor, TableColumn, TableDescription, TableIndex } from "../spi/index.js";
import { MIGRATIONS_TABLE } from "./applied-migration-store.js";
import type { EntitySchema } from "../schema/entity-schema.js";
import { describeSchema } from "../schema/table-schema.js";
import { impliedUniqueIndexName } from "../schema/entity-schema.js";

/** The statements of a generated migration; both lists are empty when nothing differs. */
export interface SchemaDiff {
  readonly up: string[];
  readonly down: string[];
  /** Differences the `m` API cannot express (a changed column type...): the user writes those by hand. */
  readonly warnings: string[];
}

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

const sameIndex = (a: TableIndex, b: TableIndex) => a.unique === b.unique && a.columns.join("\0") === b.columns.join("\0");

/** The indexes a table description implies, one-column unique constraints included. */
function indexesOf(table: TableDescription): TableIndex[] {
  const out = [...table.indexes];
  for (const c of table.columns) {
    const implied = { name: impliedUniqueIndexName(table.name, [c.name]), columns: [c.name], unique: true };
    if (c.unique && !c.primary && !out.some((i) => sameIndex(i, implied))) out.push(implied);
  }
  return out;
}

/** Compares each entity with its table as `editor` describes it. Tables no entity declares are left alone. */
export async function diffSchema(schemas: readonly EntitySchema[], editor: SchemaEditor): Promise<SchemaDiff> {
  const up: string[] = [];
  const down: string[] = [];
  const warnings: string[] = [];
  for (const schema of [...schemas].sort((a, b) => a.table.localeCompare(b.table))) {
    if (schema.table === MIGRATIONS_TABLE) continue;
    const wanted = describeSchema(schema);
    const wantedIndexes = indexesOf(wanted);
    const actual = await editor.describeTable(schema.table);
    const t = JSON.stringify(schema.table);
    if (!actual) {
      // The primary key first, then the columns as the entity reader lists them.
      const ordered = [...wanted.columns.filter((c) => c.primary), ...wanted.columns.filter((c) => !c.primary)];
      const columns = ordered.map((c) => `      ${JSON.stringify(c.name)}: ${literal(columnSpec(c, false))},`).join("\n");
      const indexes = wantedIndexes.map((i) => `      ${literal({ columns: i.columns, ...(i.unique ? { unique: true } : {}), name: i.name })},`).join("\n");
      up.push(`await m.createTable(${t}, {\n${columns}\n    }${indexes.length ? `, {\n      indexes: [\n${indexes.replace(/^/gm, "  ")}\n      ],\n    }` : ""});`);
      down.unshift(`await m.dropTable(${t});`);
      continue;
    }
    const have = new Map(actual.columns.map((c) => [c.name, c]));
    for (const column of wanted.columns) {
      const existing = have.get(column.name);
      if (!existing) {
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
      up.push(`await m.dropColumn(${t}, ${JSON.stringify(column.name)});`);
      down.unshift(`await m.addColumn(${t}, ${JSON.stringify(column.name)}, ${literal(columnSpec(column, true))});`);
    }
    const actualIndexes = indexesOf(actual);
    for (const index of wantedIndexes) {
      if (actualIndexes.some((i) => sameIndex(i, index))) continue;
      up.push(`await m.createIndex(${t}, ${literal(index.columns)}, ${literal({ ...(index.unique ? { unique: true } : {}), name: index.name })});`);
      down.unshift(`await m.dropIndex(${t}, ${JSON.stringify(index.name)});`);
    }
    for (const index of actualIndexes) {
      if (wantedIndexes.some((i) => sameIndex(i, index))) continue;
      // A unique column constraint is not an index m.dropIndex can drop by itself: leave it to the user.
      if (index.columns.length === 1 && have.get(index.columns[0]!)?.unique && !declared.has(index.columns[0]!)) continue;
      up.push(`await m.dropIndex(${t}, ${JSON.stringify(index.name)});`);
      down.unshift(`await m.createIndex(${t}, ${literal(index.columns)}, ${literal({ ...(index.unique ? { unique: true } : {}), name: index.name })});`);
    }
  }
  return { up, down, warnings };
}
