/** A SQL transaction as the SPI's {@link TransactionHandle}: a session on the transaction's connection. */
import type { Key, SchemaEditor, TransactionHandle, UpdateOutcome } from "../../spi/index.js";
import { TransactionError } from "../../errors.js";
import type { NormalizedQuery, NormalizedWhere } from "../../query/query.js";
import type { EntitySchema, Row } from "../../schema/entity-schema.js";
import { quoteIdentifier } from "./sql-dialect.js";
import type { SqlSession } from "./sql-session.js";

/** How a backend runs a statement without results on the transaction's connection, and lets go of it. */
export interface SqlTransactionConnection {
  /** Runs the statement; resolves to the server's command tag where the driver reports one. */
  exec(sql: string): Promise<string | void>;
  /** Gives the connection back (to the pool, or the writer queue); `broken` when it is unusable. */
  finish(broken: boolean): void;
  /** Maps a driver error of a transaction statement. */
  mapError(error: unknown): unknown;
}

export class SqlTransaction implements TransactionHandle {
  private done = false;
  private editor: SchemaEditor | undefined;

  constructor(
    private readonly session: SqlSession,
    private readonly connection: SqlTransactionConnection,
    /** Makes the schema editor on this transaction's connection (migrations), on first use. */
    private readonly makeEditor?: () => SchemaEditor,
  ) {}

  schema(): SchemaEditor {
    this.open();
    if (!this.makeEditor) throw new TransactionError("This transaction has no schema editor");
    return (this.editor ??= this.makeEditor());
  }

  private open(): SqlSession {
    if (this.done) throw new TransactionError("The transaction has already ended");
    return this.session;
  }

  findById(schema: EntitySchema, key: Key): Promise<Row | null> {
    return this.open().findById(schema, key);
  }
  findByIds(schema: EntitySchema, keys: readonly Key[]): Promise<Row[]> {
    return this.open().findByIds(schema, keys);
  }
  find(schema: EntitySchema, query: NormalizedQuery): Promise<Row[]> {
    return this.open().find(schema, query);
  }
  count(schema: EntitySchema, where: NormalizedWhere): Promise<number> {
    return this.open().count(schema, where);
  }
  insert(schema: EntitySchema, row: Row): Promise<Row> {
    return this.open().insert(schema, row);
  }
  upsert(schema: EntitySchema, row: Row, expectedVersion?: number): Promise<Row | "conflict"> {
    return this.open().upsert(schema, row, expectedVersion);
  }
  upsertMany(schema: EntitySchema, rows: readonly Row[]): Promise<Row[]> {
    return this.open().upsertMany(schema, rows);
  }
  update(schema: EntitySchema, key: Key, changes: Row, expectedVersion?: number): Promise<UpdateOutcome> {
    return this.open().update(schema, key, changes, expectedVersion);
  }
  delete(schema: EntitySchema, key: Key): Promise<boolean> {
    return this.open().delete(schema, key);
  }
  deleteMany(schema: EntitySchema, where: NormalizedWhere): Promise<number> {
    return this.open().deleteMany(schema, where);
  }

  private async exec(sql: string): Promise<string | void> {
    this.open();
    try {
      return await this.connection.exec(sql);
    } catch (error) {
      throw this.connection.mapError(error);
    }
  }

  async savepoint(name: string): Promise<void> {
    await this.exec(`SAVEPOINT ${quoteIdentifier(name)}`);
  }
  async rollbackToSavepoint(name: string): Promise<void> {
    await this.exec(`ROLLBACK TO SAVEPOINT ${quoteIdentifier(name)}`);
  }
  async releaseSavepoint(name: string): Promise<void> {
    await this.exec(`RELEASE SAVEPOINT ${quoteIdentifier(name)}`);
  }

  /** Commits; on failure the transaction stays open so that the caller's rollback can end it. */
  async commit(): Promise<void> {
    const tag = await this.exec("COMMIT");
    this.done = true;
    this.connection.finish(false);
    // PostgreSQL answers COMMIT of a transaction aborted by an earlier failed statement (one the callback
    // caught) with the tag ROLLBACK and no error: every write is gone, and the caller must hear it.
    if (tag === "ROLLBACK") {
      throw new TransactionError(
        "The transaction was rolled back, not committed: a statement inside it failed (and was caught), which aborts a PostgreSQL transaction. Put a write that may fail in a nested storage.transaction() (a savepoint)",
      );
    }
  }

  async rollback(): Promise<void> {
    if (this.done) return;
    this.done = true;
    let broken = false;
    try {
      await this.connection.exec("ROLLBACK");
    } catch {
      // The connection lost the transaction (e.g. it failed to commit): it is unusable for the next one.
      broken = true;
    } finally {
      this.connection.finish(broken);
    }
  }
}
