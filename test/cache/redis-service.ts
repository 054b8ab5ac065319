/**
 * The Redis the tests may use: `STRATA_REDIS_URL`. Without it the Redis tests skip with a printed reason;
 * with `STRATA_REQUIRE_SERVICES=1` a missing or unreachable Redis fails them instead.
 */
import { randomUUID } from "node:crypto";
import * as net from "node:net";
import { Redis } from "ioredis";

export const redisUrl = process.env["STRATA_REDIS_URL"];
export const servicesRequired = process.env["STRATA_REQUIRE_SERVICES"] === "1";

if (!redisUrl) {
  console.warn(`[redis tests] STRATA_REDIS_URL is not set: ${servicesRequired ? "FAILING (STRATA_REQUIRE_SERVICES=1)" : "skipping the Redis cache tests"}`);
}

/** A prefix no other test uses. */
export const uniquePrefix = () => `strata-test:${randomUUID()}:`;

/** Fails unless Redis answers; used in a beforeAll when Redis is set (or required). */
export async function assertRedisReachable(): Promise<void> {
  if (!redisUrl) throw new Error("STRATA_REDIS_URL is not set and STRATA_REQUIRE_SERVICES=1");
  const client = new Redis(redisUrl, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    throw new Error(`Redis at ${redisUrl} is unreachable: ${(error as Error).message}`);
  } finally {
    client.disconnect();
  }
}

/** Deletes every key under `prefix`. */
export async function deletePrefix(prefix: string): Promise<void> {
  if (!redisUrl) return;
  const client = new Redis(redisUrl, { maxRetriesPerRequest: 0 });
  client.on("error", () => {});
  try {
    let cursor = "0";
    do {
      const [next, keys] = await client.scan(cursor, "MATCH", `${prefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`)}*`, "COUNT", 500);
      if (keys.length > 0) await client.del(...keys);
      cursor = next;
    } while (cursor !== "0");
  } finally {
    client.disconnect();
  }
}

/** A TCP proxy in front of Redis that a test can take down and bring back, without touching the shared Redis. */
export class RedisProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  /** While set, bytes are dropped both ways and new connections refused, but nothing is closed: a silent partition. */
  private frozen = false;
  port = 0;

  constructor(private readonly target: URL) {}

  get url(): string {
    const url = new URL(this.target.href);
    url.hostname = "127.0.0.1";
    url.port = String(this.port);
    return url.href;
  }

  async up(): Promise<void> {
    const server = net.createServer((client) => {
      if (this.frozen) {
        client.destroy();
        return;
      }
      const upstream = net.connect(Number(this.target.port || 6379), this.target.hostname);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on("error", () => {});
        s.on("close", () => this.sockets.delete(s));
      }
      client.on("data", (chunk: Buffer) => void (this.frozen || upstream.write(chunk)));
      upstream.on("data", (chunk: Buffer) => void (this.frozen || client.write(chunk)));
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  /** Drops every byte from now on without closing anything, as a network partition would (no FIN, no RST). */
  freeze(): void {
    this.frozen = true;
  }

  /** Ends a {@link freeze}: connections opened since then work (the frozen ones have lost bytes for good). */
  thaw(): void {
    this.frozen = false;
  }

  /** Refuses new connections and cuts the open ones, as a Redis going down would. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
