/**
 * The Redis tier: entries under a prefix with a TTL, shared by every process on that Redis, which also
 * hear of each other's writes over a publish/subscribe channel and drop their L1 copies. ioredis is loaded
 * with a dynamic import only when this tier is configured.
 *
 * Fills are guarded: each entry key has a version key (and each table one), bumped by every invalidation;
 * a fill carries the versions seen when its read began and a Lua script stores it only if they are
 * unchanged, so a process that read a row before another process's write cannot put the old row back.
 *
 * The subscription is the invalidation bus. On a backend other processes write to (`sharedData`), L1 is
 * trusted only while the bus is up: it is reported lost when its connection closes, or when a heartbeat
 * PING on it goes unanswered for a whole `heartbeatMs` (a silent partition closes nothing), and back once
 * the channel is subscribed again. Losing it also makes L2 suspect (a peer may have committed while neither
 * could reach Redis, and that peer may never come back to repair it): the namespace's entries are dropped
 * before L2 is read again.
 */
import { randomUUID } from "node:crypto";
import type { Redis as RedisClient, RedisOptions } from "ioredis";
import { ConfigError } from "../errors.js";
import type { Logger } from "../logger.js";
import { tableOfKey } from "./file-l2-cache.js";
import type { Clock } from "./l1-cache.js";
import type { InvalidationMessage, L2Cache, L2Read } from "./l2-cache.js";
import { CircuitBreaker } from "./l2-cache.js";

export interface RedisL2Options {
  url: string;
  /** @default 3600000 (one hour): entries in a shared Redis should not live forever */
  ttlMs?: number;
  /** @default "strata:" */
  prefix?: string;
  clock: Clock;
  logger: Logger;
  /** Called with another process's writes, and with `undefined` when a peer says everything may have changed. */
  onRemoteInvalidation(message: InvalidationMessage | undefined): void;
  /** Other processes may write the data (a shared backend): without the bus, neither L1 nor L2 can be trusted. */
  sharedData: boolean;
  /** Called with `false` when the bus is lost, and with `true` once it is subscribed again (or for the first time). */
  onBusChange(up: boolean): void;
  /** How often the bus is checked with a PING; one unanswered for this long counts as lost. @default 1000 */
  heartbeatMs?: number;
  retryMs?: number;
  /** How long one command may take before the tier counts as down. @default 1000 */
  commandTimeoutMs?: number;
}

type FillingClient = RedisClient & {
  strataFill(entry: string, keyVersion: string, tableVersion: string, seenKey: string, seenTable: string, value: string, ttlMs: number): Promise<number>;
};

const FILL_SCRIPT = `
if (redis.call('GET', KEYS[2]) or '') == ARGV[1] and (redis.call('GET', KEYS[3]) or '') == ARGV[2] then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
  return 1
end
return 0`;

/** How often the bus is checked, and how long a check may go unanswered. */
export const DEFAULT_HEARTBEAT_MS = 1000;

/** Version keys outlive entries by far: one expiring during a read could let an old fill through. */
const VERSION_TTL_MS = 24 * 3600 * 1000;

const escapeGlob = (text: string) => text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);

/** Opens the Redis tier; a Redis that cannot be reached is reported once and retried in the background. */
export async function openRedisL2Cache(options: RedisL2Options): Promise<RedisL2Cache> {
  let Redis: typeof import("ioredis").Redis;
  try {
    ({ Redis } = await import("ioredis"));
  } catch (error) {
    throw new ConfigError(['cache.l2: the Redis tier needs the "ioredis" package; install it with npm install ioredis'], { cause: error });
  }
  const common: RedisOptions = {
    lazyConnect: true,
    connectTimeout: 2000,
    maxRetriesPerRequest: 0,
    retryStrategy: (times) => Math.min(100 * times, 1000),
    // How long disconnect() waits for the socket to close before destroying it: a socket to a Redis that is
    // gone or silent never closes, and the default (2 s) timer kept node alive that long after close(), and
    // delayed the reconnect after a heartbeat that found the bus silent. Nothing is left to flush by then.
    disconnectTimeout: 0,
  };
  // Commands fail at once while disconnected (no offline queue), so a read falls back to the backend
  // instead of waiting; the subscriber does queue, so that it subscribes as soon as Redis is reachable.
  // A command that failed when its connection closed must not be sent again behind our back after the
  // reconnect: a fill carrying versions read before an outage could land after the recovery's flush.
  const client = new Redis(options.url, { ...common, enableOfflineQueue: false, autoResendUnfulfilledCommands: false, commandTimeout: options.commandTimeoutMs ?? 1000 }) as FillingClient;
  const subscriber = new Redis(options.url, { ...common, enableOfflineQueue: true });
  client.defineCommand("strataFill", { numberOfKeys: 3, lua: FILL_SCRIPT });
  const cache = new RedisL2Cache(client, subscriber, options);
  await cache.start();
  return cache;
}

export class RedisL2Cache implements L2Cache {
  hits = 0;
  misses = 0;
  errors = 0;
  private readonly prefix: string;
  private readonly channel: string;
  private readonly ttlMs: number;
  private readonly source = randomUUID();
  private readonly breaker: CircuitBreaker;
  /** Entries may be stale (an invalidation could not reach Redis, or the bus was lost): the namespace is flushed before use. */
  private dirty = false;
  /** Bumped whenever `dirty` is set, so that a flush that began earlier does not clear it. */
  private dirtyMark = 0;
  /** An invalidation (or a clear) of this process could not be sent: the flush also tells every peer to drop its L1. */
  private unsent = false;
  private flushing: Promise<boolean> | undefined;
  /** What the invalidations that failed named: their versions are bumped on recovery, so that no fill begun before them lands. */
  private readonly missed = { keys: new Set<string>(), tables: new Set<string>() };
  private closed = false;
  private invalidating: Promise<void> | undefined;
  /** Subscribed and answering: every message published since the subscription reaches this process. */
  private busUp = false;
  /** Bumped on every loss of the bus, so that a subscribe or PING answer from an older connection counts for nothing. */
  private busEpoch = 0;
  private pingPending = false;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly heartbeatMs: number;
  private firstBus: (() => void) | undefined;

  constructor(
    private readonly client: FillingClient,
    private readonly subscriber: RedisClient,
    private readonly options: RedisL2Options,
  ) {
    this.prefix = options.prefix ?? "strata:";
    this.channel = `${this.prefix}invalidations`;
    this.ttlMs = options.ttlMs ?? 3600 * 1000;
    this.breaker = new CircuitBreaker(`Redis (${redactUrl(options.url)})`, options.logger, options.clock, this, options.retryMs);
    // ioredis reports connection trouble as events; the breaker reports it once, via the failed commands.
    client.on("error", () => {});
    subscriber.on("error", () => {});
    subscriber.on("message", (channel: string, text: string) => {
      if (channel !== this.channel) return;
      try {
        // `w: null` is "everything may have changed": a peer recovering from an invalidation it could not send.
        const parsed = JSON.parse(text) as { s: string; w: InvalidationMessage | null };
        if (parsed.s !== this.source) options.onRemoteInvalidation(parsed.w ?? undefined);
      } catch {
        options.logger.warn(`Ignored a malformed message on the Redis channel ${this.channel}`);
      }
    });
    // ioredis resubscribes on its own after a reconnect; subscribing here too gives a reply that tells when
    // the channel is heard again. Messages published in between are lost: the manager drops L1 on `true`.
    subscriber.on("ready", () => {
      const epoch = this.busEpoch;
      subscriber.subscribe(this.channel).then(
        () => epoch === this.busEpoch && this.busRestored(),
        () => {},
      );
    });
    subscriber.on("close", () => this.busLost());
    // Make good on unsent invalidations as soon as Redis is back, not at this process's next read or write.
    client.on("ready", () => void (this.dirty && this.flushDirty()));
    this.heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.heartbeat = setInterval(() => this.beat(), this.heartbeatMs);
    this.heartbeat.unref();
  }

  private busRestored(): void {
    if (this.busUp || this.closed) return;
    this.busUp = true;
    this.pingPending = false;
    this.firstBus?.();
    this.options.onBusChange(true);
  }

  private busLost(): void {
    if (!this.busUp || this.closed) return;
    this.busUp = false;
    this.busEpoch++;
    this.pingPending = false;
    if (this.options.sharedData) this.markDirty(false);
    this.options.onBusChange(false);
  }

  private markDirty(unsent: boolean): void {
    this.dirty = true;
    this.dirtyMark++;
    if (unsent) this.unsent = true;
  }

  /** The heartbeat: repairs what is dirty, and checks that the bus still answers. */
  private beat(): void {
    if (this.closed) return;
    if (this.dirty && !this.breaker.isOpen) void this.flushDirty();
    // Only L1 trust depends on the bus, and only where other processes write.
    if (!this.options.sharedData || !this.busUp) return;
    if (this.pingPending) {
      // Unanswered for a whole interval: the connection may be gone without a close (a partition sends none).
      // Said here, since no command may fail to report it (the breaker reports failures that close connections).
      this.options.logger.warn(`The Redis subscription on ${this.channel} did not answer for ${this.heartbeatMs} ms; the in-process cache is bypassed until it is back`);
      this.busLost();
      this.subscriber.disconnect(true);
      return;
    }
    this.pingPending = true;
    const epoch = this.busEpoch;
    this.subscriber.ping().then(
      () => void (epoch === this.busEpoch && (this.pingPending = false)),
      () => {},
    );
  }

  /** Connects both clients; failure is not fatal (the circuit opens and ioredis keeps retrying). */
  async start(): Promise<void> {
    let reachable = true;
    try {
      await this.client.connect();
    } catch (error) {
      reachable = false;
      // Peers may have committed while none of us could reach Redis: L2 is flushed once it is reachable.
      if (this.options.sharedData) this.markDirty(false);
      this.breaker.fail(error);
    }
    const subscribed = new Promise<void>((resolve) => (this.firstBus = resolve));
    this.subscriber.connect().catch(() => {});
    // Until the bus is up the manager serves no L1 on shared data; wait a little for it, so that a storage
    // opened with Redis reachable starts with its L1 on.
    if (reachable) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, 2000)).unref());
      await Promise.race([subscribed, timeout]);
      clearTimeout(timer);
    }
    this.firstBus = undefined;
  }

  async read(key: string): Promise<L2Read> {
    if (this.closed) return { value: undefined, guard: undefined };
    // A write that has returned must be seen: wait for its invalidation (a bulk one deletes by SCAN).
    if (this.invalidating) await this.invalidating;
    if (this.breaker.isOpen || (this.dirty && !(await this.flushDirty()))) {
      return { value: undefined, guard: undefined };
    }
    try {
      const value = await this.client.get(this.prefix + key);
      this.breaker.succeed();
      if (value !== null) {
        this.hits++;
        return { value, guard: undefined };
      }
      this.misses++;
      // Only a miss is filled, so only a miss needs the versions; read before the backend is, they date the fill.
      const [keyVersion, tableVersion] = await this.client.mget(`${this.prefix}v:${key}`, `${this.prefix}t:${tableOfKey(key)}`);
      return { value: undefined, guard: [keyVersion ?? "", tableVersion ?? ""] };
    } catch (error) {
      this.breaker.fail(error);
      return { value: undefined, guard: undefined };
    }
  }

  async write(key: string, value: string, guard: unknown): Promise<void> {
    // No guard: the read that would have given one failed, so nothing proves the value is current.
    if (!Array.isArray(guard) || this.breaker.isOpen || this.dirty || this.closed) return;
    try {
      await this.client.strataFill(this.prefix + key, `${this.prefix}v:${key}`, `${this.prefix}t:${tableOfKey(key)}`, guard[0] as string, guard[1] as string, value, this.ttlMs);
    } catch (error) {
      this.breaker.fail(error);
    }
  }

  invalidate(keys: readonly string[], tables: readonly string[], message: InvalidationMessage): Promise<void> {
    if (this.closed) return Promise.resolve();
    const work = this.invalidateNow(keys, tables, message);
    this.invalidating = work;
    void work.then(() => {
      if (this.invalidating === work) this.invalidating = undefined;
    });
    return work;
  }

  private async invalidateNow(keys: readonly string[], tables: readonly string[], message: InvalidationMessage): Promise<void> {
    const previous = this.invalidating;
    try {
      // Keep invalidations in order: a later one's publish must not overtake an earlier one's deletes.
      if (previous) await previous;
      // Tried even while the circuit is open: reads may skip a failing tier, but an invalidation is what
      // keeps other processes correct. Not once Redis has failed us and the circuit is still open: a silent
      // Redis makes each command wait out its timeout, and every read waits for the invalidations before it.
      // Recorded instead; the recovery's flush makes it good (the heartbeat tries once the circuit closes).
      if (this.dirty && this.breaker.isOpen) throw new Error("Redis is still unreachable");
      if (this.dirty && !(await this.flushDirty())) throw new Error("Redis is still unreachable");
      const announcement = JSON.stringify({ s: this.source, w: message });
      if (tables.length === 0) {
        // Rows by key: the publish runs in the same transaction as the deletes, so that peers hear of the
        // commit one round trip sooner, and still never before its entries are gone.
        await this.bumpVersions(keys, tables, announcement);
      } else {
        await this.bumpVersions(keys, tables);
        for (const table of tables) await this.deleteMatching(`${escapeGlob(this.prefix)}e|*|${escapeGlob(table)}|*`);
        await this.client.publish(this.channel, announcement);
      }
      this.breaker.succeed();
    } catch (error) {
      if (!this.breaker.isOpen) this.breaker.fail(error);
      for (const key of keys) this.missed.keys.add(key);
      for (const table of tables) this.missed.tables.add(table);
      this.markDirty(true);
    }
  }

  /**
   * Deletes the keys' entries and bumps their versions and the tables', so that older fills are refused;
   * then, in the same transaction, publishes `announcement` if given.
   */
  private async bumpVersions(keys: Iterable<string>, tables: Iterable<string>, announcement?: string): Promise<void> {
    const batch = this.client.multi();
    for (const key of keys) {
      batch.del(this.prefix + key);
      batch.incr(`${this.prefix}v:${key}`);
      batch.pexpire(`${this.prefix}v:${key}`, VERSION_TTL_MS);
    }
    for (const table of tables) {
      batch.incr(`${this.prefix}t:${table}`);
      batch.pexpire(`${this.prefix}t:${table}`, VERSION_TTL_MS);
    }
    if (announcement !== undefined) batch.publish(this.channel, announcement);
    const results = await batch.exec();
    // A transaction that Redis refused or aborted reports it in its results rather than by rejecting.
    const failed = results?.find(([error]) => error !== null)?.[0];
    if (!results || failed) throw failed ?? new Error("the Redis transaction was aborted");
  }

  async clear(): Promise<void> {
    try {
      await this.deleteMatching(`${escapeGlob(this.prefix)}e|*`);
    } catch (error) {
      this.breaker.fail(error);
      this.markDirty(true);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Let queued invalidations reach Redis (other processes rely on them), then leave politely.
    await this.invalidating;
    this.closed = true;
    clearInterval(this.heartbeat);
    this.subscriber.disconnect();
    await this.client.quit().catch(() => this.client.disconnect());
  }

  /** @internal for tests: drops the command connection as a network failure would (ioredis reconnects). */
  simulateDisconnect(): void {
    this.client.disconnect(true);
  }

  private async deleteMatching(pattern: string): Promise<void> {
    let cursor = "0";
    do {
      const [next, found] = await this.client.scan(cursor, "MATCH", pattern, "COUNT", 500);
      if (found.length > 0) await this.client.del(...found);
      cursor = next;
    } while (cursor !== "0");
  }

  /** Recovers from a time without Redis (one recovery at a time; callers share it). */
  private flushDirty(): Promise<boolean> {
    this.flushing ??= this.flushNow().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  /**
   * Refuses fills begun before the invalidations that could not be sent, drops every entry of the namespace
   * (some may predate a commit nobody could announce), and, if this process failed to send invalidations,
   * tells every other process to drop its whole L1 (it never heard of those writes).
   */
  private async flushNow(): Promise<boolean> {
    const mark = this.dirtyMark;
    const unsent = this.unsent;
    const keys = [...this.missed.keys];
    const tables = [...this.missed.tables];
    try {
      await this.bumpVersions(keys, tables);
      await this.deleteMatching(`${escapeGlob(this.prefix)}e|*`);
      if (unsent) await this.client.publish(this.channel, JSON.stringify({ s: this.source, w: null }));
      for (const key of keys) this.missed.keys.delete(key);
      for (const table of tables) this.missed.tables.delete(table);
      // Something else failed meanwhile: it needs a flush of its own.
      if (mark === this.dirtyMark) {
        this.dirty = false;
        this.unsent = false;
      }
      this.breaker.succeed();
      return !this.dirty;
    } catch (error) {
      this.breaker.fail(error);
      return false;
    }
  }
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, "//***@");
}
