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
 * - Behind PgBouncer (`postgres.pooler: "pgbouncer"`, transaction pooling) nothing lives in the session, since
 *   consecutive transactions of one client may run on different server connections: statements run unnamed
 *   (postgres-connection.ts), no startup `options` are sent (PgBouncer refuses them), `lock_timeout` is set
 *   with `SET LOCAL` in the `BEGIN` of each transaction, and the migration lock (a session advisory lock) and
 *   migrations use a pool of their own on `postgres.directUrl` (`migrationTarget`). Streamed walks already
 *   keep their cursor inside one transaction, and autoCreate's advisory lock is a transaction-level one.
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
import { ConfigError, ConnectionError, StorageError, TransactionError, UnsupportedError } from "../../errors.js";
import type { Logger } from "../../logger.js";
import type { EntitySchema } from "../../schema/entity-schema.js";
import type { SqlDriver } from "../sql/sql-backend.js";
import type { ForeignKeyCatalog } from "../sql/sql-foreign-keys.js";
import type { SqlRunner, SqlStreamer, WriteGate } from "../sql/sql-runner.js";
import type { SqlTransactionConnection } from "../sql/sql-transaction.js";
import { HeldConnection, PostgresRunner, StatementNames } from "./postgres-connection.js";
import type { ServerAddress } from "./postgres-errors.js";
import { isConnectionLoss, isServerUnavailable, isUnknownForeignKey, mapPostgresError, oneLine, serverAddress } from "./postgres-errors.js";
import { COMMIT_WITH_POSITION, CommitPositions, CURRENT_POSITION, DATABASE_IDENTITY, parseLsn, SERVER_IDENTITY } from "./postgres-commit-positions.js";
import { PostgresMigrationLock } from "./postgres-migration-lock.js";
import type { ReplicaSettings, ServerIdentity } from "./postgres-replica-router.js";
import { PostgresReplicaRouter } from "./postgres-replica-router.js";
import { PostgresStreamer } from "./postgres-streamer.js";

/** The advisory lock that serializes autoCreate between processes starting at once. */
const DDL_LOCK = 0x5374_7261;

/** Connections of the pool on `postgres.directUrl`: the migration lock's, and one migration's at a time. */
const MIGRATION_POOL_SIZE = 2;

/** A pg pool and how transactions begin on it. */
interface PoolTarget {
  readonly pool: pg.Pool;
  readonly names: StatementNames;
  readonly server: ServerAddress;
  /** `BEGIN`, plus `SET LOCAL lock_timeout` behind a pooler (the session's own setting cannot be relied on there). */
  readonly beginStatement: string;
  /** Clients `BEGIN` may find dead before it gets a live one: every pooled one, then a new one. */
  readonly beginAttempts: number;
}

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
  /** With replicas, the primary's pool runner: reads that never lag (the cache's fills, see Backend.freshSession). */
  readonly freshReads: SqlRunner | undefined;
  /** The primary's pool runner: writes, and reads when no replica is configured. */
  private readonly primary: PostgresRunner;
  private readonly primaryStreams: PostgresStreamer;
  /** With replicas: where reads go. */
  private readonly router: PostgresReplicaRouter | undefined;
  /**
   * What this process's storages on this primary have written: with replicas, the positions reads must find
   * replayed; without, only counted, so that a storage with replicas on the same primary waits for them too.
   */
  private readonly positions: CommitPositions;
  private closed = false;
  /** The pool on `postgres.directUrl`, opened at the first migration (a storage that never migrates never connects there). */
  private direct: PoolTarget | undefined;
  /** Migration runners across processes: a session advisory lock on a connection of its own. */
  readonly migrationLock: PostgresMigrationLock;

  /** True once {@link PostgresDriver.close} has begun. */
  get isClosed(): boolean {
    return this.closed;
  }

  private constructor(
    /** The pool on `url` (through PgBouncer in pooler mode): data, transactions, walks. */
    private readonly main: PoolTarget,
    private readonly logger: Logger,
    private readonly timeoutMs: number,
    /** A new client with the pool's settings, outside it (a streamed walk's). */
    newClient: () => pg.Client,
    /** `StorageConfig.postgres` with defaults: the replicas, the lag a read waits for, the pooler, the direct URL. */
    readonly scaleOut: ResolvedConfig["postgres"],
    /** Each of `scaleOut.replicas` with the settings of a direct connection on its URL. */
    replicas: readonly ReplicaSettings[] = [],
    /** The primary's cluster and database: what positions are shared by, what replicas must be copies of. */
    identity: ServerIdentity,
  ) {
    const { pool, names, server } = main;
    this.migrationLock = new PostgresMigrationLock(
      () => {
        const target = this.migrationTarget();
        return this.connect(target, (error) =>
          this.logger.warn(
            `The connection holding the PostgreSQL migration lock to ${target.server.host}:${target.server.port} was lost (${oneLine(error)}); ` +
              `the run commits no further migration, since another runner may take the lock meanwhile`,
          ),
        );
      },
      (error) => this.mapError(error, undefined),
    );
    const primary = (this.primary = new PostgresRunner(pool, names));
    this.primaryStreams = new PostgresStreamer(
      primary,
      newClient,
      () => new ConnectionError(`The PostgreSQL storage for ${server.host}:${server.port} (database "${server.database}") is closed`),
    );
    // Keyed by the cluster, not the URL's host and port: storages naming one primary differently share it.
    const positions = (this.positions = new CommitPositions(identity.system ?? `${server.host}:${server.port}`, async () => parseLsn((await primary.all(CURRENT_POSITION, [], true))[0]?.[0])));
    this.router = replicas.length > 0 ? new PostgresReplicaRouter(primary, this.primaryStreams, replicas, positions, scaleOut.maxReplicaLagMs, logger, identity) : undefined;
    this.reads = this.router ?? primary;
    this.freshReads = this.router ? primary : undefined;
    this.streams = this.router?.streams ?? this.primaryStreams;
    this.writes = async (work, multiStatement) => {
      if (!multiStatement) {
        // Counted whether it succeeded or not: a write whose answer was lost may still have committed.
        try {
          return await work(primary);
        } finally {
          positions.wrote();
        }
      }
      const client = await this.connectInTransaction(main);
      let broken = false;
      try {
        try {
          const result = await work(new PostgresRunner(client, names));
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
    const pooled = config.postgres.pooler !== undefined;
    const settings = pooled ? pooledSettings(config.url, config.timeoutMs) : directSettings(config.url, config.timeoutMs);
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
    const main: PoolTarget = {
      pool,
      server,
      names: new StatementNames(pooled ? 0 : undefined),
      beginStatement: pooled ? `BEGIN; SET LOCAL lock_timeout = ${Math.trunc(config.timeoutMs)}` : "BEGIN",
      beginAttempts: config.poolSize + 1,
    };
    // Replicas are reached directly (a pooler, when configured, fronts the primary only).
    const replicas = config.postgres.replicas.map((url): ReplicaSettings => ({ url, address: serverAddress(url), client: directSettings(url, config.timeoutMs), poolSize: config.poolSize, timeoutMs: config.timeoutMs }));
    let identity: ServerIdentity;
    try {
      // Also the check that the server answers, which opening makes before anything else.
      identity = await readIdentity(new PostgresRunner(pool, main.names));
    } catch (error) {
      await pool.end().catch(() => {});
      throw mapPostgresError(error, undefined, server);
    }
    const driver = new PostgresDriver(main, context.logger, config.timeoutMs, () => new pg.Client(settings), config.postgres, replicas, identity);
    driverRef.current = driver;
    try {
      await driver.runInTransaction(createTables);
      return driver;
    } catch (error) {
      await pool.end().catch(() => {});
      throw driver.mapError(error, undefined);
    }
  }

  /** A foreign key violation (23503) naming a constraint neither the catalog nor the written table knows. */
  isUnknownForeignKeyFailure(error: unknown, schema: EntitySchema, catalog: ForeignKeyCatalog): boolean {
    return isUnknownForeignKey(error, schema, catalog);
  }

  mapError(error: unknown, schema: EntitySchema | undefined, foreignKeys?: ForeignKeyCatalog): unknown {
    return mapPostgresError(error, schema, this.main.server, foreignKeys);
  }

  /**
   * Where migrations and the migration lock connect: the pool on `postgres.directUrl` (opened now if not
   * yet), else the storage's own pool; behind a pooler without `directUrl`, a `ConfigError`, since
   * PgBouncer in transaction pooling would hand the lock's session to other clients between statements.
   */
  private migrationTarget(): PoolTarget {
    const { directUrl, pooler } = this.scaleOut;
    if (directUrl === undefined) {
      if (pooler === undefined) return this.main;
      throw new ConfigError([
        `postgres.directUrl: migrations and the migration lock (a session advisory lock) cannot go through ${pooler} in transaction pooling; give postgres.directUrl, the primary's own postgres:// URL (strata migrate: --direct-url)`,
      ]);
    }
    if (this.closed) throw new ConnectionError(`The PostgreSQL storage for ${this.main.server.host}:${this.main.server.port} is closed`);
    if (this.direct) return this.direct;
    const server = serverAddress(directUrl);
    const pool = new pg.Pool({ ...directSettings(directUrl, this.timeoutMs), max: MIGRATION_POOL_SIZE });
    pool.on("error", (error) => {
      if (this.closed) return;
      this.logger.warn(`An idle PostgreSQL connection to ${server.host}:${server.port} (directUrl) failed and left the pool: ${oneLine(error)}`);
    });
    return (this.direct = { pool, server, names: new StatementNames(), beginStatement: "BEGIN", beginAttempts: MIGRATION_POOL_SIZE + 1 });
  }

  /** A client of its own from `target`, guarded while held (see {@link HeldConnection}); `onLost` hears if its connection ends. */
  private async connect(target: PoolTarget, onLost?: (error: Error) => void): Promise<HeldConnection> {
    try {
      return new HeldConnection(await target.pool.connect(), onLost);
    } catch (error) {
      throw mapPostgresError(error, undefined, target.server);
    }
  }

  /**
   * A client of its own with a transaction begun. An idle pooled client the server ended a moment ago
   * (its notice not yet read) fails `BEGIN` as a lost connection: nothing was done on it yet, so it is
   * destroyed and the next one tried, instead of failing the caller's transaction.
   */
  private async connectInTransaction(target: PoolTarget): Promise<HeldConnection> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.connect(target);
      try {
        await client.query(target.beginStatement);
        return client;
      } catch (error) {
        client.release(true);
        if (attempt >= target.beginAttempts || !isConnectionLoss(error)) throw mapPostgresError(error, undefined, target.server);
      }
    }
  }

  /** Runs `statements` (autoCreate's) in one transaction, holding the advisory lock that serializes them between processes. */
  private async runInTransaction(statements: readonly string[]): Promise<void> {
    if (statements.length === 0) return;
    const client = await this.connect(this.main);
    try {
      await client.query(this.main.beginStatement);
      // A transaction-level lock: released at COMMIT, so it holds behind a transaction pooler too.
      await client.query(`SELECT pg_advisory_xact_lock(${DDL_LOCK})`);
      for (const statement of statements) await client.query(statement);
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      throw error;
    } finally {
      client.release();
      // The tables made here must be on a replica before it answers a read of them.
      this.positions.wrote();
    }
  }

  async begin(): Promise<SqlTransactionConnection> {
    return this.beginOn(this.main);
  }

  /** A migration's transaction: on `postgres.directUrl` when given (see {@link PostgresDriver.migrationTarget}). */
  async beginMigration(): Promise<SqlTransactionConnection> {
    return this.beginOn(this.migrationTarget());
  }

  private async beginOn(target: PoolTarget): Promise<SqlTransactionConnection> {
    const client = await this.connectInTransaction(target);
    const runner = new PostgresRunner(client, target.names);
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
    const covers = positions.mark();
    try {
      if (!this.router) {
        const result = await client.end("COMMIT");
        // Counted for the storages with replicas on this primary, which ask where it is before their next read.
        positions.wrote();
        return result;
      }
      // The primary's position after the commit, in the commit's own round trip: replica reads wait for it.
      const [commit, after] = await client.end(COMMIT_WITH_POSITION);
      positions.committed(parseLsn(after?.rows[0]?.["lsn"]), covers);
      return commit!;
    } catch (error) {
      // A commit lost on the way may have committed: the next replica read asks the primary where it is.
      positions.wrote();
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
      `storage.backup() is not available on PostgreSQL; back up ${this.main.server.host}:${this.main.server.port}/${this.main.server.database} with pg_dump (e.g. pg_dump -Fc -f backup.dump "<url>") and restore it with pg_restore`,
    );
  }

  /** The primary and each replica, asked now (`strata doctor`). */
  async servers(): Promise<ServerStatus[]> {
    const { host, port, database } = this.main.server;
    let primary: ServerStatus;
    try {
      await this.primary.all("SELECT 1", [], false);
      primary = { server: `${host}:${port}/${database}`, role: "primary", healthy: true, ...(this.router ? { reads: this.router.readsOnPrimary } : {}) };
    } catch (error) {
      const mapped = this.mapError(error, undefined);
      primary = { server: `${host}:${port}/${database}`, role: "primary", healthy: false, error: mapped instanceof Error ? mapped.message : oneLine(error) };
    }
    return [primary, ...(this.router ? await this.router.status() : [])];
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.router?.close();
    await this.primaryStreams.close();
    await Promise.all([this.main.pool.end(), this.direct?.pool.end()]);
  }
}

/** The primary's cluster and database; only the database where `pg_control_system()` is refused (some hosted services). */
async function readIdentity(runner: PostgresRunner): Promise<ServerIdentity> {
  let row: unknown[] | undefined;
  try {
    row = (await runner.all(SERVER_IDENTITY, [], false))[0];
  } catch (error) {
    if (isServerUnavailable(error)) throw error;
    row = (await runner.all(DATABASE_IDENTITY, [], false))[0];
  }
  const [system, database] = row ?? [];
  return { system: typeof system === "string" ? system : undefined, database: String(database) };
}

/** pg's settings of a pool or client (all of them: a walk's client is made with the pool's). */
interface ClientSettings {
  readonly connectionString: string;
  readonly options?: string;
  readonly connectionTimeoutMillis: number;
}

/**
 * Settings of a connection to the server itself: the URL without its `options` parameter, and those
 * options plus `lock_timeout`, so that a row lock waits at most `timeoutMs` (a LockError rather than a
 * hang). pg lets a URL's options replace the `options` setting, hence the split.
 */
function directSettings(url: string, timeoutMs: number): ClientSettings {
  const lockTimeout = `-c lock_timeout=${Math.trunc(timeoutMs)}`;
  try {
    const parsed = new URL(url);
    const own = parsed.searchParams.get("options");
    parsed.searchParams.delete("options");
    return { connectionString: parsed.href, options: own ? `${own} ${lockTimeout}` : lockTimeout, connectionTimeoutMillis: timeoutMs };
  } catch {
    return { connectionString: url, options: lockTimeout, connectionTimeoutMillis: timeoutMs };
  }
}

/**
 * Settings of a connection through PgBouncer: no startup `options` (PgBouncer refuses the parameter, and a
 * session setting would not follow the client from one server connection to the next anyway); the URL
 * giving some is a `ConfigError` rather than settings silently dropped. `lock_timeout` goes in each BEGIN.
 */
function pooledSettings(url: string, timeoutMs: number): ClientSettings {
  if (URL.canParse(url) && new URL(url).searchParams.has("options")) {
    throw new ConfigError([
      'url: behind pooler "pgbouncer" the URL cannot carry options (PgBouncer refuses the startup parameter, and a session setting would not follow the client across server connections): set them on the role or database instead (ALTER ROLE ... SET search_path = ...)',
    ]);
  }
  return { connectionString: url, connectionTimeoutMillis: timeoutMs };
}
