/** A SQL transaction as the SPI's {@link TransactionHandle}: a session on the transaction's connection. */
import type { Key, SchemaEditor, SearchHit, SearchRequest, SqlResult, TransactionHandle, UpdateOutcome, UpsertManyOptions } from "../../spi/index.js";
import { TransactionError, UnsupportedError } from "../../errors.js";
import type { NormalizedQuery, NormalizedWhere } from "../../query/query.js";
import type { EntitySchema, Row } from "../../schema/entity-schema.js";
import { quoteIdentifier } from "./sql-dialect.js";
import type { SqlRunner, WriteGate } from "./sql-runner.js";
import type { SqlSession } from "./sql-session.js";

/** The connection a driver holds for one transaction, from its `BEGIN` to its end. */
export interface SqlTransactionConnection {
  /** Runs the transaction's reads, and its schema editor's statements. */
  readonly runner: SqlRunner;
  /** Runs its writes (checking first, where the database may end a transaction on its own, that it has not). */
  readonly writes: WriteGate;
  /** Runs a statement without results (a savepoint's, `ROLLBACK`). */
  exec(sql: string): Promise<void>;
  /**
   * Sends `COMMIT`. Resolves to the error the caller must get when the database ended the transaction
   * without committing it and without an error (PostgreSQL's answer to COMMIT of an aborted transaction),
   * else to undefined. It is thrown only once the connection is given back: the transaction has ended.
   */
  commit(): Promise<Error | undefined>;
  /** Gives the connection back (to the pool, or the writer queue); `broken` when it is unusable. */
  finish(broken: boolean): void;
}

/**
 * The handle of a begun transaction: `session` runs its reads and writes (refused once it has ended),
 * `connection` its savepoints and end, `makeEditor` its schema editor (migrations), made on first use.
 * A class with its methods on the prototype, not an object of closures: a transaction is a hot path, and
 * `begin()` allocates nothing per method.
 */
export class SqlTransaction implements TransactionHandle {
  private done = false;
  private editor: SchemaEditor | undefined;

  constructor(
    private readonly session: SqlSession,
    private readonly connection: SqlTransactionConnection,
    /** The driver's mapping of an error of the transaction's own statements (savepoints, COMMIT). */
    private readonly mapError: (error: unknown) => unknown,
    private readonly makeEditor?: () => SchemaEditor,
  ) {}

  /** The refusal of a call on an ended transaction, as a rejected promise (as from an async method). */
  private ended(): Promise<never> {
    return Promise.reject(new TransactionError("The transaction has already ended"));
  }

  // Each data method goes straight to the session once the check that the transaction is open passes.
  findById(schema: EntitySchema, key: Key): Promise<Row | null> {
    return this.done ? this.ended() : this.session.findById(schema, key);
  }
  findByIds(schema: EntitySchema, keys: readonly Key[]): Promise<Row[]> {
    return this.done ? this.ended() : this.session.findByIds(schema, keys);
  }
  find(schema: EntitySchema, query: NormalizedQuery): Promise<Row[]> {
    return this.done ? this.ended() : this.session.find(schema, query);
  }
  count(schema: EntitySchema, where: NormalizedWhere): Promise<number> {
    return this.done ? this.ended() : this.session.count(schema, where);
  }
  insert(schema: EntitySchema, row: Row): Promise<Row> {
    return this.done ? this.ended() : this.session.insert(schema, row);
  }
  upsert(schema: EntitySchema, row: Row, expectedVersion?: number, given?: readonly string[]): Promise<Row | "conflict"> {
    return this.done ? this.ended() : this.session.upsert(schema, row, expectedVersion, given);
  }
  upsertMany(schema: EntitySchema, rows: readonly Row[], options?: UpsertManyOptions): Promise<Row[]> {
    return this.done ? this.ended() : this.session.upsertMany(schema, rows, options);
  }
  update(schema: EntitySchema, key: Key, changes: Row, expectedVersion?: number): Promise<UpdateOutcome> {
    return this.done ? this.ended() : this.session.update(schema, key, changes, expectedVersion);
  }
  delete(schema: EntitySchema, key: Key): Promise<boolean> {
    return this.done ? this.ended() : this.session.delete(schema, key);
  }
  deleteMany(schema: EntitySchema, where: NormalizedWhere): Promise<number> {
    return this.done ? this.ended() : this.session.deleteMany(schema, where);
  }
  sql(strings: readonly string[], values: readonly unknown[]): Promise<SqlResult> {
    return this.done ? this.ended() : this.session.sql(strings, values);
  }
  /** On the prototype like the others; a dialect without full-text search answers as a session without `search` would. */
  search(schema: EntitySchema, request: SearchRequest): Promise<SearchHit[]> {
    if (this.done) return this.ended();
    const search = this.session.search;
    return search ? search(schema, request) : Promise.reject(new UnsupportedError(`${schema.entityName}: this backend has no full-text search`));
  }

  schema(): SchemaEditor {
    if (this.done) throw new TransactionError("The transaction has already ended");
    if (!this.makeEditor) throw new TransactionError("This transaction has no schema editor");
    return (this.editor ??= this.makeEditor());
  }

  private async exec(sql: string): Promise<void> {
    if (this.done) return this.ended();
    try {
      await this.connection.exec(sql);
    } catch (error) {
      throw this.mapError(error);
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
    if (this.done) return this.ended();
    let notCommitted: Error | undefined;
    try {
      notCommitted = await this.connection.commit();
    } catch (error) {
      throw this.mapError(error);
    }
    this.done = true;
    this.connection.finish(false);
    // Every write is gone although COMMIT did not fail: the caller must hear it.
    if (notCommitted) throw notCommitted;
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
