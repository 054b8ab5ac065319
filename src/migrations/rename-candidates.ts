/**
 * Renames for `strata migrate generate`. A diff alone sees a renamed column as one dropped and one added,
 * and a migration written so loses the column's values; here a dropped column and an added one of the same
 * type in the same table are a rename candidate (a dropped table and an added one with the same columns
 * too), which the command asks about or takes from `--rename`. A rename is applied to the baseline before
 * the diff, so the diff no longer sees a drop and an add, and becomes `m.renameColumn` / `m.renameTable`.
 */
import { MigrationError } from "../errors.js";
import type { EntitySchema } from "../schema/entity-schema.js";
import { impliedUniqueIndexName } from "../schema/entity-schema.js";
import { describeSchema } from "../schema/table-schema.js";
import type { TableColumn, TableIndex } from "../spi/index.js";
import { indexesOf, sameIndex } from "./diff-schema.js";
import { renameColumnIn, renameTableIn } from "./schema-snapshot.js";
import type { SchemaSnapshot } from "./schema-snapshot.js";

/** A column renamed in `table` (the table's name once table renames are made). */
export interface ColumnRename {
  readonly kind: "column";
  readonly table: string;
  readonly from: string;
  readonly to: string;
}

/** A table renamed. */
export interface TableRename {
  readonly kind: "table";
  readonly from: string;
  readonly to: string;
}

/** A rename `generate` writes as `m.renameColumn` or `m.renameTable` instead of a drop and an add. */
export type Rename = ColumnRename | TableRename;

/** A likely rename; `ambiguous` when its old or new side has another candidate too. */
export interface RenameCandidate {
  readonly rename: Rename;
  readonly ambiguous: boolean;
  /** The column type, for a column rename. */
  readonly type?: string;
}

/** `tasks.views` or `tasks` for the old side, `tasks.viewCount` or `todos` for the new side. */
export function renameLabel(rename: Rename): { from: string; to: string } {
  return rename.kind === "column" ? { from: `${rename.table}.${rename.from}`, to: `${rename.table}.${rename.to}` } : { from: rename.from, to: rename.to };
}

/** The `--rename` value that makes `rename`: `tasks.views:viewCount`, `tasks:todos`. */
export function renameFlag(rename: Rename): string {
  return rename.kind === "column" ? `${rename.table}.${rename.from}:${rename.to}` : `${rename.from}:${rename.to}`;
}

/** Pairs of (old, new) with `ambiguous` set where either side is in another pair. */
function pairs<T extends Rename>(found: { rename: T; type?: string }[], oldOf: (r: T) => string, newOf: (r: T) => string): RenameCandidate[] {
  const count = (key: (r: T) => string, value: string) => found.filter((f) => key(f.rename) === value).length;
  return found.map((f) => ({ ...f, ambiguous: count(oldOf, oldOf(f.rename)) > 1 || count(newOf, newOf(f.rename)) > 1 }));
}

const columnKey = (c: TableColumn) => `${c.name}:${c.type}`;

/**
 * Table rename candidates: a table of the baseline no entity declares, and an entity's table the baseline
 * lacks, with the same columns (names and types).
 */
export function tableRenameCandidates(schemas: readonly EntitySchema[], baseline: SchemaSnapshot): RenameCandidate[] {
  const declared = new Set(schemas.map((s) => s.table));
  const gone = [...baseline.values()].filter((t) => !declared.has(t.name));
  const found: { rename: TableRename }[] = [];
  for (const schema of schemas) {
    if (baseline.has(schema.table)) continue;
    const wanted = describeSchema(schema).columns.map(columnKey).sort().join(",");
    for (const old of gone) if (old.columns.map(columnKey).sort().join(",") === wanted) found.push({ rename: { kind: "table", from: old.name, to: schema.table } });
  }
  return pairs(found, (r) => r.from, (r) => r.to);
}

/** Column rename candidates: in an entity's table, a column dropped and a column added of the same type. */
export function columnRenameCandidates(schemas: readonly EntitySchema[], baseline: SchemaSnapshot): RenameCandidate[] {
  const out: RenameCandidate[] = [];
  for (const schema of [...schemas].sort((a, b) => a.table.localeCompare(b.table))) {
    const actual = baseline.get(schema.table);
    if (!actual) continue;
    const wanted = describeSchema(schema).columns;
    const dropped = actual.columns.filter((c) => !c.primary && !wanted.some((w) => w.name === c.name));
    const added = wanted.filter((w) => !w.primary && !actual.columns.some((c) => c.name === w.name));
    const found: { rename: ColumnRename; type: string }[] = [];
    for (const d of dropped) for (const a of added) if (a.type === d.type) found.push({ rename: { kind: "column", table: schema.table, from: d.name, to: a.name }, type: a.type });
    out.push(...pairs(found, (r) => r.from, (r) => r.to));
  }
  return out;
}

/**
 * Checks a rename given with `--rename` against the entities and the baseline: a {@link MigrationError}
 * naming the table or column that does not fit.
 */
export function checkRename(rename: Rename, schemas: readonly EntitySchema[], baseline: SchemaSnapshot): void {
  const flag = `--rename ${renameFlag(rename)}`;
  if (rename.kind === "table") {
    if (!baseline.has(rename.from)) throw new MigrationError(`${flag}: the migrations create no table "${rename.from}"`, { table: rename.from });
    if (!schemas.some((s) => s.table === rename.to)) throw new MigrationError(`${flag}: no entity maps a table "${rename.to}"`, { table: rename.to });
    if (baseline.has(rename.to)) throw new MigrationError(`${flag}: table "${rename.to}" exists already`, { table: rename.to });
    if (schemas.some((s) => s.table === rename.from)) throw new MigrationError(`${flag}: an entity still maps table "${rename.from}"`, { table: rename.from });
    return;
  }
  const schema = schemas.find((s) => s.table === rename.table);
  const table = baseline.get(rename.table);
  if (!schema) throw new MigrationError(`${flag}: no entity maps a table "${rename.table}"`, { table: rename.table });
  if (!table) throw new MigrationError(`${flag}: the migrations create no table "${rename.table}"`, { table: rename.table });
  const wanted = describeSchema(schema).columns;
  const old = table.columns.find((c) => c.name === rename.from);
  if (!old) throw new MigrationError(`${flag}: table "${rename.table}" has no column "${rename.from}"`, { table: rename.table, field: rename.from });
  const target = wanted.find((c) => c.name === rename.to);
  if (!target) throw new MigrationError(`${flag}: entity ${schema.entityName} declares no column "${rename.to}"`, { table: rename.table, field: rename.to });
  if (table.columns.some((c) => c.name === rename.to)) throw new MigrationError(`${flag}: table "${rename.table}" has a column "${rename.to}" already`, { table: rename.table, field: rename.to });
  if (wanted.some((c) => c.name === rename.from)) throw new MigrationError(`${flag}: entity ${schema.entityName} still declares column "${rename.from}"`, { table: rename.table, field: rename.from });
  if (old.type !== target.type) {
    throw new MigrationError(`${flag}: column "${rename.from}" holds ${old.type} values but ${schema.entityName}.${rename.to} is ${target.type}: a rename keeps the type; write that change by hand`, {
      table: rename.table,
      field: rename.from,
    });
  }
}

/** An index a rename leaves named after the old names: `index` (renamed columns, old name) gets name `to`. */
export interface StaleIndex {
  readonly table: string;
  readonly index: TableIndex;
  readonly to: string;
}

/**
 * The prefix of `name` when it is a name Strata gives an index of `table` on `columns` by default:
 * `idx_tasks_views` (an `@Index`, unique or not, a migration's index), `uq_tasks_slug` (a unique column).
 */
function defaultIndexPrefix(name: string, table: string, columns: readonly string[]): "idx" | "uq" | undefined {
  if (name === `idx_${table}_${columns.join("_")}`) return "idx";
  return name === impliedUniqueIndexName(table, columns) ? "uq" : undefined;
}

/**
 * `baseline` with `rename` made, and the indexes it leaves with a default name made of the old names. Those
 * get the name the entity gives them (else the default of the new names): left as they are, the old name is
 * taken, and a later migration adding a column or table of the old name, with its index, could not apply.
 */
export function applyRename(baseline: SchemaSnapshot, rename: Rename, schemas: readonly EntitySchema[]): { baseline: SchemaSnapshot; staleIndexes: StaleIndex[] } {
  const oldTable = rename.kind === "column" ? rename.table : rename.from;
  const table = rename.kind === "column" ? rename.table : rename.to;
  const renamed = rename.kind === "column" ? renameColumnIn(baseline, rename.table, rename.from, rename.to) : renameTableIn(baseline, rename.from, rename.to);
  const before = baseline.get(oldTable);
  const after = renamed.get(table);
  if (!before || !after) return { baseline: renamed, staleIndexes: [] };
  const schema = schemas.find((s) => s.table === table);
  const wantedIndexes = schema ? indexesOf(describeSchema(schema)) : [];
  const stale: StaleIndex[] = [];
  const indexes = after.indexes.map((index, i) => {
    const old = before.indexes[i]!;
    const prefix = defaultIndexPrefix(old.name, oldTable, old.columns);
    if (!prefix) return index;
    const same = wantedIndexes.find((w) => sameIndex(w, index));
    const to = same?.name ?? `${prefix}_${table}_${index.columns.join("_")}`;
    if (to === index.name) return index;
    stale.push({ table, index, to });
    return { ...index, name: to };
  });
  if (stale.length === 0) return { baseline: renamed, staleIndexes: [] };
  return { baseline: new Map(renamed).set(table, { ...after, indexes }), staleIndexes: stale };
}

/** `m.createIndex` of `index` on `table` under `name`. */
function createIndex(table: string, index: TableIndex, name: string): string {
  const q = JSON.stringify;
  return `await m.createIndex(${q(table)}, ${q(index.columns)}, { ${index.unique ? "unique: true, " : ""}name: ${q(name)} });`;
}

/**
 * The `up` and `down` statements and the words of `rename`; the indexes it leaves named after the old names
 * are dropped and created again under their new name (no `m` operation renames an index).
 */
export function renameStatements(rename: Rename, staleIndexes: readonly StaleIndex[] = []): { up: string[]; down: string[]; change: string } {
  const q = JSON.stringify;
  const { from, to } = renameLabel(rename);
  const indexesUp = staleIndexes.flatMap((s) => [`await m.dropIndex(${q(s.table)}, ${q(s.index.name)});`, createIndex(s.table, s.index, s.to)]);
  const indexesDown = [...staleIndexes].reverse().flatMap((s) => [`await m.dropIndex(${q(s.table)}, ${q(s.to)});`, createIndex(s.table, s.index, s.index.name)]);
  const names = staleIndexes.length > 0 ? ` (index${staleIndexes.length === 1 ? "" : "es"} ${staleIndexes.map((s) => `${s.index.name} renamed ${s.to}`).join(", ")})` : "";
  if (rename.kind === "table") {
    return {
      up: [`await m.renameTable(${q(rename.from)}, ${q(rename.to)});`, ...indexesUp],
      down: [...indexesDown, `await m.renameTable(${q(rename.to)}, ${q(rename.from)});`],
      change: `rename table ${from} to ${to}${names}`,
    };
  }
  return {
    up: [`await m.renameColumn(${q(rename.table)}, ${q(rename.from)}, ${q(rename.to)});`, ...indexesUp],
    down: [...indexesDown, `await m.renameColumn(${q(rename.table)}, ${q(rename.to)}, ${q(rename.from)});`],
    change: `rename column ${from} to ${to}${names}`,
  };
}
