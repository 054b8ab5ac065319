/**
 * The invalidation bus: how processes sharing a remote tier hear of each other's committed writes, so that
 * each drops its L1 copies. The message format and the channel are the bus's; the store that shares the
 * bus's server publishes them, inside its own invalidation where it can (see `RedisL2Store.invalidate`), so
 * that a peer never hears of a write before that write's entries are gone.
 */

/**
 * Writes announced to other processes: table to keys, or `"all"` for a bulk write. With keys, the writer's key
 * space of the table (see `TableKeys.space`): a peer whose space differs (another schema version: a migration ran
 * in between, or in one of them) drops its own L2 entries of those keys, which the writer's deletes never reach.
 * A peer from before the space was sent reads the first two elements only.
 */
export type InvalidationMessage = ReadonlyArray<readonly [table: string, keys: readonly (string | number)[] | "all", space?: string]>;

export interface InvalidationBus {
  /** Where announcements are published. */
  readonly channel: string;
  /**
   * The text to publish for `message`, or for `null`: "everything may have changed" (a process that could
   * not send some of its invalidations). Stamped with this process's id, so that it ignores its own.
   */
  encode(message: InvalidationMessage | null): string;
  /** Stops listening. */
  close(): void;
}
