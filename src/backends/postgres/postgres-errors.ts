/**
 * PostgreSQL errors as Strata errors, by SQLSTATE, in one place: constraint violations name the entity's
 * fields, a connection lost or refused is a ConnectionError naming host and port, an aborted transaction a
 * TransactionError that says what to do.
 */
import { CapacityError, ConnectionError, IntegrityError, LockError, SchemaError, StorageError, TransactionError, ValidationError } from "../../errors.js";
import type { EntitySchema, LogicalType } from "../../schema/entity-schema.js";
import type { ForeignKeyCatalog } from "../sql/sql-foreign-keys.js";
import { FULL_TEXT_CLASH_STATE } from "./postgres-full-text.js";
import { driverFailure, keyExhausted, missingColumn, missingParent, missingTable, propertiesOf, stillReferenced, uniqueViolation } from "../sql/sql-errors.js";

/** Where the server is, for messages. */
export interface ServerAddress {
  readonly host: string;
  readonly port: number;
  readonly database: string;
}

/** Host, port and database of a postgres URL (without the password). */
export function serverAddress(url: string): ServerAddress {
  try {
    const parsed = new URL(url);
    return { host: parsed.hostname || "localhost", port: Number(parsed.port || 5432), database: decodeURIComponent(parsed.pathname.slice(1)) };
  } catch {
    return { host: "localhost", port: 5432, database: "" };
  }
}

/** Codes of a connection that could not be made (class 08 and 28 also). */
const CONNECT_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN", "3D000", "57P03", "53300", "08001", "08004"]);
/** Codes of a connection that was lost while in use: the server ended it (57P01 admin_shutdown, 57P02 crash_shutdown, 57P05 idle_session_timeout), or the socket broke. */
const LOST_CODES = new Set(["57P01", "57P02", "57P05", "ECONNRESET", "EPIPE"]);
/** pg's own words for a connection that ended under a query, or that already had. */
const LOST_MESSAGE = /Connection terminated|not queryable/i;

/** True when `error` says the connection is gone (not that a statement failed on a live one). */
export function isConnectionLoss(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  // 08P01 (protocol violation, e.g. too many bind parameters) leaves the connection up: not a loss.
  if (typeof code === "string" && (LOST_CODES.has(code) || code === "25P03" || (code.startsWith("08") && code !== "08P01" && !CONNECT_CODES.has(code)))) return true;
  return LOST_MESSAGE.test((error as Error)?.message ?? "");
}

/** An error's message (and SQLSTATE) on one line, for the log: pg's errors carry the whole Client, too much to print. */
export function oneLine(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  const message = ((error as Error)?.message ?? String(error)).replace(/\s*\n\s*/g, " ");
  return typeof code === "string" ? `${message} (${code})` : message;
}

/**
 * True when `error` says the server cannot answer at all (a connection refused, lost or not made in time,
 * the server starting up or shutting down), rather than that a statement failed on a live connection: what
 * takes a read replica out of rotation (postgres-replica-router.ts).
 */
export function isServerUnavailable(error: unknown): boolean {
  if (isConnectionLoss(error)) return true;
  const code = (error as { code?: unknown })?.code;
  // A refused login (class 28) or a missing database (3D000) counts too: that server cannot answer, another may.
  if (typeof code === "string" && (CONNECT_CODES.has(code) || code.startsWith("08") || code.startsWith("28"))) return true;
  // "Query read timeout": pg's query_timeout, set only on a read replica's own questions (a hung replica).
  return /timeout exceeded when trying to connect|Connection terminated due to connection timeout|Query read timeout/i.test((error as Error)?.message ?? "");
}

/** pg type names in data-exception messages, and the logical type whose columns they are stored in. */
const TYPE_NAMES: ReadonlyArray<[RegExp, LogicalType]> = [
  [/type jsonb?\b|JSON/, "json"],
  [/type (bigint|integer|smallint)\b/, "integer"],
  [/type (double precision|real|numeric)\b/, "number"],
  [/type timestamp|date\/time/, "datetime"],
  [/type boolean\b/, "boolean"],
];

/**
 * The entity fields a PostgreSQL error is about. PostgreSQL names the column of a NOT NULL violation, the
 * index of an index-size failure (sometimes), and only the type of a bad value: then the field is the one
 * column of that type, or of the indexed string and json columns, when there is exactly one.
 */
function fieldsOf(schema: EntitySchema, error: { column?: unknown; constraint?: unknown; message?: unknown }, type: LogicalType | "indexed" | undefined): string[] {
  if (typeof error.column === "string") return propertiesOf(schema, [error.column]);
  const constraint = typeof error.constraint === "string" ? error.constraint : /for index "([^"]+)"/.exec(String(error.message))?.[1];
  if (constraint !== undefined) {
    // PostgreSQL's names for the primary key and a unique constraint; Strata's own for declared indexes.
    if (constraint === `${schema.table}_pkey`) return [schema.primary.property];
    const declared = schema.indexes.find((i) => i.name === constraint);
    if (declared) return [...declared.properties];
    // PostgreSQL's default names of a one-column unique and check constraint.
    const column = schema.columns.find((c) => constraint === `${schema.table}_${c.name}_key` || constraint === `${schema.table}_${c.name}_check`);
    if (column) return [column.property];
  }
  if (type === undefined) return [];
  const indexed = new Set<string>([schema.primary.property, ...schema.indexes.flatMap((i) => i.properties)]);
  return schema.columns
    .filter((c) => (type === "indexed" ? indexed.has(c.property) && (c.type === "string" || c.type === "json") : c.type === type))
    .map((c) => c.property);
}

/** `{ table, field }` of an error about `fields` of `schema`, the field only when it is certain. */
function about(schema: EntitySchema | undefined, fields: readonly string[]): { table?: string; field?: string } {
  if (!schema) return {};
  return { table: schema.table, ...(fields.length === 1 ? { field: fields[0] } : {}) };
}

/** `Thing.label` or `Thing (one of a, b)` for messages. */
function subject(schema: EntitySchema, fields: readonly string[]): string {
  if (fields.length === 1) return `${schema.entityName}.${fields[0]}`;
  return fields.length > 1 ? `${schema.entityName} (one of ${fields.join(", ")})` : schema.entityName;
}

/** The columns of a unique violation's detail, `Key (a, b)=(1, 2) already exists.` */
function detailColumns(detail: unknown): string[] {
  if (typeof detail !== "string") return [];
  const match = /^Key \((.+?)\)=/.exec(detail);
  return match ? match[1]!.split(", ").map((c) => c.replace(/^"|"$/g, "")) : [];
}

/**
 * A foreign key violation (23503) as the agreed error naming the relation: PostgreSQL gives the
 * constraint's name and its (child) table, found in `catalog` or in the written `schema`, and the key in
 * its detail (`Key (c)=(v) is not present in table "p".` or `... is still referenced from table "c".`).
 * Undefined for a constraint neither knows.
 */
function foreignKeyViolation(error: { table?: unknown; constraint?: unknown; detail?: unknown }, schema: EntitySchema | undefined, catalog: ForeignKeyCatalog | undefined): IntegrityError | undefined {
  if (typeof error.table !== "string" || typeof error.constraint !== "string" || typeof error.detail !== "string") return undefined;
  const { table, constraint, detail } = error;
  // The written schema's own key first: a migration's schema is read from the table as it is now, where the
  // catalog may still hold the key as it was before a rename in the same migration.
  const own = schema?.table === table ? schema.foreignKeys.find((f) => f.name === constraint) : undefined;
  const known = own ? undefined : catalog?.find(table, constraint);
  const child = own ? schema : known?.child;
  const fk = own ?? known?.fk;
  const match = /^Key \((?:.+?)\)=\((.*)\) is (not present in|still referenced from) table /s.exec(detail);
  if (!child || !fk || !match) return undefined;
  const type = child.columnsByProperty.get(fk.property)?.type;
  const value = type === "integer" || type === "number" ? Number(match[1]) : match[1];
  return match[2] === "not present in" ? missingParent(child.table, fk, value, error) : stillReferenced(fk, value, child.table, error);
}

/**
 * True for a foreign key violation (23503) whose constraint neither the written `schema` nor `catalog` holds:
 * {@link foreignKeyViolation} cannot name it until the held keys are read again.
 */
export function isUnknownForeignKey(error: unknown, schema: EntitySchema, catalog: ForeignKeyCatalog): boolean {
  const { code, table, constraint } = (error ?? {}) as { code?: unknown; table?: unknown; constraint?: unknown };
  if (code !== "23503" || typeof table !== "string" || typeof constraint !== "string") return false;
  if (schema.table === table && schema.foreignKeys.some((f) => f.name === constraint)) return false;
  return catalog.find(table, constraint) === undefined;
}

/** A PostgreSQL driver error as a Strata error naming the table (and column when known); the driver error is the cause. */
export function mapPostgresError(error: unknown, schema: EntitySchema | undefined, server: ServerAddress, foreignKeys?: ForeignKeyCatalog): unknown {
  if (error instanceof StorageError) return error;
  const code = (error as { code?: unknown })?.code;
  const message = (error as Error)?.message ?? String(error);
  const where = `${server.host}:${server.port}`;
  const context = schema ? { table: schema.table } : {};
  if (code === "25P03") {
    return new TransactionError(
      `The transaction stayed idle longer than PostgreSQL's idle_in_transaction_session_timeout, so the server ended its connection and nothing of it was committed: ` +
        `keep awaits on other work out of transactions, or raise the setting (${message})`,
      { ...context, cause: error },
    );
  }
  if (isConnectionLoss(error)) {
    return new ConnectionError(
      `The connection to PostgreSQL at ${where} (database "${server.database}") was lost${schema ? ` during work on table "${schema.table}"` : ""}: ${message}. ` +
        `Work of an open transaction on it was rolled back; the storage goes on with new connections`,
      { ...context, cause: error },
    );
  }
  if (typeof code === "string" && (CONNECT_CODES.has(code) || code.startsWith("08") || code.startsWith("28"))) {
    return new ConnectionError(`Could not connect to PostgreSQL at ${where} (database "${server.database}"): ${message}`, { cause: error });
  }
  if (/timeout exceeded when trying to connect/i.test(message)) {
    return new ConnectionError(`No PostgreSQL connection from ${where} in time (every pooled connection busy, or the server unreachable): ${message}`, { cause: error });
  }
  if (typeof code === "string" && code.startsWith("54")) {
    // 54000 program_limit_exceeded is, in practice, a value too large for an index entry (a btree entry holds
    // about 2.7 kB, any index row 8 kB): a limit of PostgreSQL's index, not a wrong value, so CapacityError.
    const fields = schema ? fieldsOf(schema, error as object, code === "54000" && /index row/.test(message) ? "indexed" : undefined) : [];
    const what = /index row/.test(message)
      ? `a value too large for a PostgreSQL index entry (at most about 2.7 kB in a btree index; keep indexed and key values short, or index a hash of them)`
      : `a PostgreSQL limit`;
    return new CapacityError(`${schema ? `${subject(schema, fields)} in table "${schema.table}"` : "PostgreSQL"}: ${what} was exceeded, nothing was written: ${message}`, {
      ...about(schema, fields),
      cause: error,
    });
  }
  if (typeof code === "string" && code.startsWith("53")) {
    // 53100 disk_full, 53200 out_of_memory, 53400 configuration_limit_exceeded (53300 is a connection error above).
    return new CapacityError(`PostgreSQL at ${where} ran out of a resource${schema ? ` while writing table "${schema.table}"` : ""} (SQLSTATE ${code}), nothing was written: ${message}`, {
      ...context,
      cause: error,
    });
  }
  if (schema && code === "23505") {
    return uniqueViolation(schema, propertiesOf(schema, detailColumns((error as { detail?: unknown }).detail)), error);
  }
  if (schema && code === "23502") {
    const column = (error as { column?: unknown }).column;
    const field = typeof column === "string" ? propertiesOf(schema, [column])[0] : undefined;
    return new ValidationError(`${schema.entityName}${field ? `.${field}` : ""}: null is not allowed (table "${schema.table}")`, {
      table: schema.table,
      ...(field ? { field } : {}),
      cause: error,
    });
  }
  // sequence_generator_limit_exceeded: the MAXVALUE of the dialect's incrementPrimaryKey.
  if (schema && code === "2200H") return keyExhausted(schema, error);
  if (schema && code === "23514") {
    // A check constraint of the user's own (Strata declares none): the value is refused, so a ValidationError.
    const fields = fieldsOf(schema, error as object, undefined);
    return new ValidationError(`${subject(schema, fields)} in table "${schema.table}": the value is refused by a check constraint, nothing was written: ${message}`, {
      ...about(schema, fields),
      cause: error,
    });
  }
  if (code === "23503") {
    const violation = foreignKeyViolation(error as object, schema, foreignKeys);
    if (violation) return violation;
  }
  if (schema && typeof code === "string" && code.startsWith("23")) {
    // 23503 foreign key (its detail names the columns), 23P01 exclusion, 23001 restrict: constraints between rows.
    const detail = (error as { detail?: unknown }).detail;
    const fields = propertiesOf(schema, detailColumns(detail));
    return new IntegrityError(`${subject(schema, fields)} in table "${schema.table}": ${message}${typeof detail === "string" ? ` (${detail})` : ""}; nothing was written`, {
      ...about(schema, fields),
      cause: error,
    });
  }
  if (!schema && typeof code === "string" && code.startsWith("23")) {
    // A statement of the user's (storage.sql) or a commit: no entity to name, the database's words.
    const detail = (error as { detail?: unknown }).detail;
    return new IntegrityError(`${message}${typeof detail === "string" ? ` (${detail})` : ""}; nothing was written`, { cause: error });
  }
  if (code === FULL_TEXT_CLASH_STATE) return new SchemaError(message, { cause: error });
  if (schema && code === "42P01") return missingTable(schema, error);
  if (schema && code === "42703") return missingColumn(schema, /column (?:\w+\.)?"([^"]+)"/.exec((error as Error).message)?.[1], error);
  if (schema && (code === "22021" || code === "22P05")) {
    // 22P05 is jsonb refusing the escape \u0000 (its message names no type; its context says "JSON data").
    const fields = fieldsOf(schema, error as object, code === "22P05" || /json/i.test(message) ? "json" : "string");
    return new ValidationError(`${subject(schema, fields)}: PostgreSQL cannot store this text (it holds a NUL character, \\u0000) in table "${schema.table}"`, {
      ...about(schema, fields),
      cause: error,
    });
  }
  if (typeof code === "string" && code.startsWith("22")) {
    // A data exception: PostgreSQL names the type of the bad value (json, bigint, ...), rarely its column.
    const type = TYPE_NAMES.find(([pattern]) => pattern.test(message))?.[1];
    const fields = schema ? fieldsOf(schema, error as object, type) : [];
    const detail = (error as { detail?: unknown }).detail;
    return new ValidationError(
      `${schema ? `${subject(schema, fields)} in table "${schema.table}"` : "PostgreSQL"}: the value cannot be stored (SQLSTATE ${code}): ${message}${typeof detail === "string" ? ` (${detail})` : ""}`,
      { ...about(schema, fields), cause: error },
    );
  }
  if (code === "55P03") {
    return new LockError(`A PostgreSQL row or table lock was not granted within lock_timeout${schema ? ` (table "${schema.table}")` : ""}`, {
      ...(schema ? { table: schema.table } : {}),
      cause: error,
    });
  }
  if (code === "25P02") {
    return new TransactionError(
      "An earlier statement of this transaction failed, and PostgreSQL refuses every further statement until the transaction ends; " +
        "to go on after an error inside a transaction, run the statement that may fail in a nested storage.transaction() (a savepoint)",
      { ...(schema ? { table: schema.table } : {}), cause: error },
    );
  }
  if (code === "40P01" || code === "40001") {
    return new TransactionError(`PostgreSQL aborted the transaction (${message}); run it again`, { ...(schema ? { table: schema.table } : {}), cause: error });
  }
  return driverFailure("postgres", schema, error);
}
