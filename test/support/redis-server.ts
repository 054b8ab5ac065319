/**
 * A redis-server of the test's own, on a free port in a temp dir, that a test may kill and restart: never the
 * shared Redis other tests use. Appends every write to an AOF synced at once, so that entries written before
 * a SIGKILL are there again after the restart (the case where stale L2 entries outlive an outage).
 */
import { execFileSync, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Redis } from "ioredis";

/** Why no redis-server can be started here, or undefined when one can. */
export function redisServerSkipReason(): string | undefined {
  try {
    execFileSync("redis-server", ["--version"], { stdio: "pipe" });
    return undefined;
  } catch (error) {
    const reason = `redis-server is not installed (${(error as Error).message.split("\n")[0]})`;
    if (process.env["STRATA_REQUIRE_SERVICES"] === "1") throw new Error(`STRATA_REQUIRE_SERVICES=1 but ${reason}`);
    console.warn(`[redis outage tests] skipped: ${reason}`);
    return reason;
  }
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const running = new Set<ChildProcess>();
// Whatever happens to the test run, no redis-server of ours outlives it.
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export class OwnRedisServer {
  /** Made at the first start, so that a suite skipped by a filter leaves nothing behind. */
  private dir: string | undefined;
  port = 0;
  private child: ChildProcess | undefined;

  /** Started and not killed since. */
  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts it (on the same port as before, after a kill) and waits until it answers. */
  async start(): Promise<void> {
    if (this.port === 0) this.port = await freePort();
    this.dir ??= mkdtempSync(path.join(tmpdir(), "strata-redis-"));
    const child = spawn("redis-server", ["--port", String(this.port), "--bind", "127.0.0.1", "--dir", this.dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--protected-mode", "no"], {
      stdio: "ignore",
    });
    running.add(child);
    child.once("exit", () => running.delete(child));
    this.child = child;
    const client = new Redis(this.url, { lazyConnect: true, connectTimeout: 500, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on("error", () => {});
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          await client.connect();
          if ((await client.ping()) === "PONG") return;
        } catch (error) {
          if (attempt >= 100 || child.exitCode !== null) throw new Error(`redis-server on port ${this.port} did not start: ${(error as Error).message}`);
          client.disconnect();
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    } finally {
      client.disconnect();
    }
  }

  /** SIGSTOP: its connections stay open and answer nothing, as in a silent partition (`resume()` ends it). */
  pause(): void {
    this.child?.kill("SIGSTOP");
  }

  /** SIGCONT after `pause()`. */
  resume(): void {
    this.child?.kill("SIGCONT");
  }

  /** SIGKILL, and wait until it is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }

  /** Kills it and removes its directory. Safe to call twice. */
  async stop(): Promise<void> {
    await this.kill();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }
}
