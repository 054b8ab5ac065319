/**
 * Streamed walks on SQLite (`DataSession.stream`, sql-runner.ts's {@link SqlStreamer}): a walk whose order
 * no index serves runs its select once, pulled a page at a time, instead of keyset pages that would each
 * sort every match again.
 *
 * - When: `EXPLAIN QUERY PLAN` of the walk's select has the step {@link SORTS_EVERY_MATCH}: SQLite sorts
 *   every match before the first row. An index that serves the order gives a plan without it, and keyset
 *   pages, each an index seek, are as cheap and hold nothing.
 * - How: the select runs on a read-only connection of the walk's own; its first row is read at the open,
 *   which starts the connection's read transaction: that is the walk's snapshot, held until the walk ends
 *   or is left. WAL only (the driver makes a streamer only then): in journal mode delete a long read would
 *   lock every writer out, the walk's own consumer included, so walks there page by keyset.
 * - Where: ended walks' connections are kept for the next walks (a few) or closed; at most
 *   {@link MAX_STREAM_READERS} walks stream at once, and a walk beyond them reads keyset pages on the
 *   driver's shared reader until one ends.
 * - Release: on the walk's end, `break`/throw/`return`, its idle timeout or collection (sql-stream-walk.ts),
 *   and {@link SqliteStreamer.close} (storage.close()), after which a walk's next page is a
 *   `ConnectionError`, never a walk ended short in silence.
 */
import type Database from "better-sqlite3";
import type { ConnectionError } from "../../errors.js";
import type { SqlCursor, SqlStreamer } from "../sql/sql-runner.js";
import { SqlStreamSlots } from "../sql/sql-stream-slots.js";
import { noteStatement } from "../../observe/operation-trace.js";

/**
 * Walks streaming at once, each on a connection (a file descriptor, a page cache, a WAL snapshot) of its own;
 * a walk beyond them reads keyset pages on the shared reader until one ends.
 */
export const MAX_STREAM_READERS = 8;
/** Streaming connections kept open for the next walk once theirs ends; more are opened as walks need them. */
const IDLE_STREAM_READERS = 2;
/** The plan line of a select whose order no index gives: SQLite sorts every match before the first row. */
const SORTS_EVERY_MATCH = "USE TEMP B-TREE FOR ORDER BY";

/** What the streamer uses of its driver. */
export interface SqliteStreamerOptions {
  /** The driver's shared read-only connection, for `EXPLAIN QUERY PLAN`. */
  readonly reader: Database.Database;
  /** A new read-only connection to the database file, for a walk of its own. */
  readonly connect: () => Database.Database;
  /** Runs a read, waiting as the driver's other reads do while another process holds a lock. */
  readonly read: <T>(attempt: () => T) => T | Promise<T>;
  /** Runs `attempt`, retried while the database is busy, up to `sqlite.busyTimeoutMs`. */
  readonly whenNotBusy: <T>(attempt: () => T | Promise<T>) => Promise<T>;
  /**
   * True once the driver's close has begun: walks are refused from then on, while the walks under way end
   * only at {@link SqliteStreamer.close}, which the driver calls after a running transaction has finished.
   */
  readonly isClosed: () => boolean;
  /** What a walk's page fails with after close. */
  readonly closedError: () => ConnectionError;
}

export class SqliteStreamer implements SqlStreamer {
  private readonly idle: Database.Database[] = [];
  /** Cursors being opened (their first row read) and cursors open, counted against {@link MAX_STREAM_READERS}. */
  private readonly slots = new SqlStreamSlots(MAX_STREAM_READERS);

  constructor(private readonly options: SqliteStreamerOptions) {}

  sortsEveryMatch(text: string, params: readonly unknown[]): boolean | Promise<boolean> {
    const { reader, read } = this.options;
    return read(() => (reader.prepare(`EXPLAIN QUERY PLAN ${text}`).all(params) as { detail: string }[]).some((step) => step.detail === SORTS_EVERY_MATCH));
  }

  /**
   * Starts `text` on a streaming connection: the first row is read here (waiting as other reads do while
   * the database is busy), which opens the read transaction the walk then sees.
   */
  async open(text: string, params: readonly unknown[]): Promise<SqlCursor | undefined> {
    const { isClosed, closedError, whenNotBusy } = this.options;
    if (isClosed()) throw closedError();
    if (!this.slots.take()) return undefined;
    noteStatement(text, params);
    let db: Database.Database | undefined;
    let rows: IterableIterator<unknown[]> | undefined;
    let pending: IteratorResult<unknown[]>;
    try {
      db = this.idle.pop() ?? this.options.connect();
      const statement = db.prepare(text).raw(true);
      pending = await whenNotBusy(() => {
        rows = statement.iterate(params) as IterableIterator<unknown[]>;
        return rows.next();
      });
      // close() ran while the first row was awaited (the database busy): it could not see this cursor,
      // which would otherwise hold its connection and snapshot past the close.
      if (isClosed()) throw closedError();
    } catch (error) {
      this.slots.giveBack();
      rows?.return?.();
      if (db) this.release(db);
      throw error;
    }
    const iterator = rows!;
    let open = true;
    const cursor: SqlCursor = {
      next: (count) => {
        // Closed under the walk (storage.close()): ending quietly would pass a cut-short walk off as whole.
        if (!open) throw closedError();
        const out: unknown[][] = [];
        // One row is read ahead (`pending`): the first came with the open.
        while (out.length < count && !pending.done) {
          out.push(pending.value);
          pending = iterator.next();
        }
        return out;
      },
      close: () => {
        if (!open) return;
        open = false;
        this.slots.release(cursor);
        // Ends the statement, and with it the read transaction: the walk's snapshot is released here.
        iterator.return?.();
        this.release(db);
      },
    };
    return this.slots.hold(cursor);
  }

  /** Keeps a streaming connection whose statement has ended for the next walk, or closes it. */
  private release(db: Database.Database): void {
    if (!this.options.isClosed() && this.idle.length < IDLE_STREAM_READERS) this.idle.push(db);
    else db.close();
  }

  /** Ends every walk under way (their next page fails as closed) and closes every streaming connection. */
  close(): void {
    this.slots.closeAll();
    for (const db of this.idle.splice(0)) db.close();
  }
}
