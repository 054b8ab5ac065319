/**
 * Streamed walks on PostgreSQL (`DataSession.stream`, sql-runner.ts's {@link SqlStreamer}): a walk whose
 * order no index serves runs its select once, as a server-side cursor, instead of keyset pages that would
 * each sort every match again.
 *
 * - When: `EXPLAIN` of the walk's select shows a `Sort` node at the top of the plan (under a `Limit` or a
 *   `Gather Merge` at most): the server sorts every match before the first row. An index that serves the
 *   order gives a plan without one, and keyset pages, each an index seek, are as cheap and hold nothing.
 *   The plan decides rather than a reading of the schema's indexes: it also knows when the planner prefers
 *   to sort a small table despite an index, or cannot use one (a collation, a relation filter).
 * - How: `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`, `DECLARE ... NO SCROLL CURSOR FOR <select>`
 *   (its values bound as parameters), then `FETCH FORWARD <pageSize>` per page, and `COMMIT` when the
 *   walk ends or is left. The transaction's snapshot is the walk's: rows committed by others (or by the
 *   walk's own loop body) after its start are not seen.
 * - Where: on a client of the walk's own, outside the pool (same URL and options), so that a walk never
 *   takes a pooled connection from the loop body: with `poolSize: 1`, a write inside `for await` still
 *   runs. Two ended walks' clients are kept for the next walks; at most {@link MAX_STREAM_CLIENTS} walks
 *   stream at once, and a walk beyond them reads keyset pages from the pool until one ends.
 * - Release: on the walk's end, `break`/throw/`return`, its idle timeout or collection (sql-stream-walk.ts),
 *   and {@link PostgresStreamer.close} (storage.close()), after which a walk's next page is a
 *   `ConnectionError`, never a walk ended short in silence. A client whose connection is lost is destroyed.
 */
import pg from "pg";
import { ConnectionError } from "../../errors.js";
import type { SqlCursor, SqlRunner, SqlStreamer } from "../sql/sql-runner.js";
import { SqlStreamSlots } from "../sql/sql-stream-slots.js";
import { noteStatement } from "../../observe/operation-trace.js";

/** Walks streaming at once, each holding a server connection and a snapshot; beyond them, keyset pages. */
export const MAX_STREAM_CLIENTS = 8;
/** Clients of ended walks kept connected for the next walk. */
const IDLE_STREAM_CLIENTS = 2;
/** Plan nodes that pass their child's rows on in the child's order: a `Sort` under them still sorts every match. */
const ORDER_KEEPING_NODES = new Set(["Limit", "Gather Merge", "Result"]);
/** The cursor's name; one per client, which runs one walk at a time. */
const CURSOR = "strata_walk";
/** The largest row count `FETCH FORWARD n` takes (PostgreSQL reads it as a 32-bit integer). */
const MAX_FETCH_COUNT = 2 ** 31 - 1;

/** A plan node of `EXPLAIN (FORMAT JSON)`, as far as read here. */
interface PlanNode {
  readonly "Node Type"?: string;
  readonly Plans?: readonly PlanNode[];
}

/** The EXPLAIN whose plan {@link planSortsEveryMatch} reads. */
export function explainText(select: string): string {
  return `EXPLAIN (FORMAT JSON) ${select}`;
}

/** True when the plan of {@link explainText} (its rows) sorts every match before its first row: a `Sort` at its top. */
export function planSortsEveryMatch(rows: readonly unknown[][]): boolean {
  let node = ((rows[0]?.[0] as { Plan?: PlanNode }[] | undefined)?.[0])?.Plan;
  while (node !== undefined) {
    const type = node["Node Type"] ?? "";
    if (type === "Sort") return true;
    if (!ORDER_KEEPING_NODES.has(type)) return false;
    node = node.Plans?.[0];
  }
  return false;
}

/** A client of a walk's own, and the failure that ended its connection, if any. */
interface StreamClient {
  readonly client: pg.Client;
  lost: Error | undefined;
}

export class PostgresStreamer implements SqlStreamer {
  private readonly idle: StreamClient[] = [];
  /** Clients being connected or cursors being declared, and cursors open, counted against {@link MAX_STREAM_CLIENTS}. */
  private readonly slots = new SqlStreamSlots(MAX_STREAM_CLIENTS);
  private closed = false;

  constructor(
    /** The pool's runner, for EXPLAIN. */
    private readonly reads: SqlRunner,
    /** A new, unconnected client with the pool's settings. */
    private readonly newClient: () => pg.Client,
    /** What a walk's page fails with after close. */
    private readonly closedError: () => ConnectionError,
  ) {}

  async sortsEveryMatch(text: string, params: readonly unknown[]): Promise<boolean> {
    return planSortsEveryMatch(await this.reads.all(explainText(text), params, false));
  }

  async open(text: string, params: readonly unknown[]): Promise<SqlCursor | undefined> {
    if (this.closed) throw this.closedError();
    if (!this.slots.take()) return undefined;
    noteStatement(text, params);
    let stream: StreamClient | undefined;
    try {
      stream = await this.client();
      // close() ran while the client connected: it could not see this one, which would outlive the storage.
      if (this.closed) throw this.closedError();
      await stream.client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      await stream.client.query({ text: `DECLARE ${CURSOR} NO SCROLL CURSOR FOR ${text}`, values: params as unknown[] });
      if (this.closed) throw this.closedError();
    } catch (error) {
      this.slots.giveBack();
      if (stream) void this.end(stream);
      throw error;
    }
    return this.cursor(stream);
  }

  private cursor(stream: StreamClient): SqlCursor {
    let open = true;
    let released: Promise<void> | undefined;
    const cursor: SqlCursor = {
      next: async (count) => {
        // Closed under the walk (storage.close()): ending quietly would pass a cut-short walk off as whole.
        if (!open) throw this.closedError();
        // `count` is the walk's pageSize, checked a positive safe integer: FETCH takes no parameter, and its
        // count is a 32-bit integer (a larger one is a syntax error): past it, ALL rows are asked, fewer than count.
        const many = count > MAX_FETCH_COUNT ? "ALL" : String(Math.trunc(count));
        const result = await stream.client.query({ text: `FETCH FORWARD ${many} FROM ${CURSOR}`, rowMode: "array" });
        if (!open) throw this.closedError();
        return result.rows as unknown[][];
      },
      close: () => {
        if (released) return released;
        open = false;
        this.slots.release(cursor);
        // COMMIT ends the read-only transaction, its cursor and snapshot with it.
        released = stream.client.query("COMMIT").then(
          () => this.keep(stream),
          () => this.end(stream),
        );
        return released;
      },
    };
    return this.slots.hold(cursor);
  }

  /** A connected client: an idle one still alive, or a new one. */
  private async client(): Promise<StreamClient> {
    for (let kept = this.idle.pop(); kept; kept = this.idle.pop()) {
      if (kept.lost === undefined) return kept;
      void this.end(kept);
    }
    const client = this.newClient();
    const stream: StreamClient = { client, lost: undefined };
    // A connection that ends (server restart, terminated backend) emits `error`, which without a listener
    // would end the process; the walk sees the failure on its next FETCH.
    client.on("error", (error) => (stream.lost ??= error));
    try {
      await client.connect();
    } catch (error) {
      void client.end().catch(() => {});
      throw error;
    }
    return stream;
  }

  /** A client whose walk has ended, kept for the next walk (a few) or disconnected. */
  private async keep(stream: StreamClient): Promise<void> {
    if (!this.closed && stream.lost === undefined && this.idle.length < IDLE_STREAM_CLIENTS) this.idle.push(stream);
    else await this.end(stream);
  }

  private async end(stream: StreamClient): Promise<void> {
    await stream.client.end().catch(() => {});
  }

  /** Ends every walk under way (their next page fails as closed) and disconnects every client. */
  async close(): Promise<void> {
    this.closed = true;
    const ending = this.slots.closeAll();
    ending.push(...this.idle.splice(0).map((stream) => this.end(stream)));
    await Promise.all(ending);
  }
}
