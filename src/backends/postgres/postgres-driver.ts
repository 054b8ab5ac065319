/**
 * The PostgreSQL driver on a pg `Pool` (`poolSize` connections, `timeoutMs` to connect): the connections,
 * write gate and transactions the {@link SqlBackend} skeleton runs on.
 *
 * - Reads and single writes outside a transaction run on any pooled connection, in autocommit.
 * - A transaction holds one pooled connection from `BEGIN` to `COMMIT`/`ROLLBACK`, at READ COMMITTED.
 *   Every row it reads (findById, findByIds, find) is read `FOR UPDATE`: a read-modify-write transaction
 *   holds its rows until it ends, so concurrent ones (in this process or another) queue on the row
 *   instead of losing an update. Consequences: a transaction that reads many rows locks them all; two
 *   transactions reading the same rows in opposite orders can deadlock, which PostgreSQL breaks by
 *   failing one with a `TransactionError` (run it again); `count` takes no lock, and rows inserted by
 *   others after a `find` are not locked by it. A lock not granted within `timeoutMs` is a `LockError`.
 * - A walk (`repo.iterate`) outside a transaction whose order no index serves streams one select as a
 *   server-side cursor, on a client of the walk's own outside the pool (`streams`, postgres-streamer.ts).
 * - With `postgres.replicas`, reads outside a transaction go to a replica that has replayed this process's
 *   writes, and fail over between servers (postgres-replica-router.ts, postgres-commit-positions.ts); the
 *   rest stays on this pool.
 * - Values: see postgres-dialect.ts (`text COLLATE "C"`, `bigint`, `double precision`, `timestamptz(3)`, `jsonb`).
 */
import pg from "pg";
import type { QueryResult } from "pg";
import { DEFAULT_CAPABILITIES } from "../../spi/index.js";
import type { BackendCapabilities, BackendContext, ServerStatus } from "../../spi/index.js";
import type { ResolvedConfig } from "../../config/resolved-config.js";
import { ConnectionError, StorageError, TransactionError, UnsupportedError } from "../../errors.js";
import type { Logger } from "../../logger.js";
import type { EntitySchema } from "../../schema/entity-schema.js";
import type { SqlDriver } from "../sql/sql-backend.js";
import type { ForeignKeyCatalog } from "../sql/sql-foreign-keys.js";
import type { WriteGate } from "../sql/sql-runner.js";
import type { SqlRunner, SqlStreamer } from "../sql/sql-runner.js";
import type { SqlTransactionConnection } from "../sql/sql-transaction.js";
import { COMMIT_WITH_POSITION, CommitPositions, CURRENT_POSITION, parseLsn } from "./postgres-commit-positions.js";
import { HeldConnection, PostgresRunner, StatementNames } from "./postgres-connection.js";
import type { ServerAddress } from "./postgres-errors.js";
import { isConnectionLoss, mapPostgresError, oneLine, serverAddress } from "./postgres-errors.js";
import { PostgresMigrationLock } from "./postgres-migration-lock.js";
import type { ReplicaSettings } from "./postgres-replica-router.js";
import { PostgresReplicaRouter } from "./postgres-replica-router.js";
import { PostgresStreamer } from "./postgres-streamer.js";

/** The advisory lock that serializes autoCreate between processes starting at once. */
const DDL_LOCK = 0x5374_7261;

/** The error of a COMMIT that PostgreSQL answered with the tag ROLLBACK (see `begin`). */
const ROLLED_BACK_AT_COMMIT =
  "The transaction was rolled back, not committed: a statement inside it failed (and was caught), which aborts a PostgreSQL transaction. Put a write that may fail in a nested storage.transaction() (a savepoint)";

export class PostgresDriver implements SqlDriver {
  readonly capabilities: BackendCapabilities = {
    ...DEFAULT_CAPABILITIES,
    supportsSavepoints: true,
    supportsTransactionalDdl: true,
    supportsMultipleConnections: true,
    supportsSql: true,
    persistent: true,
  };
  /** The primary's pool, or with replicas the router that sends each read to one (postgres-replica-router.ts). */
  readonly reads: SqlRunner;
  readonly writes: WriteGate;
  readonly streams: SqlStreamer;
  /** The primary's pool runner: writes, and reads when no replica is configured. */
  private readonly primary: PostgresRunner;
  private readonly primaryStreams: PostgresStreamer;
  /** With replicas: where reads go, and the positions they must find replayed. */
  private readonly router: PostgresReplicaRouter | undefined;
  private readonly positions: CommitPositions | undefined;
  private readonly names = new StatementNames();
  private closed = false;
  /** Migration runners across processes: a session advisory lock on a connection of its own. */
  readonly migrationLock: PostgresMigrationLock;

  /** True once {@link PostgresDriver.close} has begun. */
  get isClosed(): boolean {
    return this.closed;
  }

  private constructor(
    private readonly pool: pg.Pool,
    private readonly server: ServerAddress,
    private readonly logger: Logger,
    /** Clients `BEGIN` may find dead before it gets a live one: every pooled one, then a new one. */
    private readonly beginAttempts: number,
    /** A new client with the pool's settings, outside it (a streamed walk's). */
    newClient: () => pg.Client,
    /** `StorageConfig.postgres` with defaults: the replicas, the lag a read waits for, the pooler, the direct URL. */
    readonly scaleOut: ResolvedConfig["postgres"],
    /** Each of `scaleOut.replicas` with the pool's settings on its URL. */
    replicas: readonly ReplicaSettings[] = [],
  ) {
    this.migrationLock = new PostgresMigrationLock(
      () =>
        this.connect((error) =>
          this.logger.warn(
            `The connection holding the PostgreSQL migration lock to ${server.host}:${server.port} was lost (${oneLine(error)}); ` +
              `the run commits no further migration, since another runner may take the lock meanwhile`,
          ),
        ),
      (error) => this.mapError(error, undefined),
    );
    const primary = (this.primary = new PostgresRunner(pool, this.names));
    this.primaryStreams = new PostgresStreamer(
      primary,
      newClient,
      () => new ConnectionError(`The PostgreSQL storage for ${server.host}:${server.port} (database "${server.database}") is closed`),
    );
    if (replicas.length > 0) {
      const positions = (this.positions = new CommitPositions(`${server.host}:${server.port}`, async () => parseLsn((await primary.all(CURRENT_POSITION, [], true))[0]?.[0])));
      this.router = new PostgresReplicaRouter(primary, this.primaryStreams, replicas, positions, scaleOut.maxReplicaLagMs, logger);
    } else {
      this.positions = undefined;
      this.router = undefined;
    }
    this.reads = this.router ?? primary;
    this.streams = this.router?.streams ?? this.primaryStreams;
    const positions = this.positions;
    this.writes = async (work, multiStatement) => {
      if (!multiStatement) {
        if (!positions) return work(primary);
        // Counted whether it succeeded or not: a write whose answer was lost may still have committed.
        try {
          return await work(primary);
        } finally {
          positions.wrote();
        }
      }
      const client = await this.connectInTransaction();
      let broken = false;
      try {
        try {
          const result = await work(new PostgresRunner(client, this.names));
          await this.commit(client);
          return result;
        } catch (error) {
          await client.end("ROLLBACK").catch(() => (broken = true));
          throw error;
        }
      } finally {
        client.release(broken);
      }
    };
  }

  /**
   * Connects (failing with a `ConnectionError` naming host and port) and runs `createTables` (autoCreate's
   * statements) in one transaction, serialized with other processes starting at once.
   */
  static async open(context: BackendContext, createTables: readonly string[]): Promise<PostgresDriver> {
    const { config } = context;
    const server = serverAddress(config.url);
    const { connectionString, options } = withLockTimeout(config.url, config.timeoutMs);
    const settings = { connectionString, options, connectionTimeoutMillis: config.timeoutMs };
    const pool = new pg.Pool({ ...settings, max: config.poolSize });
    // An idle connection dropped by the server must not crash the process; the pool has already removed it
    // and the next query opens a new one. One line: pg attaches the whole Client to this error, which
    // printed as a detail fills the log. After close, pool.end() has let go of connections whose sockets
    // may still be closing: stay quiet then.
    const driverRef: { current?: PostgresDriver } = {};
    pool.on("error", (error) => {
      if (driverRef.current?.isClosed) return;
      context.logger.warn(`An idle PostgreSQL connection to ${server.host}:${server.port} (database "${server.database}") failed and left the pool: ${oneLine(error)}`);
    });
    const replicas = config.postgres.replicas.map((url): ReplicaSettings => {
      const own = withLockTimeout(url, config.timeoutMs);
      return {
        url,
        address: serverAddress(url),
        client: { connectionString: own.connectionString, options: own.options, connectionTimeoutMillis: config.timeoutMs },
        poolSize: config.poolSize,
      };
    });
    const driver = new PostgresDriver(pool, server, context.logger, config.poolSize + 1, () => new pg.Client(settings), config.postgres, replicas);
    driverRef.current = driver;
    try {
      await pool.query("SELECT 1");
      await driver.runInTransaction(createTables);
      return driver;
    } catch (error) {
      await pool.end().catch(() => {});
      throw driver.mapError(error, undefined);
    }
  }

  mapError(error: unknown, schema: EntitySchema | undefined, foreignKeys?: ForeignKeyCatalog): unknown {
    return mapPostgresError(error, schema, this.server, foreignKeys);
  }

  /** A client of its own, guarded while held (see {@link HeldConnection}); `onLost` hears if its connection ends. */
  private async connect(onLost?: (error: Error) => void): Promise<HeldConnection> {
    try {
      return new HeldConnection(await this.pool.connect(), onLost);
    } catch (error) {
      throw this.mapError(error, undefined);
    }
  }

  /**
   * A client of its own with a transaction begun. An idle pooled client the server ended a moment ago
   * (its notice not yet read) fails `BEGIN` as a lost connection: nothing was done on it yet, so it is
   * destroyed and the next one tried, instead of failing the caller's transaction.
   */
  private async connectInTransaction(): Promise<HeldConnection> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.connect();
      try {
        await client.query("BEGIN");
        return client;
      } catch (error) {
        client.release(true);
        if (attempt >= this.beginAttempts || !isConnectionLoss(error)) throw this.mapError(error, undefined);
      }
    }
  }

  /** Runs `statements` (autoCreate's) in one transaction, holding the advisory lock that serializes them between processes. */
  private async runInTransaction(statements: readonly string[]): Promise<void> {
    if (statements.length === 0) return;
    const client = await this.connect();
    try {
      await client.query("BEGIN");
      await client.query(`SELECT pg_advisory_xact_lock(${DDL_LOCK})`);
      for (const statement of statements) await client.query(statement);
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      throw error;
    } finally {
      client.release();
      // The tables made here must be on a replica before it answers a read of them.
      this.positions?.wrote();
    }
  }

  async begin(): Promise<SqlTransactionConnection> {
    const client = await this.connectInTransaction();
    const runner = new PostgresRunner(client, this.names);
    return {
      runner,
      writes: (work) => work(runner),
      exec: async (sql) => {
        await (sql === "ROLLBACK" ? client.end(sql) : client.query(sql));
      },
      // PostgreSQL answers COMMIT of a transaction aborted by an earlier failed statement (one the callback
      // caught) with the tag ROLLBACK and no error: every write is gone.
      commit: async () => ((await this.commit(client)).command === "ROLLBACK" ? new TransactionError(ROLLED_BACK_AT_COMMIT) : undefined),
      finish: (broken) => client.release(broken),
    };
  }

  /**
   * Sends COMMIT (after which the connection takes no statement of this transaction). A connection lost
   * before it was sent is the plain loss: COMMIT never reached the server, so nothing was committed.
   * Lost while it ran, the outcome is in doubt, and the error says so.
   */
  private async commit(client: HeldConnection): Promise<QueryResult> {
    const lostBefore = client.lost !== undefined;
    const positions = this.positions;
    const covers = positions?.mark() ?? 0;
    try {
      if (!positions) return await client.end("COMMIT");
      // The primary's position after the commit, in the commit's own round trip: replica reads wait for it.
      const [commit, after] = await client.end(COMMIT_WITH_POSITION);
      positions.committed(parseLsn(after?.rows[0]?.["lsn"]), covers);
      return commit!;
    } catch (error) {
      // A commit lost on the way may have committed: the next replica read asks the primary where it is.
      positions?.wrote();
      throw !lostBefore && isConnectionLoss(error) ? this.lostAtCommit(error) : error;
    }
  }

  /**
   * The connection ended while COMMIT ran. PostgreSQL makes a transaction durable before it answers, so
   * unless the break fell between the two, it did not commit; the caller cannot tell which from here.
   */
  private lostAtCommit(error: unknown): ConnectionError {
    const mapped = this.mapError(error, undefined);
    const reason = mapped instanceof StorageError ? mapped.message : oneLine(error);
    return new ConnectionError(
      `${reason}. This happened during COMMIT: the transaction was not committed, unless the connection broke after the server committed it and before its answer arrived; check before repeating a write that must not happen twice`,
      { cause: error },
    );
  }

  async backup(_targetPath: string): Promise<void> {
    throw new UnsupportedError(
      `storage.backup() is not available on PostgreSQL; back up ${this.server.host}:${this.server.port}/${this.server.database} with pg_dump (e.g. pg_dump -Fc -f backup.dump "<url>") and restore it with pg_restore`,
    );
  }

  /** The primary and each replica, asked now (`strata doctor`). */
  async servers(): Promise<ServerStatus[]> {
    const { host, port, database } = this.server;
    const position = await PostgresReplicaRouter.primaryPosition(this.primary);
    let primary: ServerStatus;
    try {
      await this.primary.all("SELECT 1", [], false);
      primary = { server: `${host}:${port}/${database}`, role: "primary", healthy: true, ...(this.router ? { reads: this.router.readsOnPrimary } : {}) };
    } catch (error) {
      const mapped = this.mapError(error, undefined);
      primary = { server: `${host}:${port}/${database}`, role: "primary", healthy: false, error: mapped instanceof Error ? mapped.message : oneLine(error) };
    }
    return [primary, ...(this.router ? await this.router.status(position) : [])];
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.router?.close();
    await this.primaryStreams.close();
    await this.pool.end();
  }
}

/**
 * The URL without its `options` parameter, and those options plus `lock_timeout`, so that a row lock
 * waits at most `timeoutMs` (a LockError rather than a hang). pg lets a URL's options replace the
 * `options` setting, hence the split.
 */
function withLockTimeout(url: string, timeoutMs: number): { connectionString: string; options: string } {
  const lockTimeout = `-c lock_timeout=${Math.trunc(timeoutMs)}`;
  try {
    const parsed = new URL(url);
    const own = parsed.searchParams.get("options");
    parsed.searchParams.delete("options");
    return { connectionString: parsed.href, options: own ? `${own} ${lockTimeout}` : lockTimeout };
  } catch {
    return { connectionString: url, options: lockTimeout };
  }
}
