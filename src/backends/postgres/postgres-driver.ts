/**
 * pg under the SQL session: a runner over a pool or one client that sends the hot-path texts as named
 * prepared statements (parsed once per connection), rows as arrays; and the translation of PostgreSQL
 * errors into Strata errors.
 */
import type { Pool, PoolClient, QueryArrayConfig } from "pg";
import { ConnectionError, LockError, StorageError, TransactionError, ValidationError } from "../../errors.js";
import type { EntitySchema } from "../../schema/entity-schema.js";
import { driverFailure, keyExhausted, missingTable, uniqueViolation, missingColumn } from "../sql/sql-errors.js";
import { propertiesOf } from "../sql/sql-schema.js";
import type { SqlRunner } from "../sql/sql-session.js";

/** Names of prepared statements by text, shared by every connection of a backend. */
export class StatementNames {
  private readonly names = new Map<string, string>();
  of(text: string): string {
    let name = this.names.get(text);
    if (name === undefined) this.names.set(text, (name = `strata_${this.names.size + 1}`));
    return name;
  }
}

/** Runs statements on a pool (each on any free connection) or on one client (a transaction). */
export class PostgresRunner implements SqlRunner {
  constructor(
    private readonly target: Pool | PoolClient,
    private readonly names: StatementNames,
  ) {}

  private config(text: string, params: readonly unknown[], prepared: boolean): QueryArrayConfig {
    const values = params as unknown[];
    return prepared ? { name: this.names.of(text), text, values, rowMode: "array" } : { text, values, rowMode: "array" };
  }

  async all(text: string, params: readonly unknown[], prepared: boolean): Promise<unknown[][]> {
    return (await this.target.query(this.config(text, params, prepared))).rows;
  }

  async run(text: string, params: readonly unknown[], prepared: boolean): Promise<number> {
    return (await this.target.query(this.config(text, params, prepared))).rowCount ?? 0;
  }
}

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

const CONNECTION_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "ETIMEDOUT", "ECONNRESET", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN", "3D000", "57P01", "57P02", "57P03"]);

/** The columns of a unique violation's detail, `Key (a, b)=(1, 2) already exists.` */
function detailColumns(detail: unknown): string[] {
  if (typeof detail !== "string") return [];
  const match = /^Key \((.+?)\)=/.exec(detail);
  return match ? match[1]!.split(", ").map((c) => c.replace(/^"|"$/g, "")) : [];
}

/** A PostgreSQL driver error as a Strata error naming the table (and column when known); the driver error is the cause. */
export function mapPostgresError(error: unknown, schema: EntitySchema | undefined, server: ServerAddress): unknown {
  if (error instanceof StorageError) return error;
  const code = (error as { code?: unknown })?.code;
  const message = (error as Error)?.message ?? String(error);
  const where = `${server.host}:${server.port}`;
  if (typeof code === "string" && (CONNECTION_CODES.has(code) || code.startsWith("08") || code.startsWith("28"))) {
    return new ConnectionError(`Could not connect to PostgreSQL at ${where} (database "${server.database}"): ${message}`, { cause: error });
  }
  if (/timeout exceeded when trying to connect|Connection terminated/i.test(message)) {
    return new ConnectionError(`No PostgreSQL connection from ${where} in time (every pooled connection busy, or the server unreachable): ${message}`, { cause: error });
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
  // sequence_generator_limit_exceeded: the MAXVALUE of POSTGRES_INCREMENT_PRIMARY_KEY.
  if (schema && code === "2200H") return keyExhausted(schema, error);
  if (schema && code === "42P01") return missingTable(schema, error);
  if (schema && code === "42703") return missingColumn(schema, /column (?:\w+\.)?"([^"]+)"/.exec((error as Error).message)?.[1], error);
  if (schema && (code === "22021" || code === "22P05")) {
    return new ValidationError(`${schema.entityName}: PostgreSQL cannot store this text (it holds a NUL character, \\u0000) in table "${schema.table}"`, {
      table: schema.table,
      cause: error,
    });
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
