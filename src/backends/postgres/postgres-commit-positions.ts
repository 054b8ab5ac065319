/**
 * Read-your-writes with read replicas: the primary's WAL position that a replica must have replayed before
 * it may answer a read of this process, so that a read never sees a state older than a write this process
 * saw committed.
 *
 * - A transaction (and a multi-statement write) sends `COMMIT; SELECT <the position>` as one
 *   simple query: the position comes back in the commit's own round trip ({@link CommitPositions.committed}).
 * - A single write in autocommit runs as one extended-protocol statement, to which nothing can be appended:
 *   it only counts itself ({@link CommitPositions.wrote}), and the next replica read asks the primary for its
 *   position once for every write counted before (one round trip, shared by the reads waiting for it), so a
 *   burst of writes costs the reads after it one question, and the writes none.
 *
 * Which position: the primary's WAL flushed so far (`pg_current_wal_flush_lsn()`), which a COMMIT under
 * `synchronous_commit` on (or local, remote_write, remote_apply) has reached before it answers, and which is
 * all a replica can receive. Under `synchronous_commit = off` a commit answers before its record is flushed,
 * so the insert position (`pg_current_wal_insert_lsn()`) is taken instead: never short of the commit, though
 * it may be past WAL not yet sent (then the read waits for the WAL writer, at most `maxReplicaLagMs`). Not the
 * insert position always: when a commit record ends a WAL page, the insert position is already past the next
 * page's header, which the replica reaches only with the next record anyone writes (measured: reads after
 * such commits waited until some other WAL came, 10 ms at the 90th percentile). Any position read after a
 * write completed covers it: WAL positions only grow.
 */
const POSITION = "CASE WHEN current_setting('synchronous_commit') = 'off' THEN pg_current_wal_insert_lsn() ELSE pg_current_wal_flush_lsn() END";

/** The statement a commit is sent as, with the primary's position after it in the same round trip. */
export const COMMIT_WITH_POSITION = `COMMIT; SELECT (${POSITION})::text AS lsn`;
/** The primary's current WAL position, as text (`16/B374D848`). */
export const CURRENT_POSITION = `SELECT (${POSITION})::text`;

/**
 * A WAL position (`XXXXXXXX/XXXXXXXX`, two hexadecimal halves) as one number. A bigint: positions are
 * 64-bit, and a server that has written 8 PB of WAL over its life is past a double's exact integers.
 */
export function parseLsn(text: unknown): bigint {
  if (typeof text !== "string") return 0n;
  const slash = text.indexOf("/");
  if (slash < 0) return 0n;
  return (BigInt(`0x${text.slice(0, slash)}`) << 32n) | BigInt(`0x${text.slice(slash + 1)}`);
}

/** What the storages of this process on one primary know of its positions (see {@link CommitPositions}). */
interface PositionState {
  /** Single writes completed (or failed: one may have committed) through any of them. */
  writes: number;
  /** How many of {@link PositionState.writes} {@link PositionState.position} covers. */
  covered: number;
  /** The highest primary position known to follow every covered write. */
  position: bigint;
  /** The question to the primary under way, and how many writes it covers. */
  asking: { readonly covers: number; readonly done: Promise<void> } | undefined;
}

/**
 * What identifies a PostgreSQL cluster whatever the URL naming it (another host name, a pooler in front):
 * its `system_identifier`, which a streaming replica shares with its primary, and the database connected to.
 */
export const SERVER_IDENTITY = "SELECT (SELECT system_identifier FROM pg_control_system())::text, current_database()";
/** {@link SERVER_IDENTITY} on a server that refuses `pg_control_system()` (some hosted services): the database only. */
export const DATABASE_IDENTITY = "SELECT NULL::text, current_database()";

/**
 * The state of each primary (its cluster's `system_identifier`, {@link SERVER_IDENTITY}), shared by every
 * storage of the process on it: a read through one storage after a commit through another finds that commit
 * too, however each URL names the server. Positions are the cluster's, whatever the database.
 */
const BY_PRIMARY = new Map<string, PositionState>();

/** The position this process's reads must find replayed, kept up to date by its writes and commits. */
export class CommitPositions {
  private readonly state: PositionState;

  /** `primary`: the primary's `system_identifier`; `ask`: its current position (one round trip, {@link CURRENT_POSITION}). */
  constructor(
    primary: string,
    private readonly ask: () => Promise<bigint>,
  ) {
    let state = BY_PRIMARY.get(primary);
    if (state === undefined) BY_PRIMARY.set(primary, (state = { writes: 0, covered: 0, position: 0n, asking: undefined }));
    this.state = state;
  }

  /** A single write in autocommit ended: the next replica read must find it replayed. */
  wrote(): void {
    this.state.writes++;
  }

  /** The count to pass to {@link CommitPositions.committed}: taken just before a COMMIT is sent. */
  mark(): number {
    return this.state.writes;
  }

  /** A commit sent when {@link CommitPositions.mark} returned `covers` came back with the primary at `position`. */
  committed(position: bigint, covers: number): void {
    const state = this.state;
    if (position > state.position) state.position = position;
    if (covers > state.covered) state.covered = covers;
  }

  /**
   * The position a replica must have replayed before answering a read that starts now: known at once
   * unless a single write ended since the last position was learnt; then the primary is asked (one
   * question at a time, shared by every read that a question started later would cover).
   */
  required(): bigint | Promise<bigint> {
    const state = this.state;
    return state.covered >= state.writes ? state.position : this.learn(state.writes);
  }

  private async learn(needed: number): Promise<bigint> {
    const state = this.state;
    while (state.covered < needed) {
      const asking = state.asking;
      if (asking) {
        // A question sent before our write ended does not cover it: wait for it to end, then ask again. Its
        // failure is its own readers' to report; ours comes from our own question.
        await asking.done.catch(() => {});
        continue;
      }
      const covers = state.writes;
      const done = this.ask().then((position) => this.committed(position, covers));
      state.asking = { covers, done };
      try {
        await done;
      } finally {
        if (state.asking?.done === done) state.asking = undefined;
      }
    }
    return state.position;
  }
}
