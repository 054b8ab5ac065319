/**
 * The invalidation bus over Redis publish/subscribe: every process on the same Redis and prefix subscribes to
 * `<prefix>invalidations` and drops its L1 copies of what the others announce.
 *
 * On a backend other processes write to (`checkLiveness`), L1 is trusted only while the bus is up: it is
 * reported lost when its connection closes, or when a heartbeat PING on it goes unanswered for a whole
 * `heartbeatMs` (a silent partition closes nothing), and back once the channel is subscribed again.
 */
import { randomUUID } from "node:crypto";
import type { Redis as RedisClient } from "ioredis";
import type { Logger } from "../../logger.js";
import type { InvalidationBus, InvalidationMessage } from "./invalidation-bus.js";

/** How often the bus is checked, and how long a check may go unanswered. */
export const DEFAULT_HEARTBEAT_MS = 1000;

export interface RedisBusOptions {
  /** @default "strata:" */
  prefix?: string;
  logger: Logger;
  /** Check with a PING that the bus still answers (only L1 trust depends on it, and only where other processes write). */
  checkLiveness: boolean;
  /** How often the bus is checked with a PING; one unanswered for this long counts as lost. @default 1000 */
  heartbeatMs?: number;
  /** Called with another process's writes, and with `undefined` when a peer says everything may have changed. */
  onMessage(message: InvalidationMessage | undefined): void;
  /** Called with `false` when the bus is lost, and with `true` once it is subscribed again (or for the first time). */
  onChange(up: boolean): void;
}

/**
 * The bus over a Redis subscriber connection of its own (a subscribed connection can send no other command):
 * see the module comment. Made by `openRedisTier`, which hands its channel and encoding to the `RedisL2Store`.
 */
export class RedisBus implements InvalidationBus {
  readonly channel: string;
  /** Subscribed and answering: every message published since the subscription reaches this process. */
  busUp = false;
  private readonly source = randomUUID();
  /** Bumped on every loss of the bus, so that a subscribe or PING answer from an older connection counts for nothing. */
  private busEpoch = 0;
  private pingPending = false;
  private readonly heartbeat: NodeJS.Timeout | undefined;
  private readonly heartbeatMs: number;
  private firstBus: (() => void) | undefined;
  private closed = false;

  constructor(
    private readonly subscriber: RedisClient,
    private readonly options: RedisBusOptions,
  ) {
    this.channel = `${options.prefix ?? "strata:"}invalidations`;
    // ioredis reports connection trouble as events; the remote tier reports it once, via the failed commands.
    subscriber.on("error", () => {});
    subscriber.on("message", (channel: string, text: string) => {
      if (channel !== this.channel) return;
      try {
        // `w: null` is "everything may have changed": a peer recovering from an invalidation it could not send.
        const parsed = JSON.parse(text) as { s: string; w: InvalidationMessage | null };
        if (parsed.s !== this.source) options.onMessage(parsed.w ?? undefined);
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
    this.heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    if (options.checkLiveness) {
      this.heartbeat = setInterval(() => this.beat(), this.heartbeatMs);
      this.heartbeat.unref();
    }
  }

  encode(message: InvalidationMessage | null): string {
    return JSON.stringify({ s: this.source, w: message });
  }

  /**
   * Connects the subscriber (it queues while Redis is unreachable, and subscribes as soon as it is) and,
   * if `wait`, waits a little for the first subscription, so that a storage opened with Redis reachable
   * starts with its L1 on.
   */
  async start(wait: boolean): Promise<void> {
    const subscribed = new Promise<void>((resolve) => (this.firstBus = resolve));
    this.subscriber.connect().catch(() => {});
    if (wait) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, 2000)).unref());
      await Promise.race([subscribed, timeout]);
      clearTimeout(timer);
    }
    this.firstBus = undefined;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.subscriber.disconnect();
  }

  private busRestored(): void {
    if (this.busUp || this.closed) return;
    this.busUp = true;
    this.pingPending = false;
    this.firstBus?.();
    this.options.onChange(true);
  }

  private busLost(): void {
    if (!this.busUp || this.closed) return;
    this.busUp = false;
    this.busEpoch++;
    this.pingPending = false;
    this.options.onChange(false);
  }

  /** The heartbeat: checks that the bus still answers. */
  private beat(): void {
    if (this.closed || !this.busUp) return;
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
}
