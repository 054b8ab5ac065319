/**
 * Opens the Redis tier: the Redis store behind a {@link RemoteTier}, and the bus its processes announce their
 * writes on. The one module that loads ioredis, with a dynamic import, and only when this tier is configured;
 * the cache manager itself imports this module only then.
 *
 * Losing the bus makes L2 suspect too, where other processes write the data (`sharedData`): a peer may have
 * committed while neither could reach Redis, and that peer may never come back to repair it, so the
 * namespace's entries are dropped before L2 is read again.
 */
import type { RedisOptions } from "ioredis";
import { ConfigError } from "../../errors.js";
import type { Logger } from "../../logger.js";
import { DEFAULT_HEARTBEAT_MS, RedisBus } from "../bus/redis-bus.js";
import type { InvalidationMessage } from "../bus/invalidation-bus.js";
import type { Clock } from "../clock.js";
import type { FillingClient } from "./redis-l2-store.js";
import { FILL_SCRIPT, RedisL2Store, redactUrl } from "./redis-l2-store.js";
import { RemoteTier } from "./remote-tier.js";

export interface RedisTierOptions {
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
  /** How often the bus is checked with a PING (and a dirty store repaired); one unanswered for this long counts as lost. @default 1000 */
  heartbeatMs?: number;
  retryMs?: number;
  /** How long one command may take before the tier counts as down. @default 1000 */
  commandTimeoutMs?: number;
}

/** Opens the Redis tier; a Redis that cannot be reached is reported once and retried in the background. */
export async function openRedisTier(options: RedisTierOptions): Promise<RemoteTier> {
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
  // ioredis reports connection trouble as events; the tier reports it once, via the failed commands.
  client.on("error", () => {});

  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  // The bus reports to the tier, made below: it hears nothing before its subscriber connects, in start().
  const bus = new RedisBus(subscriber, {
    ...(options.prefix !== undefined ? { prefix: options.prefix } : {}),
    logger: options.logger,
    checkLiveness: options.sharedData,
    heartbeatMs,
    onMessage: options.onRemoteInvalidation,
    onChange: (up) => {
      if (!up && options.sharedData) tier.suspect();
      options.onBusChange(up);
    },
  });
  const store = new RedisL2Store(client, {
    description: `Redis (${redactUrl(options.url)})`,
    ...(options.ttlMs !== undefined ? { ttlMs: options.ttlMs } : {}),
    ...(options.prefix !== undefined ? { prefix: options.prefix } : {}),
    bus,
  });
  const tier = new RemoteTier(store, {
    clock: options.clock,
    logger: options.logger,
    ...(options.retryMs !== undefined ? { retryMs: options.retryMs } : {}),
    repairEveryMs: heartbeatMs,
    bus,
  });
  // Make good on unsent invalidations as soon as Redis is back, not at this process's next read or write.
  client.on("ready", () => tier.reachable());

  let reachable = true;
  try {
    await client.connect();
  } catch (error) {
    reachable = false;
    // Peers may have committed while none of us could reach Redis: L2 is repaired once it is reachable.
    if (options.sharedData) tier.suspect();
    tier.failed(error);
  }
  // Until the bus is up the manager serves no L1 on shared data; wait a little for it when Redis is reachable.
  await bus.start(reachable);
  return tier;
}
