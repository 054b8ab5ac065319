/**
 * Reading and writing rows: the part of the SPI every backend implements.
 */
import type { NormalizedQuery, NormalizedWhere } from "../query/query.js";
import type { EntitySchema, Row } from "../schema/entity-schema.js";

/** A primary-key value. */
export type Key = string | number;

/** The outcome of a conditional update. */
export type UpdateOutcome = { readonly row: Row } | "missing" | "conflict";

/** Reads and writes on one table at a time. Each write is atomic on its own. */
export interface DataSession {
  findById(schema: EntitySchema, key: Key): Promise<Row | null>;
  /** The rows found, in any order. */
  findByIds(schema: EntitySchema, keys: readonly Key[]): Promise<Row[]>;
  find(schema: EntitySchema, query: NormalizedQuery): Promise<Row[]>;
  count(schema: EntitySchema, where: NormalizedWhere): Promise<number>;
  /** Inserts a complete row; an `increment` key left null is generated. `IntegrityError` on a duplicate. */
  insert(schema: EntitySchema, row: Row): Promise<Row>;
  /**
   * Inserts the row, or, when its key exists, replaces every column but the key and the create date.
   * With `expectedVersion`, an existing row whose version differs is left alone and `"conflict"` returned.
   * On the update path the backend sets the version column to the stored version + 1.
   */
  upsert(schema: EntitySchema, row: Row, expectedVersion?: number): Promise<Row | "conflict">;
  /** Upserts many rows without version checks (bulk path of `saveMany`). Returns them in input order. */
  upsertMany(schema: EntitySchema, rows: readonly Row[]): Promise<Row[]>;
  /** Changes the given columns; sets version to stored + 1 when the entity is versioned. */
  update(schema: EntitySchema, key: Key, changes: Row, expectedVersion?: number): Promise<UpdateOutcome>;
  delete(schema: EntitySchema, key: Key): Promise<boolean>;
  deleteMany(schema: EntitySchema, where: NormalizedWhere): Promise<number>;
}
