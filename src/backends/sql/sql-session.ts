/**
 * The {@link DataSession} of every SQL backend, over a {@link SqlRunner} that executes text with bound
 * parameters on one connection (or a pool). The backend decides where reads go and how a write is made
 * atomic; this class decides what SQL to run and turns results into rows.
 */
import type { DataSession, Key, SearchHit, SearchRequest, SqlResult, UpdateOutcome, UpsertManyOptions } from "../../spi/index.js";
import { QueryError, StorageError } from "../../errors.js";
import type { NormalizedQuery, NormalizedWhere } from "../../query/query.js";
import type { ColumnSchema, EntitySchema, Row } from "../../schema/entity-schema.js";
import type { SqlDialect, SqlFullText, UnindexedRow } from "./sql-dialect.js";
import type { CompiledFind, CompiledSql } from "./sql-query-compiler.js";
import type { ForeignKeyCatalog, ForeignKeyWrite } from "./sql-foreign-keys.js";
import { explainForeignKeyFailure } from "./sql-foreign-keys.js";
import { compileCount, compileDeleteMany, compileFind, compileWhereExpression } from "./sql-query-compiler.js";
import type { SqlRunner, SqlStreamer, WriteGate } from "./sql-runner.js";
import { streamWalk } from "./sql-stream-walk.js";
import type { SqlTable, SqlTables } from "./sql-table.js";
import { userStatement } from "./sql-user-statement.js";

/**
 * How many times a search runs when a commit of another client's comes between its read of the rows it builds
 * itself and its select (at READ COMMITTED; see `SearchStatement.checksWaiting`).
 */
const SEARCH_ATTEMPTS = 4;

/** Per-dialect translation of a driver error into a Strata error naming the table. */
export type ErrorMapper = (error: unknown, schema: EntitySchema | undefined) => unknown;

/**
 * How a session names the foreign key a write broke: the backend's catalog of the keys it knows, and how to
 * learn the keys it does not (one another storage's migration added since the backend read them).
 */
export interface ForeignKeySession {
  readonly catalog: ForeignKeyCatalog;
  /**
   * Present where the database's error does not say which key failed (SQLite, `SqlDriver.isUnexplainedForeignKeyFailure`):
   * the session then finds out itself, by replaying the write as reads (sql-foreign-keys.ts).
   */
  readonly unexplained?: (error: unknown) => boolean;
  /** True for a foreign key failure the catalog cannot name (on SQLite: any failure left unexplained). */
  readonly unknown: (error: unknown, schema: EntitySchema) => boolean;
  /** Reads the keys the database holds into the catalog again (`SqlBackend.readForeignKeys`). */
  readonly refresh: () => Promise<unknown>;
}

export interface SqlSessionOptions {
  readonly tables: SqlTables;
  readonly reads: SqlRunner;
  readonly writes: WriteGate;
  readonly mapError: ErrorMapper;
  /** True inside a write transaction: selects of rows then carry the dialect's {@link SqlDialect.transactionRowLock}. */
  readonly inTransaction?: boolean;
  /** Present where the database's foreign key errors must be explained by the session (SQLite). */
  readonly foreignKeys?: ForeignKeySession;
  /** The driver's streaming reads, outside a transaction only: {@link SqlSession.stream} is defined with them. */
  readonly streams?: SqlStreamer;
}

export class SqlSession implements DataSession {
  private readonly tables: SqlTables;
  private readonly dialect: SqlDialect;
  private readonly reads: SqlRunner;
  private readonly writes: WriteGate;
  private readonly mapError: ErrorMapper;
  private readonly lock: string;
  private readonly inTransaction: boolean;
  private readonly foreignKeys: ForeignKeySession | undefined;
  /** See {@link DataSession.stream}; defined only when the driver streams. */
  readonly stream?: (schema: EntitySchema, query: NormalizedQuery, pageSize: number) => Promise<AsyncIterable<Row[]> | undefined>;
  /** See {@link DataSession.search}; defined only when the dialect has full-text search ({@link SqlDialect.fullText}). */
  readonly search?: (schema: EntitySchema, request: SearchRequest) => Promise<SearchHit[]>;

  constructor(options: SqlSessionOptions) {
    this.foreignKeys = options.foreignKeys;
    this.tables = options.tables;
    this.dialect = options.tables.dialect;
    this.reads = options.reads;
    this.writes = options.writes;
    this.mapError = options.mapError;
    this.inTransaction = options.inTransaction === true;
    this.lock = this.inTransaction ? this.dialect.transactionRowLock : "";
    const streams = options.streams;
    if (streams) this.stream = (schema, query, pageSize) => this.streamRows(streams, schema, query, pageSize);
    const fullText = this.dialect.fullText;
    if (fullText) this.search = (schema, request) => this.searchRows(fullText, schema, request);
  }

  /**
   * A full-text search: the dialect's select (matches, score, where, order, page) on the session's reads, so
   * that inside a transaction it sees the transaction's writes (its index is kept by the same statements).
   */
  private async searchRows(fullText: SqlFullText, schema: EntitySchema, request: SearchRequest): Promise<SearchHit[]> {
    const index = schema.fullText;
    if (!index) throw new QueryError(`${schema.entityName} has no full-text index: mark its searchable string columns with @Index({ fulltext: true })`, { table: schema.table });
    for (const [what, value] of [["limit", request.limit], ["offset", request.offset]] as const) {
      // The limit is written into the text as digits: only a non-negative safe integer may get there.
      if (!Number.isSafeInteger(value) || value < 0) throw new QueryError(`search on table "${schema.table}": ${what} must be a non-negative integer, got ${String(value)}`, { table: schema.table });
    }
    const t = this.tables.get(schema);
    const where = request.where;
    const indexColumns = index.properties.map((p) => schema.columnsByProperty.get(p)?.name ?? p);
    try {
      const statement = (unindexed: readonly UnindexedRow[] | undefined) =>
        fullText.searchStatement({
          unindexed,
          schema,
          indexColumns,
          columns: schema.columns.map((c) => c.name),
          query: request.query,
          where: (firstParam) => (where === undefined ? undefined : compileWhereExpression(schema, where, this.dialect, t.codec, firstParam)),
          limit: request.limit,
          offset: request.offset,
        });
      const readUnindexed = fullText.unindexed;
      const scoreAt = schema.columns.length;
      const keyAt = schema.columns.findIndex((c) => c.name === schema.primary.name);
      // The search statement's rows, and false when its snapshot holds waiting rows the rows read before it did
      // not list as they are there (SearchStatement.checksWaiting): a commit came between them.
      const answer = async (runner: SqlRunner, unindexed: readonly UnindexedRow[] | undefined): Promise<{ rows: unknown[][]; consistent: boolean }> => {
        const sql = statement(unindexed);
        const rows = await runner.all(sql.text, sql.params, false);
        if (!sql.checksWaiting) return { rows, consistent: true };
        // An empty answer still carries the check, on a row of nulls (its key null, which no hit's is).
        return { rows: rows.filter((values) => values[keyAt] !== null), consistent: !rows.some((values) => values[scoreAt + 1] === true) };
      };
      let rows: unknown[][] | undefined;
      for (let attempt = 1; rows === undefined; attempt++) {
        const waiting = fullText.refresh ? await fullText.refresh({ schema, indexColumns }, this.reads, this.writes, this.inTransaction) : false;
        let answered: { rows: unknown[][]; consistent: boolean };
        if (!waiting || !readUnindexed) {
          answered = await answer(this.reads, undefined);
        } else {
          // The rows still waiting and the search over them in one snapshot: between two snapshots, a row whose
          // document another client's commit nulled would be in neither, and a waiting row changed would be
          // scored on the text read before. Inside a transaction its own isolation level decides: at READ
          // COMMITTED the statement's check says when a commit came between them, and the search runs again.
          const search = async (runner: SqlRunner) => answer(runner, await readUnindexed({ schema, indexColumns }, runner));
          answered = !this.inTransaction && this.reads.snapshot ? await this.reads.snapshot(search) : await search(this.reads);
        }
        // Past the last attempt (other clients' commits leaving rows waiting faster than a search at READ
        // COMMITTED can read them), the last answer stands: a row changed meanwhile may be left out of it or
        // scored on the text read before.
        if (answered.consistent || attempt === SEARCH_ATTEMPTS) rows = answered.rows;
      }
      return rows.map((values) => ({ row: t.codec.decode(values), score: Number(values[scoreAt]) }));
    } catch (error) {
      throw this.mapError(error, schema);
    }
  }

  /**
   * The select `find` would run, streamed when the database would sort every match for each keyset page
   * (see sql-stream-walk.ts). The cursor opens at the first pull, so a stream never walked holds nothing.
   */
  private async streamRows(streams: SqlStreamer, schema: EntitySchema, query: NormalizedQuery, pageSize: number): Promise<AsyncIterable<Row[]> | undefined> {
    const t = this.tables.get(schema);
    const projection = query.select ? t.projection(query.select) : undefined;
    const columns = projection ? projection.select : t.select;
    const compile = (part: NormalizedQuery): CompiledSql => compileFind(schema, part, this.dialect, t.codec, "", columns);
    let first: CompiledSql;
    try {
      first = compile(query);
      if (!(await streams.sortsEveryMatch(first.text, first.params))) return undefined;
    } catch (error) {
      throw this.mapError(error, schema);
    }
    return streamWalk({
      streams,
      schema,
      query,
      pageSize,
      first,
      compile,
      decode: projection ? projection.decode : (values) => t.codec.decode(values),
      find: (walked, part) => this.find(walked, part),
      mapError: this.mapError,
    });
  }

  /**
   * `work` as given, or, where a foreign key failure needs explaining and `schema` has foreign keys or is
   * referenced by one, wrapped so that such a failure is explained on the connection it happened on,
   * before the write gate ends its transaction (the statement was rolled back, so the state it ran on is
   * back). `write` says what was written, made only on failure.
   */
  private explained<T>(schema: EntitySchema, write: () => ForeignKeyWrite, work: (runner: SqlRunner) => Promise<T>): (runner: SqlRunner) => Promise<T> {
    const fk = this.foreignKeys;
    const unexplained = fk?.unexplained;
    if (!fk || !unexplained || (schema.foreignKeys.length === 0 && fk.catalog.heldBy(schema.table).length === 0 && fk.catalog.referencingTable(schema.table).length === 0)) return work;
    return async (runner) => {
      try {
        return await work(runner);
      } catch (error) {
        if (!unexplained(error)) throw error;
        // A failure while explaining (the connection gone) leaves the database's own error to report.
        const explained = await explainForeignKeyFailure(runner, this.tables, fk.catalog, schema, write(), error).catch(() => undefined);
        throw explained ?? error;
      }
    };
  }

  /**
   * The error a failed write reports. A foreign key failure the catalog cannot name comes from a key the
   * database holds but this backend has not read (another storage's migration added it since): the held keys
   * are read again, and the failure is explained (SQLite) or mapped (PostgreSQL) once more. The statement
   * was rolled back, so the state the write ran on is what the explaining reads see. Only ever on a failure;
   * a failure to read leaves the database's own error.
   */
  private async failedWrite(error: unknown, schema: EntitySchema, write: () => ForeignKeyWrite): Promise<unknown> {
    const fk = this.foreignKeys;
    if (!fk?.unknown(error, schema)) return this.mapError(error, schema);
    try {
      await fk.refresh();
      if (fk.unexplained) {
        const explained = await explainForeignKeyFailure(this.reads, this.tables, fk.catalog, schema, write(), error);
        if (explained) return explained;
      }
    } catch {
      // Keep the database's own words.
    }
    return this.mapError(error, schema);
  }

  /**
   * `work` through the write gate, a foreign key failure explained ({@link SqlSession.explained}) and any
   * failure reported as {@link SqlSession.failedWrite} says: the frame of a write whose result needs no
   * further handling.
   */
  private async guardedWrite<T>(schema: EntitySchema, written: () => ForeignKeyWrite, multiStatement: boolean, work: (runner: SqlRunner) => Promise<T>): Promise<T> {
    try {
      return await this.writes(this.explained(schema, written, work), multiStatement);
    } catch (error) {
      throw await this.failedWrite(error, schema, written);
    }
  }

  /**
   * One statement of the user's (`storage.sql`), through the write gate: on the transaction's connection
   * inside one, else as a single write (on SQLite, the writer connection, so a write waits its turn). A
   * failure the database explains no better than by its message is a {@link QueryError} quoting the text.
   */
  async sql(strings: readonly string[], values: readonly unknown[]): Promise<SqlResult> {
    const { text, params } = userStatement(this.dialect, strings, values);
    try {
      return await this.writes(async (runner) => runner.query(text, params), false);
    } catch (error) {
      const mapped = this.mapError(error, undefined);
      if (!(mapped instanceof StorageError) || mapped.constructor !== StorageError) throw mapped;
      throw new QueryError(`storage.sql failed: ${(error as Error)?.message ?? String(error)}\n  SQL: ${text}`, { cause: error });
    }
  }

  async findById(schema: EntitySchema, key: Key): Promise<Row | null> {
    const t = this.tables.get(schema);
    try {
      const rows = await this.reads.all(this.lock ? t.selectById + this.lock : t.selectById, [key], true);
      const first = rows[0];
      return first ? t.codec.decode(first) : null;
    } catch (error) {
      throw this.mapError(error, schema);
    }
  }

  async findByIds(schema: EntitySchema, keys: readonly Key[]): Promise<Row[]> {
    if (keys.length === 0) return [];
    const t = this.tables.get(schema);
    try {
      const rows = await this.reads.all(this.lock ? t.selectByIds + this.lock : t.selectByIds, [this.dialect.listParam(keys)], true);
      return rows.map((r) => t.codec.decode(r));
    } catch (error) {
      throw this.mapError(error, schema);
    }
  }

  async find(schema: EntitySchema, query: NormalizedQuery): Promise<Row[]> {
    const t = this.tables.get(schema);
    try {
      if (query.select) {
        // A projection reads and decodes only its columns (the primary key among them, as normalized).
        const projection = t.projection(query.select);
        const sql = compileFind(schema, query, this.dialect, t.codec, this.lock, projection.select);
        return (await this.select(sql, query.select.indexOf(schema.primary))).map(projection.decode);
      }
      const rows = await this.select(compileFind(schema, query, this.dialect, t.codec, this.lock, t.select), schema.columns.indexOf(schema.primary));
      return rows.map((r) => t.codec.decode(r));
    } catch (error) {
      throw this.mapError(error, schema);
    }
  }

  /**
   * The selected arrays of a compiled find: its one select, or the values then (when they end within the
   * window) the nulls. `keyAt`: the primary key's place in the select list.
   */
  private async select(sql: CompiledFind, keyAt: number): Promise<unknown[][]> {
    // Unnamed on PostgreSQL, so planned with each call's values: a prepared statement's generic plan picks one
    // plan for every value (the city bench's `country = 'US' AND population >= ?` then read every US city by
    // the country index and sorted them, 4x slower than its custom plan).
    const rows = await this.reads.all(sql.text, sql.params, false);
    const nulls = sql.nulls;
    if (nulls === undefined) return rows;
    const all = rows.length < nulls.window ? rows.concat(await this.nullsAfter(rows, nulls, keyAt)) : rows;
    return nulls.offset === 0 && all.length <= nulls.window ? all : all.slice(nulls.offset, nulls.window);
  }

  /**
   * The rows of a split page's select of the nulls, less those the select of the values returned already:
   * outside a transaction the two selects read two states, and a row set to null in between (by another
   * connection or process) would otherwise come twice in one page. It comes where the first state had it.
   */
  private async nullsAfter(values: readonly unknown[][], nulls: CompiledSql, keyAt: number): Promise<unknown[][]> {
    const rows = await this.reads.all(nulls.text, nulls.params, false);
    if (keyAt < 0 || values.length === 0 || rows.length === 0) return rows;
    const seen = new Set(values.map((r) => r[keyAt]));
    return rows.filter((r) => !seen.has(r[keyAt]));
  }

  async count(schema: EntitySchema, where: NormalizedWhere): Promise<number> {
    const t = this.tables.get(schema);
    try {
      const sql = compileCount(schema, where, this.dialect, t.codec);
      const rows = await this.reads.all(sql.text, sql.params, false);
      return Number(rows[0]?.[0] ?? 0);
    } catch (error) {
      throw this.mapError(error, schema);
    }
  }

  async insert(schema: EntitySchema, row: Row): Promise<Row> {
    const t = this.tables.get(schema);
    const generated = t.generatesKey(row);
    const params: unknown[] = [];
    t.encodeRowInto(params, generated, row);
    const written = (): ForeignKeyWrite => ({ kind: "write", rows: [row] });
    try {
      const rows = await this.writes(
        this.explained(schema, written, async (r) => {
          const out = await r.all(generated ? t.insertGenerated! : t.insert, params, true);
          if (!generated && t.advanceKeyGenerator) await r.all(t.advanceKeyGenerator, [row[t.pk.property]], true);
          return out;
        }),
        false,
      );
      return t.codec.decode(rows[0]!);
    } catch (error) {
      throw await this.failedWrite(error, schema, written);
    }
  }

  async upsert(schema: EntitySchema, row: Row, expectedVersion?: number, given?: readonly string[]): Promise<Row | "conflict"> {
    const t = this.tables.get(schema);
    if (t.generatesKey(row)) return this.insert(schema, row);
    const params: unknown[] = [];
    t.encodeRowInto(params, false, row);
    const checked = expectedVersion !== undefined && t.upsertIfVersion !== undefined;
    if (checked) params.push(expectedVersion);
    const written = (): ForeignKeyWrite => ({ kind: "write", rows: [row] });
    try {
      if (!checked && given === undefined && t.storesInputAsIs) {
        // The row is stored exactly as given: skip RETURNING, which costs SQLite as much as the write.
        await this.writes(
          this.explained(schema, written, async (r) => {
            await r.run(t.upsertWithoutReturning, params, true);
            if (t.advanceKeyGenerator) await r.all(t.advanceKeyGenerator, [row[t.pk.property]], true);
          }),
          false,
        );
        return t.copy(row);
      }
      // A partial save (given): what is stored may differ from the row in every column not given, so it is read back.
      const text = given !== undefined ? t.partialUpsert(given, checked) : checked ? t.upsertIfVersion! : t.upsert;
      const rows = await this.writes(
        this.explained(schema, written, async (r) => {
          const out = await r.all(text, params, true);
          if (t.advanceKeyGenerator && out.length > 0) await r.all(t.advanceKeyGenerator, [row[t.pk.property]], true);
          return out;
        }),
        false,
      );
      // With a version check, no row back means the key exists at another version.
      return rows[0] ? t.codec.decode(rows[0]) : "conflict";
    } catch (error) {
      throw await this.failedWrite(error, schema, written);
    }
  }

  async upsertMany(schema: EntitySchema, rows: readonly Row[], options?: UpsertManyOptions): Promise<Row[]> {
    if (rows.length === 0) return [];
    const given = options?.given;
    if (options?.returnRows === false) return this.writeMany(schema, rows, given);
    const t = this.tables.get(schema);
    const pk = t.pk.property;
    const segments = this.segments(t, rows);
    const written = (): ForeignKeyWrite => ({ kind: "write", rows });
    return this.guardedWrite(schema, written, segments.length > 1 || t.advanceKeyGenerator !== undefined, async (runner) => {
      const out: Row[] = new Array(rows.length);
      for (const { start, end, generated } of segments) {
        const params: unknown[] = [];
        for (let i = start; i < end; i++) t.encodeRowInto(params, generated, rows[i]!);
        if (given !== undefined && !generated) {
          // A partial upsert keeps stored values the input does not hold: every column comes back, matched by key.
          const byKey = new Map<unknown, Row>();
          for (const values of await runner.all(t.partialMultiRow(end - start, given, true), params, true)) {
            const row = t.codec.decode(values);
            byKey.set(row[pk], row);
          }
          for (let i = start; i < end; i++) out[i] = byKey.get(rows[i]![pk])!;
          continue;
        }
        const text = t.multiRow(end - start, generated);
        if (!generated && t.storesInputAsIs) {
          await runner.run(text, params, true);
          for (let i = start; i < end; i++) out[i] = t.copy(rows[i]!);
          continue;
        }
        if (generated) {
          const returned = (await runner.all(text, params, true)).map((r) => t.codec.decode(r));
          // Keys generated by one statement increase in VALUES order.
          returned.sort((a, b) => (a[pk] as number) - (b[pk] as number));
          for (let i = start; i < end; i++) out[i] = returned[i - start]!;
          continue;
        }
        // A keyed upsert stores its row as given but for the decided columns (version, create date): only
        // those come back (in no set order, so matched up by key) and are set on a copy of the input.
        const decided = t.decidedColumns;
        const decoders = t.decidedDecoders;
        const byKey = new Map<unknown, readonly unknown[]>();
        for (const values of await runner.all(text, params, true)) byKey.set(decodeSelected(decoders[0], values[0]), values);
        for (let i = start; i < end; i++) {
          const row = t.copy(rows[i]!);
          const values = byKey.get(row[pk])!;
          for (let c = 1; c < decided.length; c++) row[decided[c]!.property] = decodeSelected(decoders[c], values[c]);
          out[i] = row;
        }
      }
      if (t.advanceKeyGenerator) await advanceKeyGenerator(runner, t, rows);
      return out;
    });
  }

  /**
   * {@link SqlSession.upsertMany} for a caller that reads nothing back (`returnRows: false`): the same
   * statements without RETURNING, and no rows copied out. The database still decides the version (1, or
   * the stored one + 1), keeps the create date and generates keys, in the statement itself, so what is
   * stored is the same; only reading it back is skipped, which cost SQLite about a quarter of the write.
   */
  private async writeMany(schema: EntitySchema, rows: readonly Row[], given: readonly string[] | undefined): Promise<Row[]> {
    const t = this.tables.get(schema);
    const segments = this.segments(t, rows);
    const written = (): ForeignKeyWrite => ({ kind: "write", rows });
    await this.guardedWrite(schema, written, segments.length > 1 || t.advanceKeyGenerator !== undefined, async (runner) => {
      for (const { start, end, generated } of segments) {
        const params: unknown[] = [];
        for (let i = start; i < end; i++) t.encodeRowInto(params, generated, rows[i]!);
        const text = given !== undefined && !generated ? t.partialMultiRow(end - start, given, false) : t.multiRow(end - start, generated, false);
        await runner.run(text, params, true);
      }
      if (t.advanceKeyGenerator) await advanceKeyGenerator(runner, t, rows);
    });
    return [];
  }

  /**
   * Segments of consecutive rows written by one statement: all keyed (no key twice, since one statement
   * cannot touch a row twice) or all with a key to generate, at most 500 rows and the dialect's parameters.
   */
  private segments(t: SqlTable, rows: readonly Row[]): Array<{ start: number; end: number; generated: boolean }> {
    const pk = t.pk.property;
    const maxRows = Math.max(1, Math.min(500, Math.floor(this.dialect.maxParams / t.paramsPerRow)));
    const segments: Array<{ start: number; end: number; generated: boolean }> = [];
    let seen = new Set<unknown>();
    for (let i = 0; i < rows.length; i++) {
      const key = rows[i]![pk];
      const generated = t.generatesKey(rows[i]!);
      const last = segments[segments.length - 1];
      if (last && last.generated === generated && last.end - last.start < maxRows && (generated || !seen.has(key))) {
        last.end = i + 1;
      } else {
        segments.push({ start: i, end: i + 1, generated });
        seen = new Set();
      }
      if (!generated) seen.add(key);
    }
    return segments;
  }

  async update(schema: EntitySchema, key: Key, changes: Row, expectedVersion?: number): Promise<UpdateOutcome> {
    const t = this.tables.get(schema);
    const columns: ColumnSchema[] = [];
    const params: unknown[] = [];
    for (const property of Object.keys(changes)) {
      const column = schema.columnsByProperty.get(property);
      if (!column || column.primary || column.role === "version") continue;
      columns.push(column);
      params.push(t.codec.encodeValue(column, changes[property]));
    }
    params.push(key);
    const checked = expectedVersion !== undefined && schema.version !== undefined;
    if (checked) params.push(expectedVersion);
    const text = t.update(columns, checked);
    const written = (): ForeignKeyWrite => ({ kind: "write", rows: [{ ...changes, [schema.primary.property]: key }] });
    return this.guardedWrite(schema, written, checked, async (runner): Promise<UpdateOutcome> => {
      const rows = await runner.all(text, params, true);
      if (rows[0]) return { row: t.codec.decode(rows[0]) };
      if (!checked) return "missing";
      const exists = await runner.all(t.existsById, [key], true);
      return exists.length > 0 ? "conflict" : "missing";
    });
  }

  async delete(schema: EntitySchema, key: Key): Promise<boolean> {
    const t = this.tables.get(schema);
    const written = (): ForeignKeyWrite => ({ kind: "delete", keys: [key] });
    return (await this.guardedWrite(schema, written, false, async (r) => r.run(t.deleteById, [key], true))) > 0;
  }

  async deleteMany(schema: EntitySchema, where: NormalizedWhere): Promise<number> {
    const t = this.tables.get(schema);
    const written = (): ForeignKeyWrite => ({ kind: "deleteWhere", where });
    try {
      const statements = compileDeleteMany(schema, where, this.dialect, t.codec);
      return await this.writes(this.explained(schema, written, async (r) => {
        let deleted = 0;
        for (const sql of statements) deleted += await r.run(sql.text, sql.params, false);
        return deleted;
      }), statements.length > 1);
    } catch (error) {
      throw await this.failedWrite(error, schema, written);
    }
  }
}

/** Moves `t`'s key generator past the largest explicit key of `rows`, as a database's own insert would. */
async function advanceKeyGenerator(runner: SqlRunner, t: SqlTable, rows: readonly Row[]): Promise<void> {
  const pk = t.pk.property;
  let max: number | undefined;
  for (const row of rows) {
    const key = row[pk];
    if (typeof key === "number" && (max === undefined || key > max)) max = key;
  }
  if (max !== undefined) await runner.all(t.advanceKeyGenerator!, [max], true);
}

/** One selected value through its decoder (`undefined`: read as it is); null stays null. */
function decodeSelected(decode: ((value: unknown) => unknown) | undefined, value: unknown): unknown {
  return value === null || value === undefined ? null : decode ? decode(value) : value;
}
