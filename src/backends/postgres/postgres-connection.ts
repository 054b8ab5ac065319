/**
 * pg under the SQL session: a runner over a pool or one client that sends the hot-path texts as named
 * prepared statements (parsed once per connection; unnamed behind PgBouncer), rows as arrays; and a guard
 * for clients checked out of the pool.
 */
import type { Pool, PoolClient, QueryArrayConfig, QueryConfig, QueryResult } from "pg";
import type { SqlResult } from "../../spi/index.js";
import { TransactionError } from "../../errors.js";
import type { SqlRunner } from "../sql/sql-runner.js";
import { noteStatement } from "../../observe/operation-trace.js";
import type { COMMIT_WITH_POSITION } from "./postgres-commit-positions.js";

/**
 * At most this many texts are named. A named statement stays prepared on each connection that ran it until
 * the connection ends, and partial saves and updates make a text per set of fields given (any of 2^columns
 * when a program saves what a request holds): past the bound, a text runs unnamed, parsed at each call.
 */
export const MAX_NAMED_STATEMENTS = 1000;

/**
 * Names of prepared statements by text, shared by every connection of a pool. Behind PgBouncer in
 * transaction pooling (`max` 0) nothing is named: a statement prepared on one server connection is
 * missing on the next one the pooler hands out ("prepared statement "strata_1" does not exist" before
 * PgBouncer 1.21), so every text runs unnamed, parsed and run in one round trip on whichever server it gets.
 */
export class StatementNames {
  private readonly names = new Map<string, string>();
  constructor(private readonly max = MAX_NAMED_STATEMENTS) {}
  /** The name of `text`, or undefined when `max` texts have one already (always, when `max` is 0). */
  of(text: string): string | undefined {
    let name = this.names.get(text);
    if (name === undefined && this.names.size < this.max) this.names.set(text, (name = `strata_${this.names.size + 1}`));
    return name;
  }
}

/**
 * A client checked out of the pool for a transaction, a multi-statement write, a migration or the
 * migration lock. pg emits `error` on a client whose connection ends (the server terminated it, a
 * session timeout, the network); the pool listens only while the client is idle, and an `error` with no
 * listener is an uncaught exception that ends the process. So while checked out the failure is kept
 * here: every later query fails with it at once, and {@link HeldConnection.release} destroys the client
 * instead of handing it to the next caller.
 */
export class HeldConnection {
  private lostWith: Error | undefined;
  /** True once the transaction's COMMIT or ROLLBACK was sent (see {@link HeldConnection.end}). */
  private ended = false;
  private readonly onError = (error: Error): void => {
    if (this.lostWith) return;
    this.lostWith = error;
    this.onLost?.(error);
  };

  constructor(
    private readonly client: PoolClient,
    /** Told once, when the connection is lost while held. */
    private readonly onLost?: (error: Error) => void,
  ) {
    client.on("error", this.onError);
  }

  /** The error that ended the connection while it was held, if any. */
  get lost(): Error | undefined {
    return this.lostWith;
  }

  /** Runs a statement; once the connection is lost, fails with the error that ended it. */
  async query(statement: string | QueryArrayConfig | QueryConfig, values?: unknown[]): Promise<QueryResult> {
    if (this.lostWith) throw this.lostWith;
    if (this.ended) {
      // A multi-statement write that was mid-way when its transaction timed out and rolled back: pg would
      // send its next statement after the ROLLBACK, in autocommit, or inside the next holder's transaction.
      throw new TransactionError("The transaction has already ended (committed or rolled back): a statement issued after its end was not run");
    }
    return (await this.client.query(statement as string, values)) as QueryResult;
  }

  /**
   * Sends the transaction's `COMMIT` or `ROLLBACK` (or the commit followed by the primary's WAL position, whose
   * answer is one result per statement); from then on {@link HeldConnection.query} refuses statements.
   */
  async end(statement: "COMMIT" | "ROLLBACK"): Promise<QueryResult>;
  async end(statement: typeof COMMIT_WITH_POSITION): Promise<QueryResult[]>;
  async end(statement: string): Promise<QueryResult | QueryResult[]> {
    if (this.lostWith) throw this.lostWith;
    this.ended = true;
    return this.client.query(statement) as Promise<QueryResult | QueryResult[]>;
  }

  /** Gives the client back to the pool, or destroys it when it is `broken` or its connection was lost. */
  release(broken = false): void {
    const destroy = broken || this.lostWith !== undefined;
    // A destroyed client may still report its socket closing: keep listening so that stays quiet.
    if (!destroy) this.client.removeListener("error", this.onError);
    this.client.release(destroy ? (this.lostWith ?? true) : undefined);
  }
}

/** Runs statements on a pool (each on any free connection) or on one held connection (a transaction). */
export class PostgresRunner implements SqlRunner {
  constructor(
    private readonly target: Pool | HeldConnection,
    private readonly names: StatementNames,
  ) {}

  private config(text: string, params: readonly unknown[], prepared: boolean): QueryArrayConfig {
    const values = params as unknown[];
    const name = prepared ? this.names.of(text) : undefined;
    return name !== undefined ? { name, text, values, rowMode: "array" } : { text, values, rowMode: "array" };
  }

  async all(text: string, params: readonly unknown[], prepared: boolean): Promise<unknown[][]> {
    noteStatement(text, params);
    return (await this.target.query(this.config(text, params, prepared))).rows;
  }

  async run(text: string, params: readonly unknown[], prepared: boolean): Promise<number> {
    noteStatement(text, params);
    return (await this.target.query(this.config(text, params, prepared))).rowCount ?? 0;
  }

  /**
   * See {@link SqlRunner.snapshot}: on a pool, one client checked out for `BEGIN ISOLATION LEVEL REPEATABLE
   * READ READ ONLY` ... `COMMIT` (behind PgBouncer in transaction pooling, the explicit transaction keeps its
   * statements on one server connection; on a hot standby such a transaction is allowed). On a held
   * connection, `work` runs on it: that is a transaction already, at the isolation level its owner chose.
   */
  async snapshot<T>(work: (runner: SqlRunner) => Promise<T>): Promise<T> {
    const target = this.target;
    if (target instanceof HeldConnection) return work(this);
    const client = new HeldConnection(await target.connect());
    // Until its transaction is known to have ended, the client may be inside it: never handed out again.
    let broken = true;
    try {
      await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      let result: T;
      try {
        result = await work(new PostgresRunner(client, this.names));
      } catch (error) {
        await client.end("ROLLBACK").then(
          () => (broken = false),
          () => {},
        );
        throw error;
      }
      await client.end("COMMIT");
      broken = false;
      return result;
    } finally {
      client.release(broken);
    }
  }

  async query(text: string, params: readonly unknown[]): Promise<SqlResult> {
    noteStatement(text, params);
    // The extended protocol even without parameters: it refuses a text holding more than one statement.
    // (queryMode is pg's, missing from its type definitions.)
    const config = { text, values: params as unknown[], queryMode: "extended" } as QueryConfig;
    const result: QueryResult = await this.target.query(config);
    return { rows: result.rows as Record<string, unknown>[], wrote: !READ_ONLY_COMMANDS.has(result.command) || MAY_WRITE.test(text) };
  }
}

/** Command tags of statements that change nothing (a function called by a select may still write: not seen). */
const READ_ONLY_COMMANDS = new Set(["SELECT", "SHOW", "EXPLAIN", "VALUES", "FETCH"]);
/**
 * A write the command tag does not show: a data-modifying WITH is tagged SELECT, EXPLAIN ANALYZE runs the
 * statement it explains. Any of these words (bar a locking `FOR [NO KEY] UPDATE`) counts as a write: a
 * cache dropped for nothing costs a read, a cache left stale returns old data.
 */
const MAY_WRITE = /\b(?:insert|delete|merge|(?<!\bfor\s+(?:no\s+key\s+)?)update)\b/i;
