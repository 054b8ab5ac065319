/**
 * Every error Strata throws. Each class has a stable `code` for programs, a message that names the
 * table, field or file involved, and the underlying driver error (if any) as `cause`.
 */

/** Context fields an error may carry. */
export interface ErrorContext {
  table?: string;
  field?: string;
  file?: string;
  version?: number;
  cause?: unknown;
}

/** The base class of every Strata error. */
export class StorageError extends Error {
  /** A stable machine-readable code, e.g. `"STRATA_VALIDATION"`. */
  readonly code: string = "STRATA_STORAGE";
  /** The table (entity table name) involved, if any. */
  readonly table?: string;
  /** The field (entity property) involved, if any. */
  readonly field?: string;
  /** The file involved, if any. */
  readonly file?: string;
  /** The migration or entity version involved, if any. */
  readonly version?: number;

  constructor(message: string, context: ErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.name = new.target.name;
    if (context.table !== undefined) this.table = context.table;
    if (context.field !== undefined) this.field = context.field;
    if (context.file !== undefined) this.file = context.file;
    if (context.version !== undefined) this.version = context.version;
  }
}

/** The configuration given to `createStorage` is invalid. `issues` lists every problem. */
export class ConfigError extends StorageError {
  override readonly code = "STRATA_CONFIG";
  /** Every problem found, each as `path: message`. */
  readonly issues: string[];
  constructor(issues: string[], context: ErrorContext = {}) {
    super(`Invalid storage configuration:\n  - ${issues.join("\n  - ")}`, context);
    this.issues = issues;
  }
}

/** The backend could not be reached or opened. */
export class ConnectionError extends StorageError {
  override readonly code = "STRATA_CONNECTION";
}

/** An entity declaration uses something Strata does not support, or the stored schema does not match. */
export class SchemaError extends StorageError {
  override readonly code = "STRATA_SCHEMA";
}

/** A value does not fit its column (wrong type, null into a non-nullable column, unknown field). */
export class ValidationError extends StorageError {
  override readonly code = "STRATA_VALIDATION";
}

/** A query names an unknown field or uses an operator wrongly. */
export class QueryError extends StorageError {
  override readonly code = "STRATA_QUERY";
}

/** The entity to update does not exist. */
export class NotFoundError extends StorageError {
  override readonly code = "STRATA_NOT_FOUND";
}

/** A primary key or unique column already holds the value. */
export class IntegrityError extends StorageError {
  override readonly code = "STRATA_INTEGRITY";
}

/** The stored version moved on since the entity was read (optimistic locking). */
export class ConcurrencyError extends StorageError {
  override readonly code = "STRATA_CONCURRENCY";
}

/** A transaction timed out, was used after it ended, or could not commit. */
export class TransactionError extends StorageError {
  override readonly code = "STRATA_TRANSACTION";
}

/** A migration is invalid, changed, missing, out of order, or failed. */
export class MigrationError extends StorageError {
  override readonly code = "STRATA_MIGRATION";
}

/** A lock (file directory, migration lock) could not be taken in time. */
export class LockError extends StorageError {
  override readonly code = "STRATA_LOCK";
}

/**
 * `strata backup restore` (or `restoreGeneration`) of a generation taken from another source (another
 * database file or directory, or an in-memory storage) than the storage it would restore into: refused,
 * nothing changed, unless the restore says so explicitly (`--force-source`, `{ forceSource: true }`), as
 * when a database was moved. `file` is the generation's directory.
 */
export class GenerationSourceError extends StorageError {
  override readonly code = "STRATA_GENERATION_SOURCE";
  /** The generation's name. */
  readonly generation: string;
  /** What the generation was taken from (its manifest's `source`). */
  readonly generationSource: string;
  /** What the restore would write into. */
  readonly targetSource: string;
  constructor(generation: string, generationSource: string, targetSource: string, context: ErrorContext = {}) {
    super(
      `Generation ${generation} was taken from ${generationSource}, not from ${targetSource}, which it would restore into. ` +
        `If that is what you mean (the database was moved or copied), restore again with --force-source ({ forceSource: true })`,
      context,
    );
    this.generation = generation;
    this.generationSource = generationSource;
    this.targetSource = targetSource;
  }
}

/** Stored data is damaged; Strata refuses to go on rather than overwrite it. */
export class CorruptionError extends StorageError {
  override readonly code = "STRATA_CORRUPTION";
}

/**
 * A limit of the backend or of the machine was reached: the disk is full, a value is too large for an
 * index, a table does not fit in the heap, a query needs more parameters or a deeper expression than the
 * backend allows and cannot be split. Nothing was written. The message names the limit and the table.
 */
export class CapacityError extends StorageError {
  override readonly code = "STRATA_CAPACITY";
}

/** The backend does not support the operation (e.g. `sql()` on the memory backend). */
export class UnsupportedError extends StorageError {
  override readonly code = "STRATA_UNSUPPORTED";
}
