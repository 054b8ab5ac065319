/** A child process running test/fixtures/cache-peer.ts (compiled to dist/): one JSON command and answer per line. */
import { spawn } from "node:child_process";
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import * as path from "node:path";
import { createInterface } from "node:readline";

export class CachePeer {
  private readonly answers: Array<{ resolve(value: Record<string, unknown>): void; reject(error: Error): void }> = [];
  private readonly child: ChildProcessWithoutNullStreams;
  private stderr = "";
  readonly ready: Promise<Record<string, unknown>>;

  constructor(url: string, redisUrl: string, prefix: string, heartbeatMs?: number) {
    const script = path.resolve("dist/test/fixtures/cache-peer.js");
    this.child = spawn(process.execPath, [script, url, redisUrl, prefix, ...(heartbeatMs ? [String(heartbeatMs)] : [])]);
    this.child.stderr.on("data", (chunk: Buffer) => void (this.stderr += chunk.toString()));
    const lines = createInterface({ input: this.child.stdout });
    lines.on("line", (line) => this.answers.shift()?.resolve(JSON.parse(line) as Record<string, unknown>));
    this.child.once("exit", (code, signal) => {
      const error = new Error(`the peer exited (${code ?? signal}): ${this.stderr}`);
      for (const answer of this.answers.splice(0)) answer.reject(error);
    });
    this.ready = new Promise((resolve, reject) => this.answers.push({ resolve, reject }));
  }

  ask(command: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.reject(new Error(`the peer has exited: ${this.stderr}`));
    return new Promise((resolve, reject) => {
      this.answers.push({ resolve, reject });
      this.child.stdin.write(`${JSON.stringify(command)}\n`);
    });
  }

  /** The value of `id` this peer returns now. */
  async get(id: string): Promise<{ name: string | null; stats: { l1: { hits: number; misses: number }; l2: { hits: number; misses: number; errors: number } } }> {
    return (await this.ask({ op: "get", id })) as never;
  }

  /** Kills the process at once, as a crash would. */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.kill("SIGKILL");
    await exited;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.stdin.write(`${JSON.stringify({ op: "close" })}\n`);
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3000).unref())]);
    await this.kill();
  }
}
