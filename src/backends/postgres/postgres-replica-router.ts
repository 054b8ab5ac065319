/**
 * Read replicas (`postgres.replicas`): where a read outside a transaction runs.
 *
 * - Routing: {@link PostgresReplicaRouter} is the driver's `reads` runner. Its selects (findById, findByIds,
 *   find, count, a walk's EXPLAIN and pages, the catalog reads) go to a replica, round robin over the healthy
 *   ones; its `run` and `query` (statements that may write: `storage.sql` reaches them) go to the primary.
 *   Writes, transactions, migrations and the migration lock never come here: the driver runs them on the
 *   primary's pool.
 * - Read-your-writes: before a replica answers, it must have replayed the position this process's last
 *   write or commit left the primary at (postgres-commit-positions.ts). Each replica's replayed position is
 *   cached, so a read after no new write asks nothing; otherwise `pg_last_wal_replay_lsn()` is polled (one
 *   poll at a time per replica, shared by the reads waiting) for at most `maxReplicaLagMs`, then the read goes
 *   to the primary. A replica that missed that deadline is passed over at once by reads needing more than it
 *   has replayed, until a poll (started by such a read, not awaited) finds it caught up.
 * - Failover: a replica that cannot answer (connection refused, lost, or not made in time; see
 *   `isServerUnavailable`) is taken out of rotation and the read runs on the next one, then on the primary:
 *   no read fails while a server that can answer it is up. Taken out, it is probed every
 *   {@link REPROBE_MS} (an unref'd timer, stopped by close) and put back when it answers. A replica cancelling
 *   a read for a conflict with recovery (SQLSTATE 40001, a hot standby's own) stays in rotation; that read is
 *   run again on the primary. A statement's own errors (bad SQL, a bad value) are the caller's, as from the
 *   primary.
 */
import pg from "pg";
import type { SqlResult } from "../../spi/index.js";
import type { ServerStatus } from "../../spi/index.js";
import type { Logger } from "../../logger.js";
import type { SqlCursor, SqlRunner, SqlStreamer } from "../sql/sql-runner.js";
import type { CommitPositions } from "./postgres-commit-positions.js";
import { CURRENT_POSITION, DATABASE_IDENTITY, parseLsn, SERVER_IDENTITY } from "./postgres-commit-positions.js";
import { PostgresRunner, StatementNames } from "./postgres-connection.js";
import type { ServerAddress } from "./postgres-errors.js";
import { isServerUnavailable, oneLine } from "./postgres-errors.js";
import { explainText, planSortsEveryMatch, PostgresStreamer } from "./postgres-streamer.js";
import { ConfigError, ConnectionError } from "../../errors.js";

/** How often a replica out of rotation is probed. */
export const REPROBE_MS = 1000;
/**
 * Polls of a replica's position sent back to back before waiting between them: a local replica replays a
 * commit within a few tenths of a ms (measured median 0.3 ms), less than Node's shortest timer (1 ms).
 */
const EAGER_POLLS = 3;
/** The first wait between later polls; doubled up to {@link MAX_POLL_MS}. */
const FIRST_POLL_MS = 1;
const MAX_POLL_MS = 20;
/**
 * A replica's replayed position. On a server not in recovery (a replica since promoted, or the primary
 * listed as a replica) its own current position: everything it has, it has "replayed".
 */
const REPLAYED_POSITION =
  "SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_insert_lsn() END)::text";
/** SQLSTATE of a read a hot standby cancelled for a conflict with recovery (outside transactions, nothing else raises it on a select). */
const RECOVERY_CONFLICT = "40001";

/** The cluster (`system_identifier`) and database of the primary, which a replica must share (SERVER_IDENTITY). */
export interface ServerIdentity {
  /** Undefined where the server refuses `pg_control_system()`: then only the database is compared. */
  readonly system: string | undefined;
  readonly database: string;
}

/** What a replica is opened with: the pool settings of the primary, on the replica's URL. */
export interface ReplicaSettings {
  readonly url: string;
  readonly address: ServerAddress;
  /** pg's client settings for this replica (connection string, options, connect timeout). */
  readonly client: pg.ClientConfig;
  readonly poolSize: number;
  /** `timeoutMs`: how long a replica may leave a read and a liveness probe both unanswered before it counts as hung. */
  readonly timeoutMs: number;
}

/** One read replica: its pool, runner and streamed walks, its health and the position it has replayed. */
class Replica {
  readonly pool: pg.Pool;
  readonly runner: PostgresRunner;
  readonly streams: PostgresStreamer;
  /** In rotation: false once it failed to answer, until a probe finds it back. */
  healthy = true;
  /** True once it was found to be a copy of the primary's database (see {@link Replica.poll}). */
  verified = false;
  /** The last replayed position read from it. */
  replayed = 0n;
  /** A position it failed to replay within `maxReplicaLagMs`: reads needing more pass it over until it has. */
  behind: bigint | undefined;
  /** Reads it answered. */
  reads = 0;
  /** Why it was taken out of rotation. */
  failure: Error | undefined;
  private polling: Promise<bigint> | undefined;
  private probe: NodeJS.Timeout | undefined;

  constructor(
    readonly settings: ReplicaSettings,
    names: StatementNames,
    private readonly logger: Logger,
    /** True once the router closed: a probe due then does nothing. */
    private readonly isClosed: () => boolean,
    /** What it must be a copy of. */
    private readonly primary: ServerIdentity,
  ) {
    this.pool = new pg.Pool({ ...settings.client, max: settings.poolSize });
    // An idle connection the replica dropped (it restarted) leaves the pool; the next read opens a new one.
    this.pool.on("error", () => {});
    this.runner = new PostgresRunner(this.pool, names);
    const { host, port, database } = settings.address;
    this.streams = new PostgresStreamer(
      this.runner,
      () => new pg.Client(settings.client),
      () => new ConnectionError(`The PostgreSQL storage for ${host}:${port} (database "${database}") is closed`),
    );
  }

  get label(): string {
    const { host, port, database } = this.settings.address;
    return `${host}:${port}/${database}`;
  }

  /**
   * Reads its replayed position now (one question at a time, shared), caching it. The first time, and until
   * it passes, checks that it is a copy of the primary's database: a URL naming another cluster (its positions
   * are not the primary's) or another database would answer reads with other data. Not such a copy, it fails
   * with a `ConfigError`, which keeps it out of rotation.
   */
  poll(): Promise<bigint> {
    this.polling ??= (this.verified ? Promise.resolve() : this.verify()).then(() => this.ask(REPLAYED_POSITION)).then(
      (rows) => {
        this.polling = undefined;
        const replayed = parseLsn(rows[0]?.[0]);
        if (replayed > this.replayed) this.replayed = replayed;
        if (this.behind !== undefined && this.replayed >= this.behind) this.behind = undefined;
        return this.replayed;
      },
      (error: unknown) => {
        this.polling = undefined;
        throw error;
      },
    );
    return this.polling;
  }

  /**
   * A question of the router's own (position, identity, liveness): answered within `timeoutMs` or failed
   * with pg's "Query read timeout" (a hung server), after which pg-pool destroys the connection it hung on.
   */
  async ask(text: string): Promise<unknown[][]> {
    return (await this.pool.query({ text, rowMode: "array", query_timeout: this.settings.timeoutMs } as pg.QueryArrayConfig)).rows;
  }

  /** Resolves when the replica answers a trivial question within `timeoutMs`; fails when it does not. */
  async alive(): Promise<void> {
    await this.ask("SELECT 1");
  }

  private async verify(): Promise<void> {
    const known = this.primary.system !== undefined;
    const [system, database] = (await this.ask(known ? SERVER_IDENTITY : DATABASE_IDENTITY))[0] ?? [];
    if ((known && system !== this.primary.system) || database !== this.primary.database) {
      throw new ConfigError([
        `postgres.replicas: ${this.label} is not a replica of the primary's database "${this.primary.database}" (it is database "${String(database)}" of the cluster with system identifier ${String(system)}, the primary's is ${String(this.primary.system)}); reads do not go there`,
      ]);
    }
    this.verified = true;
  }

  /** Out of rotation after `error`, probed every {@link REPROBE_MS} until it answers. */
  takeOut(error: unknown): void {
    if (!this.healthy) return;
    this.healthy = false;
    this.failure = error instanceof Error ? error : new Error(String(error));
    this.logger.warn(`PostgreSQL read replica ${this.label} is out of the read rotation (${oneLine(error)}); reads go to the other servers, and it is probed every ${REPROBE_MS} ms`);
    this.probe = setInterval(() => void this.reprobe(), REPROBE_MS);
    this.probe.unref();
  }

  private async reprobe(): Promise<void> {
    if (this.isClosed()) return this.stopProbing();
    try {
      await this.poll();
    } catch {
      return;
    }
    if (this.isClosed() || this.healthy) return;
    this.healthy = true;
    this.failure = undefined;
    this.stopProbing();
    this.logger.info(`PostgreSQL read replica ${this.label} answers again and is back in the read rotation`);
  }

  stopProbing(): void {
    if (this.probe) clearInterval(this.probe);
    this.probe = undefined;
  }

  async close(): Promise<void> {
    this.stopProbing();
    await this.streams.close();
    await this.pool.end().catch(() => {});
  }
}

/** True when `replica` cannot answer reads: it is down, or not a copy of the primary's database. */
function cannotServe(error: unknown): boolean {
  return isServerUnavailable(error) || error instanceof ConfigError;
}

/** The reads runner of a driver with replicas: see the module comment. */
export class PostgresReplicaRouter implements SqlRunner {
  private readonly replicas: Replica[];
  /** The next replica to try first (round robin). */
  private next = 0;
  private closed = false;
  /** Reads the primary answered (no replica could, or none had caught up in time). */
  private primaryReads = 0;
  /** Walks streamed from a replica, falling back to the primary's streamer. */
  readonly streams: SqlStreamer;

  constructor(
    /** The primary's pool runner. */
    private readonly primary: SqlRunner,
    /** The primary's streamed walks. */
    primaryStreams: SqlStreamer,
    replicas: readonly ReplicaSettings[],
    private readonly positions: CommitPositions,
    private readonly maxLagMs: number,
    logger: Logger,
    /** The primary's cluster and database, which every replica must be a copy of. */
    identity: ServerIdentity,
  ) {
    // Replicas prepare the same texts: one name per text across every server, as across connections.
    const names = new StatementNames();
    this.replicas = replicas.map((settings) => new Replica(settings, names, logger, () => this.closed, identity));
    this.streams = {
      sortsEveryMatch: async (text, params) => {
        // The plan of whichever server the read goes to: a replica's is the primary's, bar its statistics.
        return planSortsEveryMatch(await this.all(explainText(text), params, false));
      },
      open: (text, params) => this.openStream(primaryStreams, text, params),
    };
  }

  all(text: string, params: readonly unknown[], prepared: boolean): Promise<unknown[][]> {
    return this.route((runner) => runner.all(text, params, prepared));
  }

  /**
   * See {@link SqlRunner.snapshot}: the whole of `work` on one server, routed as a read (a replica that has
   * replayed this process's writes, else the primary), in one read-only transaction there.
   */
  snapshot<T>(work: (runner: SqlRunner) => Promise<T>): Promise<T> {
    return this.route((runner) => (runner.snapshot ? runner.snapshot(work) : work(runner)));
  }

  /** A statement that changes rows: the primary's. */
  run(text: string, params: readonly unknown[], prepared: boolean): number | Promise<number> {
    return this.primary.run(text, params, prepared);
  }

  /** A statement of the user's (may write): the primary's. */
  query(text: string, params: readonly unknown[]): SqlResult | Promise<SqlResult> {
    return this.primary.query(text, params);
  }

  /**
   * Runs `work` on a replica that has replayed this process's writes (waiting up to `maxReplicaLagMs`),
   * trying the next one when a replica cannot answer, and on the primary when none can.
   */
  private async route<T>(work: (runner: SqlRunner) => T | Promise<T>): Promise<T> {
    const required = this.positions.required();
    const position = typeof required === "bigint" ? required : await required;
    for (let tried = 0; tried < this.replicas.length; tried++) {
      const picked = this.pick(position);
      // A replica known to have caught up is picked without a promise: the common read costs no extra turn.
      const replica = picked instanceof Promise ? await picked : picked;
      if (replica === undefined) break;
      try {
        const result = await this.answered(replica, work(replica.runner));
        replica.reads++;
        return result;
      } catch (error) {
        if ((error as { code?: unknown })?.code === RECOVERY_CONFLICT) break;
        if (!isServerUnavailable(error)) throw error;
        replica.takeOut(error);
      }
    }
    this.primaryReads++;
    return work(this.primary);
  }

  /**
   * A healthy replica that has replayed `position`: one known to have, else the first that may still catch
   * up, polled for at most `maxReplicaLagMs`; undefined when none (the read goes to the primary).
   */
  private pick(position: bigint): Replica | undefined | Promise<Replica | undefined> {
    const count = this.replicas.length;
    let waitFor: Replica | undefined;
    for (let i = 0; i < count; i++) {
      const at = (this.next + i) % count;
      const replica = this.replicas[at]!;
      if (!replica.healthy) continue;
      if (replica.verified && replica.replayed >= position) {
        this.next = (at + 1) % count;
        return replica;
      }
      if (replica.behind !== undefined && position > replica.replayed) {
        // Missed a deadline already: pass it over now, but learn (not awaited) whether it has caught up since.
        replica.poll().catch((error: unknown) => {
          if (cannotServe(error)) replica.takeOut(error);
        });
        continue;
      }
      waitFor ??= replica;
    }
    if (waitFor === undefined) return undefined;
    this.next = (this.replicas.indexOf(waitFor) + 1) % count;
    const replica = waitFor;
    // Taken out while polled (it stopped answering): the next healthy replica may still serve the read.
    return this.catchUp(replica, position).then((caughtUp) => (caughtUp ? replica : replica.healthy ? undefined : this.pick(position)));
  }

  /** Polls `replica` until it has replayed `position` (true), for at most `maxReplicaLagMs` (false). */
  private async catchUp(replica: Replica, position: bigint): Promise<boolean> {
    const deadline = Date.now() + this.maxLagMs;
    for (let polls = 1, pause = FIRST_POLL_MS; ; polls++) {
      try {
        if ((await replica.poll()) >= position) return true;
      } catch (error) {
        if (cannotServe(error)) replica.takeOut(error);
        return false;
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.closed) {
        replica.behind = position;
        return false;
      }
      if (polls < EAGER_POLLS) continue;
      await new Promise((resolve) => setTimeout(resolve, Math.min(pause, left)));
      pause = Math.min(pause * 2, MAX_POLL_MS);
    }
  }

  /**
   * `answer`, unless `replica` hangs: a replica whose processes are frozen, or whose host or network stopped
   * without closing anything, leaves an open socket unanswered forever. Each `timeoutMs` without the answer,
   * the replica is asked a trivial question on another connection: answered, the read is only slow and is
   * waited for; unanswered too, the replica is hung, and this fails as a lost connection (the read goes to
   * the next server). A late answer of an abandoned read is passed to `abandon` (a cursor to close).
   */
  private async answered<T>(replica: Replica, answer: T | Promise<T>, abandon?: (late: T) => void): Promise<T> {
    // timeoutMs 0 is "no limit" to pg's connect and query timeouts too: nothing counts as hung then.
    if (!(answer instanceof Promise) || replica.settings.timeoutMs === 0) return answer;
    let settled = false;
    const result = answer.finally(() => (settled = true));
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const waited = new Promise<"waited">((resolve) => (timer = setTimeout(resolve, replica.settings.timeoutMs, "waited")));
      try {
        if ((await Promise.race([result, waited])) !== "waited" || settled) return await result;
      } finally {
        clearTimeout(timer);
      }
      try {
        await Promise.race([replica.alive(), result]);
      } catch (error) {
        if (settled) return await result;
        // Hung: nothing will settle the abandoned read until the replica wakes up; its outcome is no one's.
        result.then((late) => abandon?.(late), () => {});
        throw Object.assign(new Error(`PostgreSQL read replica ${replica.label} did not answer within ${replica.settings.timeoutMs} ms (${oneLine(error)})`), { code: "08006" });
      }
    }
  }

  /** A walk's cursor on a replica that has replayed this process's writes, else on the primary. */
  private async openStream(primaryStreams: SqlStreamer, text: string, params: readonly unknown[]): Promise<SqlCursor | undefined> {
    const required = this.positions.required();
    const position = typeof required === "bigint" ? required : await required;
    for (let tried = 0; tried < this.replicas.length; tried++) {
      const replica = await this.pick(position);
      if (replica === undefined) break;
      try {
        const cursor = await this.answered(replica, replica.streams.open(text, params), (late) => void late?.close());
        // Its streaming connections all in use: keyset pages (through the router) instead, as on one server.
        if (cursor !== undefined) replica.reads++;
        return cursor;
      } catch (error) {
        if (!isServerUnavailable(error)) throw error;
        replica.takeOut(error);
      }
    }
    this.primaryReads++;
    return primaryStreams.open(text, params);
  }

  /** The replicas as `strata doctor` shows them, asked now; lag in bytes is against the primary's current WAL position. */
  async status(): Promise<ServerStatus[]> {
    const primaryPosition = await this.primaryPosition();
    return Promise.all(
      this.replicas.map(async (replica): Promise<ServerStatus> => {
        const base = { server: replica.label, role: "replica" as const, reads: replica.reads };
        // Not a copy of the primary's database: what it would answer below is another server's state.
        if (replica.failure instanceof ConfigError) return { ...base, healthy: false, error: oneLine(replica.failure) };
        try {
          // Timed like the router's other questions: a hung replica is reported, not waited for.
          const rows = await replica.ask(
            "SELECT pg_last_wal_replay_lsn()::text, CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 ELSE floor(1000 * extract(epoch FROM now() - pg_last_xact_replay_timestamp())) END, pg_is_in_recovery()",
          );
          const [replayed, lagMs, inRecovery] = rows[0] ?? [];
          if (inRecovery !== true) return { ...base, healthy: false, error: "not in recovery: this server is not a replica (promoted?)" };
          const lagBytes = primaryPosition === undefined ? undefined : Number(primaryPosition - parseLsn(replayed) > 0n ? primaryPosition - parseLsn(replayed) : 0n);
          return {
            ...base,
            healthy: replica.healthy,
            ...(lagBytes !== undefined ? { lagBytes } : {}),
            ...(lagMs !== null && lagMs !== undefined ? { lagMs: Number(lagMs) } : {}),
            ...(replica.failure ? { error: oneLine(replica.failure) } : {}),
          };
        } catch (error) {
          return { ...base, healthy: false, error: oneLine(error) };
        }
      }),
    );
  }

  /** Reads the primary answered. */
  get readsOnPrimary(): number {
    return this.primaryReads;
  }

  /** The primary's current position (for status), or undefined when it does not answer. */
  private async primaryPosition(): Promise<bigint | undefined> {
    try {
      const rows = await this.primary.all(CURRENT_POSITION, [], false);
      return parseLsn(rows[0]?.[0]);
    } catch {
      return undefined;
    }
  }

  /** Stops probing and disconnects every replica. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.replicas.map((replica) => replica.close()));
  }
}
