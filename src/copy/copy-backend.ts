/**
 * The copier behind `strata copy`, `copyStorage` and the memory backend's backup: every table of one
 * backend (the migration history included) into another, in batches, then verified table by table (row
 * count and a checksum of the rows in key order). The path from the embedded default to a server:
 * `file:` to `sqlite:` to `postgres:`.
 */
import { createHash } from "node:crypto";
import type { Backend, DataSession, Key, SchemaEditor, TableDescription, TableForeignKey } from "../spi/index.js";
import { ConfigError, IntegrityError, MigrationError, StorageError, UnsupportedError } from "../errors.js";
import { quoteIdentifier } from "../backends/sql/sql-dialect.js";
import { describeValue } from "../schema/row-values.js";
import type { NormalizedWhere } from "../query/query.js";
import type { EntitySchema, Row } from "../schema/entity-schema.js";
import { schemaOfTable } from "../schema/table-schema.js";
import { editorOf } from "../migrations/applied-migration-store.js";
import { LOCK_TABLE } from "../migrations/row-migration-lock.js";

/** Options of {@link copyBackend} (and `copyStorage`). */
export interface CopyOptions {
  /** Copy into a target that already has tables: those the source also has are dropped first. @default false */
  force?: boolean;
  /** Rows per batch (and per target transaction): a positive integer. @default 500 */
  batchSize?: number;
  /** Hears of each batch copied. */
  onProgress?: (progress: { table: string; copied: number; total: number }) => void;
}

/** What was copied, per table. */
export interface CopiedTable {
  readonly table: string;
  readonly rows: number;
  /** sha256 of the table's rows in key order, equal on both sides. */
  readonly checksum: string;
}

async function withEditor<T>(backend: Backend, fn: (editor: SchemaEditor) => Promise<T>, commit = false): Promise<T> {
  const tx = await backend.begin();
  let ended = false;
  try {
    const result = await fn(editorOf(backend, tx));
    if (commit) {
      ended = true;
      await tx.commit();
    }
    return result;
  } finally {
    if (!ended) await tx.rollback();
  }
}

/** Reads a table's rows in key order, a page at a time. */
async function* pages(session: DataSession, schema: EntitySchema, size: number): AsyncGenerator<Row[]> {
  const pk = schema.primary;
  let last: Key | undefined;
  for (;;) {
    const where: NormalizedWhere = last === undefined ? [[]] : [[{ column: pk, op: "gt", value: last }]];
    const page = await session.find(schema, { where, orderBy: [{ column: pk, direction: "asc" }], limit: size, offset: 0 });
    if (page.length > 0) yield page;
    if (page.length < size) return;
    last = page[page.length - 1]![pk.property] as Key;
  }
}

function canonical(value: unknown): unknown {
  if (value instanceof Date) return { $date: value.getTime() };
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]));
  }
  return value;
}

/** Row count and checksum of a table, reading it in key order. */
async function fingerprint(session: DataSession, schema: EntitySchema, size: number): Promise<{ rows: number; checksum: string }> {
  const hash = createHash("sha256");
  let rows = 0;
  for await (const page of pages(session, schema, size)) {
    for (const row of page) {
      const picked: Row = {};
      for (const c of schema.columns) picked[c.name] = row[c.property] ?? null;
      hash.update(JSON.stringify(canonical(picked)));
      hash.update("\n");
      rows++;
    }
  }
  return { rows, checksum: hash.digest("hex") };
}

/**
 * The backend-level copy behind `copyStorage` and `backupToDirectory`: every table of `source`, read in
 * one transaction, into `target`, verified table by table. Refuses (a `MigrationError`) when the target
 * already has tables, unless `force`. `replacing` hears of the target's tables just before they are
 * dropped and created: from then on, even if the copy fails, what a cache held of them is stale.
 */
export async function copyBackend(
  source: Backend,
  target: Backend,
  options: CopyOptions = {},
  targetLabel = target.name,
  replacing?: (tables: readonly string[]) => void,
): Promise<CopiedTable[]> {
  const size = batchSizeOf(options);
  // The source is read in one transaction: a consistent state, and tables seen by column name (the
  // schema editor's view) even where an entity renames its columns.
  const reading = await source.begin();
  try {
    const editor = editorOf(source, reading);
    const tables: TableDescription[] = [];
    for (const name of await editor.listTables()) {
      // The lock row belongs to the source's runners, not to its data.
      if (name === LOCK_TABLE) continue;
      const description = await editor.describeTable(name);
      if (description) tables.push(description);
    }
    // Rows naming a missing parent (a SQLite file written without PRAGMA foreign_keys) would fail the copy at its
    // last step, the foreign keys added once every row is in: found first, the target is never touched.
    const orphans = await findOrphans(reading, editor, tables, size);
    if (orphans.length > 0) throw orphanError(orphans);
    const searchable = tables.find((table) => table.fullText !== undefined);
    if (searchable) {
      // Checked before the target is touched: a copy never drops a search the source answers.
      const supported = await withEditor(target, async (e) => e.createFullTextIndex !== undefined);
      if (!supported) {
        throw new UnsupportedError(`Table "${searchable.name}" has a full-text index ("${searchable.fullText!.name}"), which the target (${targetLabel}) cannot hold: it has no full-text search`);
      }
    }
    const existing = await withEditor(target, (e) => e.listTables());
    if (existing.length > 0 && !options.force) {
      throw new MigrationError(`The target (${targetLabel}) is not empty: it has the tables ${existing.join(", ")}. Copy into an empty database, or pass --force to replace the tables the source also has`);
    }
    replacing?.(tables.map((table) => table.name));
    await withEditor(
      target,
      async (e) => {
        // The replaced tables' foreign keys go first, so that no replaced table is referenced when it is dropped.
        for (const table of tables) {
          if (!existing.includes(table.name)) continue;
          for (const fk of (await e.describeTable(table.name))?.foreignKeys ?? []) await e.dropForeignKey(table.name, fk.name);
        }
        for (const table of tables) {
          if (existing.includes(table.name)) await e.dropTable(table.name);
          // Foreign keys are added once every row is in: tables and rows then go in any order (a child
          // table before its parent, a self-referencing row before the row it names, a cycle). A full-text
          // index too: built once over the copied rows, not row by row as they go in.
          await e.createTable({ ...withoutFullText(table), foreignKeys: [] });
        }
      },
      true,
    );
    const out: CopiedTable[] = [];
    for (const table of tables) out.push(await copyTable(table, reading, target, size, options));
    await withEditor(
      target,
      async (e) => {
        for (const table of tables) for (const fk of table.foreignKeys ?? []) await e.addForeignKey(table.name, fk);
        for (const table of tables) if (table.fullText) await e.createFullTextIndex!(table.name, table.fullText);
      },
      true,
    );
    return out;
  } finally {
    await reading.rollback();
  }
}

/** The rows of one foreign key of the source that name no row of the referenced table. */
interface Orphans {
  readonly table: string;
  readonly fk: TableForeignKey;
  /** How many rows. */
  readonly rows: number;
  /** The first missing keys, in order, at most {@link ORPHAN_SAMPLE}. */
  readonly sample: readonly unknown[];
}

/** Missing keys an orphan error shows, per foreign key. */
const ORPHAN_SAMPLE = 5;

/**
 * The source's rows whose foreign key names no row of the referenced table, per foreign key: one anti-join
 * per foreign key on a SQL source (a count, then the sample only when there are some), else a walk of the
 * referencing table in key order with one lookup of the referenced keys per page. Tables of the copy only.
 */
async function findOrphans(reading: DataSession, editor: SchemaEditor, tables: readonly TableDescription[], size: number): Promise<Orphans[]> {
  const byName = new Map(tables.map((t) => [t.name, t]));
  const out: Orphans[] = [];
  for (const table of tables) {
    for (const fk of table.foreignKeys ?? []) {
      const parent = byName.get(fk.referencedTable);
      if (!parent) continue;
      const found = editor.sql ? await antiJoin(editor.sql.bind(editor), table, fk) : await walk(reading, table, parent, fk, size);
      if (found.rows > 0) out.push({ table: table.name, fk, ...found });
    }
  }
  return out;
}

async function antiJoin(sql: NonNullable<SchemaEditor["sql"]>, table: TableDescription, fk: TableForeignKey): Promise<{ rows: number; sample: unknown[] }> {
  const column = `"strata_child".${quoteIdentifier(fk.column)}`;
  const from =
    `FROM ${quoteIdentifier(table.name)} AS "strata_child" WHERE ${column} IS NOT NULL AND NOT EXISTS ` +
    `(SELECT 1 FROM ${quoteIdentifier(fk.referencedTable)} AS "strata_parent" WHERE "strata_parent".${quoteIdentifier(fk.referencedColumn)} = ${column})`;
  const [counted] = (await sql(`SELECT COUNT(*) AS "n" ${from}`, [])) as unknown[][];
  const rows = Number(counted?.[0] ?? 0);
  if (rows === 0) return { rows, sample: [] };
  const sample = (await sql(`SELECT DISTINCT ${column} ${from} ORDER BY 1 LIMIT ${ORPHAN_SAMPLE}`, [])) as unknown[][];
  return { rows, sample: sample.map((r) => r[0]) };
}

async function walk(reading: DataSession, table: TableDescription, parent: TableDescription, fk: TableForeignKey, size: number): Promise<{ rows: number; sample: unknown[] }> {
  const child = schemaOfTable(table);
  const parentSchema = schemaOfTable(parent);
  const missing = new Set<unknown>();
  let rows = 0;
  for await (const page of pages(reading, child, size)) {
    const keys = [...new Set(page.map((r) => r[fk.column]).filter((v) => v !== null && v !== undefined))] as Key[];
    if (keys.length === 0) continue;
    const present = new Set((await reading.findByIds(parentSchema, keys)).map((r) => r[parentSchema.primary.property]));
    for (const row of page) {
      const value = row[fk.column];
      if (value === null || value === undefined || present.has(value)) continue;
      rows++;
      missing.add(value);
    }
  }
  const sample = [...missing].sort((a, b) => (typeof a === "number" && typeof b === "number" ? a - b : String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0)).slice(0, ORPHAN_SAMPLE);
  return { rows, sample };
}

/** Every foreign key with orphans, one line each; the first names the error's table and field. */
function orphanError(orphans: readonly Orphans[]): IntegrityError {
  const lines = orphans.map(
    (o) =>
      `table "${o.table}": ${o.rows} row${o.rows === 1 ? "" : "s"} whose ${o.fk.column} names no ${o.fk.referencedTable} row (foreign key "${o.fk.name}"; ` +
      `${o.sample.length === ORPHAN_SAMPLE ? "first " : ""}missing ${o.fk.referencedColumn}: ${o.sample.map((v) => JSON.stringify(v)).join(", ")})`,
  );
  const first = orphans[0]!;
  return new IntegrityError(
    `The source holds rows that break its foreign keys, so nothing was copied and the target is untouched:\n- ${lines.join("\n- ")}\n` +
      `Delete those rows or set their key to null in the source (--force does not copy them either), then copy again`,
    { table: first.table, field: first.fk.column },
  );
}

/**
 * The rows per batch, a positive integer. Anything else pages wrongly (a fraction reads one short page
 * and stops, on both sides of the checksum; 0 or NaN never ends a page; Infinity is no SQL LIMIT), so it
 * is refused before anything is copied.
 */
function batchSizeOf(options: CopyOptions): number {
  const size = options.batchSize ?? 500;
  if (!Number.isSafeInteger(size) || size < 1) {
    throw new ConfigError([`copy: batchSize must be a positive integer (rows per batch), got ${describeValue(size)}`]);
  }
  return size;
}

/** `table` as the copy first makes it on the target: its full-text index comes once every row is in. */
function withoutFullText(table: TableDescription): TableDescription {
  const { fullText: _fullText, ...plain } = table;
  return plain;
}

async function copyTable(table: TableDescription, reading: DataSession, target: Backend, size: number, options: CopyOptions): Promise<CopiedTable> {
  // Without its full-text index, as the target's table is made (copyBackend): a target that writes the
  // index's data with each row (PostgreSQL's document columns) would name columns the index makes later.
  const schema = schemaOfTable(withoutFullText(table));
  const total = await reading.count(schema, [[]]);
  let copied = 0;
  options.onProgress?.({ table: table.name, copied, total });
  for await (const page of pages(reading, schema, size)) {
    const tx = await target.begin();
    try {
      for (const row of page) await tx.insert(schema, row);
      await tx.commit();
    } catch (error) {
      await tx.rollback().catch(() => {});
      throw new MigrationError(`Copying table "${table.name}" failed after ${copied} of ${total} rows: ${error instanceof Error ? error.message : String(error)}`, {
        table: table.name,
        cause: error,
        ...(error instanceof StorageError && error.field ? { field: error.field } : {}),
      });
    }
    copied += page.length;
    options.onProgress?.({ table: table.name, copied, total });
  }
  const a = await fingerprint(reading, schema, size);
  const b = await fingerprint(target.session, schema, size);
  if (a.rows !== b.rows || a.checksum !== b.checksum) {
    throw new MigrationError(
      `Verifying table "${table.name}" failed: the source has ${a.rows} rows (checksum ${a.checksum.slice(0, 12)}), the target ${b.rows} (checksum ${b.checksum.slice(0, 12)})`,
      { table: table.name },
    );
  }
  return { table: table.name, rows: a.rows, checksum: a.checksum };
}
