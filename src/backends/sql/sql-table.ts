/**
 * The fixed statements of one entity on one dialect, built once: the hot path (findById, findByIds, save,
 * insert, update, delete) runs these texts as prepared statements, never a query builder.
 */
import type { ColumnSchema, EntitySchema, Row } from "../../schema/entity-schema.js";
import { ProjectionCache } from "../../schema/projection-cache.js";
import { makeRowCopier } from "../../schema/row-values.js";
import type { FullTextRowColumns, SqlDialect } from "./sql-dialect.js";
import { quoteIdentifier } from "./sql-dialect.js";
import type { SelectColumns } from "./sql-query-compiler.js";
import { selectList } from "./sql-query-compiler.js";
import type { RowCodec } from "./sql-row-codec.js";
import { makeRowCodec, makeRowDecoder } from "./sql-row-codec.js";

/** A projection on one table: its select list and the decoder of the rows it returns. */
export interface SqlProjection {
  /** Its columns and their quoted names as `SELECT` lists them (the order rows are decoded in). */
  readonly select: SelectColumns;
  readonly decode: (values: readonly unknown[]) => Row;
}

/**
 * At most this many texts of updates, and as many of partial upserts, per table: code gives a handful of
 * field sets, but a program that saves what a request holds could give any of 2^columns.
 */
export const MAX_STATEMENT_SHAPES = 64;

/** Keeps `text` under `key` in a map of at most {@link MAX_STATEMENT_SHAPES}, the oldest leaving first; returns it. */
function remember(map: Map<string, string>, key: string, text: string): string {
  if (map.size >= MAX_STATEMENT_SHAPES) map.delete(map.keys().next().value!);
  map.set(key, text);
  return text;
}

export class SqlTable {
  readonly codec: RowCodec;
  readonly table: string;
  readonly pk: ColumnSchema;
  readonly columns: string;
  /** Every column, as a find reads them. */
  readonly select: SelectColumns;
  readonly selectById: string;
  readonly selectByIds: string;
  readonly existsById: string;
  readonly deleteById: string;
  readonly insert: string;
  /** Insert leaving the `increment` key to the database; undefined when the key is not generated. */
  readonly insertGenerated?: string;
  readonly upsert: string;
  /** {@link SqlTable.upsert} without RETURNING, for tables that store a row as given ({@link SqlTable.storesInputAsIs}). */
  readonly upsertWithoutReturning: string;
  /** As {@link SqlTable.upsert}, updating only when the stored version equals the last parameter. */
  readonly upsertIfVersion?: string;
  /** Columns written by {@link SqlTable.upsert} in parameter order (every column). */
  readonly insertColumns: readonly ColumnSchema[];
  readonly generatedColumns: readonly ColumnSchema[];
  /**
   * True when an upserted row is stored exactly as given (no version to bump, no create date to keep):
   * bulk upserts then skip RETURNING, which costs SQLite as much as the insert itself.
   */
  readonly storesInputAsIs: boolean;
  /**
   * The columns whose stored value an upsert decides, rather than taking it from the row: the version
   * (the stored one + 1) and the create date (the stored one kept), with the key to match rows up. A bulk
   * upsert returns only these and takes the rest from its input: decoding every column back (json parsed,
   * Dates made) cost SQLite's bulk writes more than the writes.
   */
  readonly decidedColumns: readonly ColumnSchema[];
  /** The decoders of {@link SqlTable.decidedColumns}, in order (`undefined`: read as it is). */
  readonly decidedDecoders: ReadonlyArray<((value: unknown) => unknown) | undefined>;
  /**
   * The columns of the dialect's full-text index that every insert and upsert writes after the entity's
   * ({@link SqlFullText.rowColumns}), with the properties their values come from; undefined without.
   */
  private readonly indexColumns?: { readonly columns: FullTextRowColumns; readonly properties: readonly string[] };
  /** Parameters each row of an insert or upsert binds: the entity's columns, then the full-text index's. */
  readonly paramsPerRow: number;
  /** The encoders of {@link SqlTable.insertColumns} and of {@link SqlTable.generatedColumns}, in order. */
  private readonly insertEncoders: ReadonlyArray<((value: unknown) => unknown) | undefined>;
  private readonly generatedEncoders: ReadonlyArray<((value: unknown) => unknown) | undefined>;
  /** A copy of a row for the caller. */
  readonly copy: (row: Row) => Row;
  /** Run after writing explicit keys into an `increment` column, with the largest of them. */
  readonly advanceKeyGenerator?: string;
  /** What each projection (`select`) reads and how its rows are decoded, decided on first use. */
  private readonly projections = new ProjectionCache<SqlProjection>();
  /** The updates, by the columns given (and whether the version is checked); at most {@link MAX_STATEMENT_SHAPES}. */
  private readonly updates = new Map<string, string>();
  /** The statements of partial upserts, by the columns given (and whether the version is checked); bounded as `updates`. */
  private readonly partialUpserts = new Map<string, string>();
  /** The multi-row partial upserts, by row count and columns given; bounded as `updates`. */
  private readonly partialMulti = new Map<string, string>();
  private readonly multi = new Map<string, string>();

  constructor(
    readonly schema: EntitySchema,
    private readonly dialect: SqlDialect,
  ) {
    this.codec = makeRowCodec(schema, dialect);
    this.storesInputAsIs = !schema.version && !schema.createDate;
    this.copy = makeRowCopier(schema);
    const ph = dialect.placeholder;
    this.table = quoteIdentifier(schema.table);
    this.pk = schema.primary;
    const pk = quoteIdentifier(this.pk.name);
    this.columns = selectList(schema);
    this.select = { columns: schema.columns, list: this.columns };
    this.selectById = `SELECT ${this.columns} FROM ${this.table} WHERE ${pk} = ${ph(1)}`;
    this.selectByIds = `SELECT ${this.columns} FROM ${this.table} WHERE ${dialect.inList(pk, ph(1), this.pk)}`;
    this.existsById = `SELECT 1 FROM ${this.table} WHERE ${pk} = ${ph(1)}`;
    this.deleteById = `DELETE FROM ${this.table} WHERE ${pk} = ${ph(1)}`;
    this.insertColumns = schema.columns;
    this.generatedColumns = schema.columns.filter((c) => !c.primary);
    this.decidedColumns = [this.pk, ...schema.columns.filter((c) => c.role === "version" || c.role === "createDate")];
    this.decidedDecoders = this.codec.decodersOf(this.decidedColumns);
    const rowColumns = dialect.fullText?.rowColumns;
    if (rowColumns && schema.fullText) this.indexColumns = { columns: rowColumns, properties: schema.fullText.properties };
    this.paramsPerRow = this.insertColumns.length + (this.indexColumns?.columns.names.length ?? 0);
    this.insertEncoders = this.codec.encodersOf(this.insertColumns);
    this.generatedEncoders = this.codec.encodersOf(this.generatedColumns);
    this.insert = this.insertText(this.insertColumns, 1, "");
    if (this.pk.generated === "increment") {
      this.insertGenerated = this.insertText(this.generatedColumns, 1, "");
      const advance = dialect.advanceKeyGenerator?.(schema.table, this.pk.name);
      if (advance) this.advanceKeyGenerator = advance;
    }
    this.upsert = this.insertText(this.insertColumns, 1, this.onConflict());
    this.upsertWithoutReturning = this.insertText(this.insertColumns, 1, this.onConflict(), false);
    if (schema.version) {
      const versionPh = ph(this.paramsPerRow + 1);
      this.upsertIfVersion = this.insertText(this.insertColumns, 1, `${this.onConflict()} WHERE ${this.table}.${quoteIdentifier(schema.version.name)} = ${versionPh}`);
    }
  }

  /** `ON CONFLICT` of an upsert: every column but the key and the create date set, or only those `given` (and the update date, the version). */
  private onConflict(given?: ReadonlySet<string>): string {
    const set: string[] = [];
    for (const c of this.schema.columns) {
      if (c.primary || c.role === "createDate") continue;
      if (given !== undefined && c.role === undefined && !given.has(c.property)) continue;
      const col = quoteIdentifier(c.name);
      set.push(c.role === "version" ? `${col} = ${this.table}.${col} + 1` : `${col} = excluded.${col}`);
    }
    // The full-text index's columns follow the row only when every indexed column is written; otherwise the
    // stored row's indexed text is not all in this statement, and the dialect's refresh rebuilds it.
    const index = this.indexColumns;
    if (index && (given === undefined || index.properties.every((p) => given.has(p)))) {
      for (const name of index.columns.names) set.push(`${quoteIdentifier(name)} = excluded.${quoteIdentifier(name)}`);
    }
    const pk = quoteIdentifier(this.pk.name);
    if (set.length === 0) set.push(`${pk} = ${this.table}.${pk}`);
    return ` ON CONFLICT (${pk}) DO UPDATE SET ${set.join(", ")}`;
  }

  /**
   * `INSERT ... VALUES (...), ... RETURNING` for `rows` rows of `columns`, parameters from `first`;
   * `returning`: the select list to return (every column by default), or false for none.
   */
  private insertText(columns: readonly ColumnSchema[], rows: number, conflict: string, returning: string | false = this.columns): string {
    const ph = this.dialect.placeholder;
    const names = columns.map((c) => quoteIdentifier(c.name));
    for (const name of this.indexColumns?.columns.names ?? []) names.push(quoteIdentifier(name));
    const tuples: string[] = [];
    let n = 1;
    for (let r = 0; r < rows; r++) tuples.push(`(${names.map(() => ph(n++)).join(", ")})`);
    return `INSERT INTO ${this.table} (${names.join(", ")}) VALUES ${tuples.join(", ")}${conflict}${returning !== false ? ` RETURNING ${returning}` : ""}`;
  }

  /**
   * A multi-row upsert of `rows` keyed rows (returning their {@link SqlTable.decidedColumns}, none when
   * {@link SqlTable.storesInputAsIs}), or a multi-row insert of rows with generated keys (returning them).
   * `returning` false: the same write returning nothing, for a caller that reads nothing back.
   */
  multiRow(rows: number, generated: boolean, returning = true): string {
    const key = `${generated ? "g" : "u"}${returning ? "r" : "-"}${rows}`;
    let text = this.multi.get(key);
    if (!text) {
      const decided = this.decidedColumns.map((c) => quoteIdentifier(c.name)).join(", ");
      text = generated
        ? this.insertText(this.generatedColumns, rows, "", returning ? this.columns : false)
        : this.insertText(this.insertColumns, rows, this.onConflict(), returning && !this.storesInputAsIs ? decided : false);
      this.multi.set(key, text);
    }
    return text;
  }

  /**
   * A multi-row partial upsert of `rows` keyed rows (`UpsertManyOptions.given`): existing rows change only
   * in the `given` columns, the update date and the version. Returns every column (a kept one is not in the
   * input), or nothing when not `returning`.
   */
  partialMultiRow(rows: number, given: readonly string[], returning: boolean): string {
    const key = `${returning ? "r" : "-"}${rows}\u0001${given.join("\u0000")}`;
    return this.partialMulti.get(key) ?? remember(this.partialMulti, key, this.insertText(this.insertColumns, rows, this.onConflict(new Set(given)), returning ? this.columns : false));
  }

  /**
   * The upsert of a partial save (`DataSession.upsert` with `given`): the whole row inserted when the key is
   * new, else only the `given` columns, the update date and the version changed; at an expected version
   * (the last parameter) when `ifVersion`. Returns every column, as stored.
   */
  partialUpsert(given: readonly string[], ifVersion: boolean): string {
    const key = `${ifVersion && this.schema.version ? "v" : "-"}${given.join("\u0000")}`;
    const text = this.partialUpserts.get(key);
    if (text) return text;
    let conflict = this.onConflict(new Set(given));
    if (ifVersion && this.schema.version) {
      conflict += ` WHERE ${this.table}.${quoteIdentifier(this.schema.version.name)} = ${this.dialect.placeholder(this.paramsPerRow + 1)}`;
    }
    return remember(this.partialUpserts, key, this.insertText(this.insertColumns, 1, conflict));
  }

  /** `UPDATE` of the given columns (and the version), by key, optionally only at an expected version. */
  update(columns: readonly ColumnSchema[], ifVersion: boolean): string {
    const key = `${ifVersion ? "v" : "-"}${columns.map((c) => c.property).join("\u0000")}`;
    const text = this.updates.get(key);
    if (text) return text;
    const ph = this.dialect.placeholder;
    let n = 1;
    const set = columns.map((c) => `${quoteIdentifier(c.name)} = ${ph(n++)}`);
    const version = this.schema.version ? quoteIdentifier(this.schema.version.name) : undefined;
    if (version) set.push(`${version} = ${version} + 1`);
    const pk = quoteIdentifier(this.pk.name);
    if (set.length === 0) set.push(`${pk} = ${pk}`);
    return remember(this.updates, key, `UPDATE ${this.table} SET ${set.join(", ")} WHERE ${pk} = ${ph(n++)}${ifVersion && version ? ` AND ${version} = ${ph(n++)}` : ""} RETURNING ${this.columns}`);
  }

  /** How many texts of updates and partial upserts are kept (for tests). */
  get statementShapes(): number {
    return this.updates.size + this.partialUpserts.size + this.partialMulti.size;
  }

  /** True when the database generates `row`'s key: an `increment` key the row leaves null or absent. */
  generatesKey(row: Row): boolean {
    if (this.insertGenerated === undefined) return false;
    const key = row[this.pk.property];
    return key === null || key === undefined;
  }

  /** The select list and row decoder of a projection: only its columns are read and decoded. */
  projection(select: readonly ColumnSchema[]): SqlProjection {
    return this.projections.get(select, (columns) => ({ select: { columns, list: selectList(this.schema, columns) }, decode: makeRowDecoder(columns, this.dialect) }));
  }

  /**
   * Parameters of a complete row for {@link SqlTable.generatedColumns} (`generated`) or {@link SqlTable.insertColumns},
   * then the full-text index's columns (if any), appended to `out`.
   */
  encodeRowInto(out: unknown[], generated: boolean, row: Record<string, unknown>): void {
    const columns = generated ? this.generatedColumns : this.insertColumns;
    const encoders = generated ? this.generatedEncoders : this.insertEncoders;
    for (let i = 0; i < columns.length; i++) {
      const value = row[columns[i]!.property];
      const encode = encoders[i];
      out.push(value === null || value === undefined ? null : encode === undefined ? value : encode(value));
    }
    const index = this.indexColumns;
    if (index) for (const value of index.columns.values(index.properties.map((p) => row[p]))) out.push(value);
  }
}

/**
 * The statements of every entity on one dialect, built on first use. Keyed weakly by the schema object:
 * the migration context makes a new schema object for each `updateRows`/`insertRows` call, and a plain
 * map would keep the statements of every one of them for as long as the backend is open. Nothing
 * iterates the tables, so a `WeakMap` loses nothing.
 */
export class SqlTables {
  private readonly tables = new WeakMap<EntitySchema, SqlTable>();
  constructor(readonly dialect: SqlDialect) {}
  get(schema: EntitySchema): SqlTable {
    let table = this.tables.get(schema);
    if (!table) this.tables.set(schema, (table = new SqlTable(schema, this.dialect)));
    return table;
  }
}
