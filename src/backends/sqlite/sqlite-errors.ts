/**
 * SQLite errors as Strata errors, by result code (better-sqlite3's `code`), in one place: constraint
 * violations name the entity's fields, a lock held too long is a LockError, a full disk a CapacityError.
 */
import { CapacityError, ConnectionError, IntegrityError, LockError, SchemaError, StorageError, ValidationError } from "../../errors.js";
import type { EntitySchema } from "../../schema/entity-schema.js";
import { driverFailure, keyExhausted, missingColumn, missingTable, propertiesOf, uniqueViolation } from "../sql/sql-errors.js";
import { ftsTableOf } from "./sqlite-full-text.js";

/**
 * What kind of lock conflict a SQLite error reports, by its result code, extended codes included
 * (SQLITE_BUSY_RECOVERY while another connection rebuilds the WAL index, SQLITE_BUSY_SNAPSHOT,
 * SQLITE_LOCKED_SHAREDCACHE): `"busy"` when another connection holds the file's lock (waiting may succeed),
 * `"locked"` for a conflict SQLite reports as SQLITE_LOCKED, undefined for anything else. The one place
 * every "is the database held" check of the SQLite backend reads a code.
 */
export function lockConflictOf(error: unknown): "busy" | "locked" | undefined {
  const code = (error as { code?: unknown })?.code;
  if (typeof code !== "string") return undefined;
  if (code.startsWith("SQLITE_BUSY")) return "busy";
  if (code.startsWith("SQLITE_LOCKED")) return "locked";
  return undefined;
}

/** SQLite refused because another connection holds the file's lock: retrying later may succeed. */
export function isBusy(error: unknown): boolean {
  return lockConflictOf(error) === "busy";
}

/** The columns of "UNIQUE constraint failed: t.a, t.b". */
function failedColumns(message: string): string[] {
  const match = /constraint failed: (.+)$/.exec(message);
  if (!match) return [];
  return match[1]!.split(", ").map((part) => part.slice(part.lastIndexOf(".") + 1));
}

/** A SQLite driver error as a Strata error (naming the table when known); the driver error is the cause. */
export function mapSqliteError(error: unknown, schema: EntitySchema | undefined, file: string, busyTimeoutMs: number): unknown {
  if (error instanceof StorageError) return error;
  const code = (error as { code?: unknown })?.code;
  const message = (error as Error)?.message ?? "";
  if (typeof code !== "string") return driverFailure("sqlite", schema, error);
  if (schema && (code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY")) {
    return uniqueViolation(schema, propertiesOf(schema, failedColumns(message)), error);
  }
  if (schema && code === "SQLITE_CONSTRAINT_NOTNULL") {
    const field = propertiesOf(schema, failedColumns(message))[0];
    return new ValidationError(`${schema.entityName}${field ? `.${field}` : ""}: null is not allowed (table "${schema.table}")`, {
      table: schema.table,
      ...(field ? { field } : {}),
      cause: error,
    });
  }
  // A foreign key failure the session could not explain (a table no entity declares): the words SQLite has.
  if (code === "SQLITE_CONSTRAINT_FOREIGNKEY") {
    return new IntegrityError(`A foreign key constraint failed${schema ? ` (writing table "${schema.table}")` : ""}: nothing was written`, {
      ...(schema ? { table: schema.table } : {}),
      cause: error,
    });
  }
  // A statement of the user's (storage.sql): no entity to name, SQLite's words.
  if (!schema && code.startsWith("SQLITE_CONSTRAINT")) return new IntegrityError(`${message}; nothing was written`, { cause: error });
  // The CHECK of the dialect's incrementPrimaryKey: the generator passed Number.MAX_SAFE_INTEGER.
  if (schema && code === "SQLITE_CONSTRAINT_CHECK" && message.includes("rowid <= 9007199254740991")) return keyExhausted(schema, error);
  if (schema && message.startsWith("no such table") && message.endsWith(ftsTableOf(schema.table))) {
    // The table is there; its full-text index (sqlite-full-text.ts) is not.
    const columns = JSON.stringify(schema.fullText?.properties.map((p) => schema.columnsByProperty.get(p)?.name ?? p) ?? []);
    return new SchemaError(
      `Table "${schema.table}" of ${schema.entityName} has no full-text index: create it in a migration (m.createFullTextIndex(${JSON.stringify(schema.table)}, ${columns})), or set autoCreate: true`,
      { table: schema.table, cause: error },
    );
  }
  if (schema && message.startsWith("no such table")) return missingTable(schema, error);
  if (schema && message.startsWith("no such column")) return missingColumn(schema, /no such column: (?:\w+\.)?"?([^"\s]+)"?/.exec(message)?.[1], error);
  if (lockConflictOf(error) !== undefined) {
    return new LockError(`The SQLite database ${file} stayed locked by another connection for longer than busy_timeout (${busyTimeoutMs} ms)`, {
      file,
      ...(schema ? { table: schema.table } : {}),
      cause: error,
    });
  }
  // Only SQLITE_FULL: the unix VFS reports ENOSPC as SQLITE_FULL, and every SQLITE_IOERR reads "disk I/O
  // error", so an I/O error (EIO of a failing disk) is not a full disk and must not say "free some space".
  if (code === "SQLITE_FULL") {
    // SQLite rolled the statement (or the transaction) back: nothing of this write is stored.
    return new CapacityError(
      `The disk holding the SQLite database ${file} is full${schema ? ` (writing table "${schema.table}")` : ""}: nothing of this write was stored; free some space and retry`,
      { file, ...(schema ? { table: schema.table } : {}), cause: error },
    );
  }
  if (code === "SQLITE_TOOBIG") {
    return new CapacityError(
      `SQLite refused a value as too big (SQLITE_MAX_LENGTH, about 1 GB per string or row)${schema ? ` in table "${schema.table}"` : ""}: nothing was stored`,
      { file, ...(schema ? { table: schema.table } : {}), cause: error },
    );
  }
  if (code.startsWith("SQLITE_CANTOPEN") || code.startsWith("SQLITE_NOTADB") || code.startsWith("SQLITE_READONLY")) {
    return new ConnectionError(`Could not use the SQLite database ${file}: ${message}`, { file, cause: error });
  }
  return driverFailure("sqlite", schema, error);
}
