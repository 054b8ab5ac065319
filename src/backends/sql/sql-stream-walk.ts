/**
 * A streamed walk (`DataSession.stream` on an SQL backend): the pages of one select on a driver's cursor
 * (sql-runner.ts's {@link SqlStreamer}), the idle timeout that lets go of its snapshot, the finalization
 * registry that lets go of a walk dropped without being ended, and the keyset pages read when the driver
 * has no streaming connection to spare. sql-session.ts decides when a walk streams and calls {@link streamWalk}.
 */
import type { NormalizedQuery } from "../../query/query.js";
import type { EntitySchema, Row } from "../../schema/entity-schema.js";
import { sortKeyOf } from "../../repository/page-cursor.js";
import type { CompiledSql } from "./sql-query-compiler.js";
import type { SqlCursor, SqlStreamer } from "./sql-runner.js";

/**
 * How long a streamed walk's consumer may take between two pages before the walk lets go of its snapshot
 * (a long-held snapshot keeps SQLite's WAL from being checkpointed and PostgreSQL's vacuum from removing
 * dead rows); its next page then starts a new select after the last row handed out.
 */
export const STREAM_IDLE_MS = 30_000;

/** What a streamed walk runs, decided once when it starts. */
export interface StreamWalk {
  readonly streams: SqlStreamer;
  readonly schema: EntitySchema;
  readonly query: NormalizedQuery;
  readonly pageSize: number;
  /** The select of the whole query, compiled (and explained) before the walk was handed out. */
  readonly first: CompiledSql;
  /** The select of the rest of the walk, after a keyset position. */
  readonly compile: (part: NormalizedQuery) => CompiledSql;
  readonly decode: (values: readonly unknown[]) => Row;
  /** The session's `find`, for a keyset page when the driver has no streaming connection to spare. */
  readonly find: (schema: EntitySchema, query: NormalizedQuery) => Promise<Row[]>;
  /** The session's error mapper: a driver error as a Strata error naming the table. */
  readonly mapError: (error: unknown, schema: EntitySchema | undefined) => unknown;
}

/**
 * The cursor a streamed walk holds, apart from the walk's generator, so that the idle timer and the
 * finalization registry can close it without keeping the generator alive.
 */
class CursorHold {
  cursor: SqlCursor | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private expired = false;

  /** Starts the idle timer while the consumer has a page: past it, the cursor (and its snapshot) is let go. */
  arm(): void {
    this.expired = false;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.expired = true;
      void this.release().catch(() => {});
    }, STREAM_IDLE_MS);
    this.timer.unref();
  }

  /** Stops the idle timer as the consumer asks for the next page; true when it had already fired. */
  disarm(): boolean {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    return this.expired;
  }

  async release(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const cursor = this.cursor;
    this.cursor = undefined;
    await cursor?.close();
  }
}

/** Lets go of the cursor of a walk whose iterator was collected without being ended. */
const abandonedWalks = new FinalizationRegistry<CursorHold>((hold) => void hold.release().catch(() => {}));

/**
 * The pages of `walk`, each iterator a walk of its own. The cursor opens at the first pull, so a stream
 * never walked holds nothing.
 */
export function streamWalk(walk: StreamWalk): AsyncIterable<Row[]> {
  return {
    [Symbol.asyncIterator]: () => {
      const hold = new CursorHold();
      const pages = walkPages(walk, hold);
      // A walk dropped without return() (its iterator left to the garbage collector) lets go of its
      // snapshot when collected; the idle timeout lets go sooner when the collector is slow to come.
      abandonedWalks.register(pages, hold, hold);
      return pages;
    },
  };
}

/**
 * The pages of a streamed walk. Each stretch of it is one select on a cursor of its own (its snapshot);
 * the walk starts another, after the last row handed out (`after`, as keyset pages do), when the consumer
 * left the cursor idle longer than {@link STREAM_IDLE_MS} (the snapshot was let go meanwhile). When the
 * driver has no streaming connection to spare (its cap), the walk reads a keyset page from the pool and
 * asks again for the next page.
 */
async function* walkPages(walk: StreamWalk, hold: CursorHold): AsyncGenerator<Row[]> {
  const { streams, schema, query, pageSize } = walk;
  const sortKey = (row: Row): unknown[] => sortKeyOf(query.orderBy, row);
  let position: unknown[] | undefined;
  let remaining = query.limit ?? Infinity;
  const { limit: _limit, ...unlimited } = query;
  try {
    while (remaining > 0) {
      // The user's offset applied to the first stretch only; from there on the position does the skipping.
      // A later stretch's select has no limit (the fetch counts bound the walk instead): with one, a
      // descending order over a nullable column compiles to two selects (values, then nulls; see
      // compileFind), of which a cursor would run only the first and lose the nulls.
      const part: NormalizedQuery = position === undefined ? query : { ...unlimited, offset: 0, after: position };
      const sql = position === undefined ? walk.first : walk.compile(part);
      let cursor: SqlCursor | undefined;
      try {
        cursor = await streams.open(sql.text, sql.params);
      } catch (error) {
        throw walk.mapError(error, schema);
      }
      if (cursor === undefined) {
        const count = Math.min(pageSize, remaining);
        const rows = await walk.find(schema, { ...part, limit: count });
        if (rows.length === 0) return;
        // The position is read before the rows go out: the caller may change what it is given.
        position = sortKey(rows[rows.length - 1]!);
        remaining -= rows.length;
        yield rows;
        if (rows.length < count) return;
        continue;
      }
      hold.cursor = cursor;
      for (;;) {
        const count = Math.min(pageSize, remaining);
        let values: unknown[][];
        try {
          values = await cursor.next(count);
        } catch (error) {
          throw walk.mapError(error, schema);
        }
        const rows = values.map(walk.decode);
        const last = rows[rows.length - 1];
        if (last === undefined) return;
        position = sortKey(last);
        remaining -= rows.length;
        if (rows.length < count || remaining <= 0) {
          // The last page: the snapshot is let go before the consumer gets it.
          await hold.release();
          yield rows;
          return;
        }
        hold.arm();
        yield rows;
        if (hold.disarm()) break;
      }
    }
  } finally {
    abandonedWalks.unregister(hold);
    await hold.release();
  }
}
