/**
 * The batch writer behind `Repository.saveMany`: validates every entity first, then writes them in chunks,
 * one transaction (or savepoint) per chunk, and when a chunk fails retries its entities one by one to name
 * the ones that fail. What it needs from the repository (row preparation, the session, the conflict error)
 * is handed in once, at construction.
 */
import type { DataSession, UpsertManyOptions } from "../spi/index.js";
import { StorageError, ValidationError } from "../errors.js";
import type { ColumnSchema, EntitySchema, Row } from "../schema/entity-schema.js";
import { describeValue } from "../schema/row-values.js";
import type { TransactionManager } from "../transaction/transaction-manager.js";

/** The outcome of `saveMany`. */
export interface BatchResult {
  total: number;
  succeeded: number;
  failed: number;
  /** With `atomic: false`, each entity that failed and why. */
  errors: { index: number; error: StorageError }[];
}

/** Options of `saveMany`. */
export interface SaveManyOptions {
  /** Rows written per statement or step. @default 500 */
  chunkSize?: number;
  /** All or nothing: on the first failure nothing is written and the error is thrown. @default true */
  atomic?: boolean;
  /** Called after each chunk. */
  onProgress?(done: number, total: number): void;
}

/** An entity validated and turned into the complete row to write, with the version its caller read (if any). */
export interface PreparedRow {
  /** The row as an insert stores it (defaults filled; null for a required field left out, see `missing`). */
  readonly row: Row;
  readonly expectedVersion: number | undefined;
  readonly generatedKey: boolean;
  /**
   * A partial entity (a field left undefined): the properties it gives, which are all that an existing
   * row changes (besides its update date and version). Undefined for a complete entity.
   */
  readonly given: readonly string[] | undefined;
  /** The first required field (not nullable, no default) the partial entity leaves out: it can only update a row. */
  readonly missing: ColumnSchema | undefined;
}

/** What the batch writer takes from its repository. */
export interface BatchWriterParts {
  readonly schema: EntitySchema;
  readonly transactions: TransactionManager;
  /** Chunks are savepoints inside the batch's transaction only where the backend has them. */
  readonly supportsSavepoints: boolean;
  /** Partial entities go to `upsertMany` (with `given`) only where the backend has `supportsPartialUpsert`. */
  readonly supportsPartialUpsert: boolean;
  /** The session of the ambient transaction, else the autocommit one. */
  session(): DataSession;
  /** Validates an entity, building nothing; throws the {@link StorageError} that `prepare` would throw. */
  check(entity: unknown): void;
  /** Validates an entity and builds its row; throws a {@link StorageError} when it is invalid. */
  prepare(entity: unknown, now: Date): PreparedRow;
  /**
   * Writes one row on its own and returns it as stored: a versioned or partial one, which a bulk upsert
   * cannot write. Throws the `ConcurrencyError` of a stale version, the `ValidationError` of a partial row
   * that must be inserted without a required field.
   */
  write(session: DataSession, prepared: PreparedRow): Promise<Row>;
}

/** saveMany reports counts, never the rows as stored: the backend need not read them back. */
const WRITE_ONLY: UpsertManyOptions = { returnRows: false };

/** The `upsertMany` options of a run of rows that give `given` (all of them when undefined). */
function writeOnly(given: readonly string[] | undefined): UpsertManyOptions {
  return given === undefined ? WRITE_ONLY : { returnRows: false, given };
}

/** True when two partial rows give the same fields (both undefined: both complete). */
function sameFields(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Thrown by saveMany with the position of the entity that failed. */
function atIndex(error: unknown, index: number): unknown {
  if (error instanceof StorageError) {
    (error as { index?: number }).index = index;
    error.message = `saveMany item ${index}: ${error.message}`;
  }
  return error;
}

/** `saveMany` of one repository. */
export class BatchWriter {
  constructor(private readonly parts: BatchWriterParts) {}

  /** See `Repository.saveMany`. */
  async saveMany(entities: readonly unknown[], options: SaveManyOptions = {}): Promise<BatchResult> {
    const { schema, transactions } = this.parts;
    if (!Array.isArray(entities)) {
      throw new ValidationError(`${schema.entityName}: saveMany expects an array, got ${describeValue(entities)}`, { table: schema.table });
    }
    const chunkSize = options.chunkSize ?? 500;
    if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) {
      throw new ValidationError(`${schema.entityName}: saveMany chunkSize must be a positive integer, got ${describeValue(chunkSize)}`, {
        table: schema.table,
      });
    }
    const total = entities.length;
    const result: BatchResult = { total, succeeded: 0, failed: 0, errors: [] };
    const atomic = options.atomic !== false;
    /** With `atomic: false`, a failed entity is reported in the result and the rest go on. */
    const recordFailure = (index: number, error: StorageError) => {
      result.failed++;
      result.errors.push({ index, error });
    };
    const now = new Date();
    // Every entity is checked before anything is written, but its row is built only when its chunk is
    // written: 20,000 rows built up front outlived the young generation, and collecting them cost more
    // than building them. So at most one chunk of rows is alive at a time, in `prepared`, reused.
    /** With `atomic: false`, the entities that failed the check (nothing to build for them). */
    let invalid: Uint8Array | undefined;
    for (let index = 0; index < total; index++) {
      try {
        this.parts.check(entities[index]);
      } catch (error) {
        if (atomic) throw atIndex(error, index);
        (invalid ??= new Uint8Array(total))[index] = 1;
        recordFailure(index, error as StorageError);
      }
    }
    /** The rows of the chunk being written: entity `i` at `i - base`, undefined for one that failed. */
    const prepared: Array<PreparedRow | undefined> = new Array<PreparedRow | undefined>(Math.min(chunkSize, total));
    let base = 0;
    /**
     * Builds the rows of entities [start, end). Building checks again: an entity changed by its caller
     * while earlier chunks were written must not slip through unchecked. `onFailure` decides, as for writes.
     */
    const build = (start: number, end: number, onFailure: (index: number, error: StorageError) => void) => {
      base = start;
      for (let i = start; i < end; i++) {
        if (invalid?.[i]) {
          prepared[i - start] = undefined;
          continue;
        }
        try {
          prepared[i - start] = this.parts.prepare(entities[i], now);
        } catch (error) {
          prepared[i - start] = undefined;
          onFailure(i, error as StorageError);
        }
      }
    };
    const partialUpserts = this.parts.supportsPartialUpsert;
    /** True when `p` can be written by `upsertMany`: no version to check, and complete or a partial upsert. */
    const bulk = (p: PreparedRow) => p.expectedVersion === undefined && (p.given === undefined || (partialUpserts && p.missing === undefined));
    /** The entity whose own write (a versioned or partial row) was under way when writeRows last threw, else -1. */
    let failedAt = -1;
    /**
     * Writes entities [start, end) in their order: runs of unversioned rows that give the same fields
     * together (one `upsertMany` each; one run for complete rows), each other row on its own, after the run
     * before it, so a later row of a key wins.
     */
    const writeRows = async (start: number, end: number) => {
      const session = this.parts.session();
      const run: Row[] = [];
      let runGiven: readonly string[] | undefined;
      for (let i = start; i < end; i++) {
        const p = prepared[i - base];
        if (!p) continue;
        const joins = bulk(p);
        if (run.length > 0 && !(joins && sameFields(p.given, runGiven))) await session.upsertMany(schema, run.splice(0), writeOnly(runGiven));
        if (joins) {
          run.push(p.row);
          runGiven = p.given;
          continue;
        }
        failedAt = i;
        await this.parts.write(session, p);
        failedAt = -1;
      }
      if (run.length > 0) await session.upsertMany(schema, run, writeOnly(runGiven));
      transactions.noteWrite(schema.table);
    };
    /**
     * An atomic chunk where savepoints are missing: on a failure, the entity that caused it is found by
     * writing the chunk's unversioned rows again one at a time, in the same transaction. That is safe
     * because a failed upsertMany writes none of its rows, and the whole transaction rolls back anyway.
     */
    const writeRowsNamingFailure = async (start: number, end: number) => {
      try {
        await writeRows(start, end);
      } catch (error) {
        if (!(error instanceof StorageError)) throw error;
        if (failedAt >= 0) throw atIndex(error, failedAt);
        const session = this.parts.session();
        for (let i = start; i < end; i++) {
          const p = prepared[i - base];
          if (!p || !bulk(p)) continue;
          try {
            await session.upsertMany(schema, [p.row], writeOnly(p.given));
          } catch (single) {
            throw atIndex(single, i);
          }
        }
        throw error;
      }
    };
    const canNest = this.parts.supportsSavepoints;
    /**
     * Writes entities [start, end) in a transaction (a savepoint when nested). When the chunk fails, its
     * entities are retried one by one, each in its own (sub)transaction, to find which ones fail:
     * `onFailure` decides whether to go on (non-atomic) or throw (atomic).
     */
    const writeChunk = async (start: number, end: number, onFailure: (index: number, error: StorageError) => void) => {
      try {
        await transactions.run(() => writeRows(start, end));
        let written = 0;
        for (let i = start; i < end; i++) if (prepared[i - base]) written++;
        return written;
      } catch (error) {
        if (!(error instanceof StorageError) || end - start === 1) {
          if (end - start === 1) onFailure(start, error as StorageError);
          throw error;
        }
      }
      let written = 0;
      for (let i = start; i < end; i++) {
        if (!prepared[i - base]) continue;
        try {
          await transactions.run(() => writeRows(i, i + 1));
          written++;
        } catch (error) {
          onFailure(i, error as StorageError);
        }
      }
      return written;
    };
    if (atomic) {
      const fail = (index: number, error: StorageError): never => {
        throw atIndex(error, index);
      };
      await transactions.run(async () => {
        for (let start = 0; start < total; start += chunkSize) {
          const end = Math.min(total, start + chunkSize);
          build(start, end, fail);
          if (canNest) await writeChunk(start, end, fail);
          else await writeRowsNamingFailure(start, end);
          result.succeeded = end;
          options.onProgress?.(end, total);
        }
      });
      return result;
    }
    for (let start = 0; start < total; start += chunkSize) {
      const end = Math.min(total, start + chunkSize);
      build(start, end, recordFailure);
      result.succeeded += await writeChunk(start, end, recordFailure).catch(() => 0);
      options.onProgress?.(end, total);
    }
    result.errors.sort((a, b) => a.index - b.index);
    return result;
  }
}
