/**
 * The cap on a driver's streamed walks (sql-runner.ts's {@link SqlStreamer}), written once for every
 * dialect: each walk streaming holds a connection and a read snapshot of its own, so at most `max` stream
 * at once, counting those still opening; a walk beyond them reads keyset pages until a slot frees.
 */
import type { SqlCursor } from "./sql-runner.js";

export class SqlStreamSlots {
  private readonly cursors = new Set<SqlCursor>();
  /** Cursors being opened (a connection made, a select started), counted against the cap with the open ones. */
  private opening = 0;

  constructor(
    /** Walks streaming at once. */
    readonly max: number,
  ) {}

  /** Takes a slot for a cursor about to open; false when all are in use (the walk then reads a keyset page). */
  take(): boolean {
    if (this.cursors.size + this.opening >= this.max) return false;
    this.opening++;
    return true;
  }

  /** Gives back a slot {@link take}n for a cursor that failed to open. */
  giveBack(): void {
    this.opening--;
  }

  /** The cursor of a slot {@link take}n has opened: it holds the slot until {@link release}d, and {@link closeAll} ends it. */
  hold(cursor: SqlCursor): SqlCursor {
    this.opening--;
    this.cursors.add(cursor);
    return cursor;
  }

  /** A cursor has closed: its slot is free. */
  release(cursor: SqlCursor): void {
    this.cursors.delete(cursor);
  }

  /** Closes every open cursor (their walks' next page then fails as closed). */
  closeAll(): (void | Promise<void>)[] {
    return [...this.cursors].map((cursor) => cursor.close());
  }
}
