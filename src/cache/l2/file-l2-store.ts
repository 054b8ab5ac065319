/**
 * The file tier: a directory of entries, one file each, named by a hash of the cache key (never by an
 * id, which could be any string) under a sub-directory per table, so that a bulk write drops a table's
 * entries with one directory removal. Entries are written atomically (temp file + rename), carry their
 * expiry, and the oldest are pruned when the directory grows past `maxSizeBytes`. One process only:
 * other processes are not told of invalidations (use the Redis tier for that). Counting, the circuit breaker
 * and falling back to the backend are the `RemoteTier`'s.
 */
import { createHash, randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import type { InvalidationMessage } from "../bus/invalidation-bus.js";
import type { Clock } from "../clock.js";
import { tableOfKey } from "../keys.js";
import type { L2Read, L2Store } from "./l2-store.js";

export interface FileL2Options {
  dir: string;
  ttlMs?: number;
  /** @default 268435456 (256 MB) */
  maxSizeBytes?: number;
  clock: Clock;
}

const hash = (text: string) => createHash("sha256").update(text).digest("hex").slice(0, 40);

/**
 * The file store (`cache.l2: { type: "file", dir }`): see the module comment. Guards are an in-process epoch,
 * since no other process writes the directory.
 */
export class FileL2Store implements L2Store {
  readonly description: string;
  private readonly dir: string;
  private readonly tmpDir: string;
  private readonly ttlMs: number | undefined;
  private readonly maxSizeBytes: number;
  private readonly clock: Clock;
  /** Writes and invalidations run one after another, so a removal always lands after the write it follows. */
  private queue: Promise<void> = Promise.resolve();
  /** Bumped by every invalidation; a fill that read an older value is not written. */
  private epoch = 0;
  private bytes = 0;
  private readonly made = new Set<string>();
  private pruning = false;
  private readonly sized: Promise<void>;

  constructor(options: FileL2Options) {
    this.dir = path.resolve(options.dir);
    this.tmpDir = path.join(this.dir, ".tmp");
    this.ttlMs = options.ttlMs;
    this.maxSizeBytes = options.maxSizeBytes ?? 256 * 1024 * 1024;
    this.clock = options.clock;
    this.description = `file (${this.dir})`;
    this.sized = this.measure().catch(() => {});
  }

  private fileOf(key: string): string {
    return path.join(this.dir, hash(tableOfKey(key)), `${hash(key)}.entry`);
  }

  async read(key: string): Promise<L2Read> {
    const guard = this.epoch;
    let text: string;
    try {
      text = await fs.readFile(this.fileOf(key), "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return { value: undefined, guard };
      throw error;
    }
    // Line 1: the key (JSON), line 2: expiry (0 = none), then the value. The key guards against hash collisions.
    const first = text.indexOf("\n");
    const second = text.indexOf("\n", first + 1);
    const expires = Number(text.slice(first + 1, second));
    if (first < 0 || second < 0 || text.slice(0, first) !== JSON.stringify(key) || (expires !== 0 && expires <= this.clock.now())) {
      return { value: undefined, guard };
    }
    return { value: text.slice(second + 1), guard };
  }

  write(key: string, value: string, guard: unknown): Promise<void> {
    if (guard !== this.epoch) return Promise.resolve();
    return this.enqueue(async () => {
      if (guard !== this.epoch) return;
      const file = this.fileOf(key);
      const body = `${JSON.stringify(key)}\n${this.ttlMs === undefined ? 0 : this.clock.now() + this.ttlMs}\n${value}`;
      try {
        await this.writeEntry(file, body);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
        // A directory made earlier is gone (removed behind our back: a cleanup job, an emptied tmpfs). Without
        // forgetting it, ensureDir would never make it again, and every later write would fail the same way.
        this.made.clear();
        await this.writeEntry(file, body);
      }
      this.bytes += Buffer.byteLength(body);
      if (this.bytes > this.maxSizeBytes) await this.prune();
    });
  }

  /** Writes `body` to `file` atomically: a temp file, then a rename. */
  private async writeEntry(file: string, body: string): Promise<void> {
    await this.ensureDir(this.tmpDir);
    await this.ensureDir(path.dirname(file));
    const temp = path.join(this.tmpDir, randomBytes(8).toString("hex"));
    await fs.writeFile(temp, body);
    await fs.rename(temp, file);
  }

  /** No other process reads this directory: there is nobody to tell of `_message`. */
  invalidate(keys: readonly string[], tables: readonly string[], _message: InvalidationMessage | undefined): Promise<void> {
    this.epoch++;
    return this.enqueue(async () => {
      for (const key of keys) await fs.rm(this.fileOf(key), { force: true });
      for (const table of tables) await this.removeDir(path.join(this.dir, hash(table)));
    });
  }

  /** Every older fill is refused already (the epoch moved with each invalidation): dropping every entry is enough. */
  repair(): Promise<void> {
    return this.clear();
  }

  clear(): Promise<void> {
    this.epoch++;
    return this.enqueue(async () => {
      let names: string[];
      try {
        names = await fs.readdir(this.dir);
      } catch (error) {
        // Never written to: nothing to clear. Any other failure must not pass for a cleared directory.
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
        throw error;
      }
      for (const name of names) if (name !== ".tmp") await this.removeDir(path.join(this.dir, name));
      this.bytes = 0;
    });
  }

  async close(): Promise<void> {
    await this.queue;
    await this.sized;
  }

  /** Runs `op` after everything queued before it; the returned promise rejects if `op` fails, the queue goes on. */
  private enqueue(op: () => Promise<void>): Promise<void> {
    const run = this.queue.then(op);
    this.queue = run.catch(() => {});
    return run;
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.made.has(dir)) return;
    await fs.mkdir(dir, { recursive: true });
    this.made.add(dir);
  }

  /** Renames the directory aside first, so that no reader sees it half removed. */
  private async removeDir(dir: string): Promise<void> {
    const aside = path.join(this.tmpDir, `rm-${randomBytes(8).toString("hex")}`);
    try {
      await this.ensureDir(this.tmpDir);
      await fs.rename(dir, aside);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    this.made.delete(dir);
    await fs.rm(aside, { recursive: true, force: true });
  }

  /** Every entry file with its size and age. */
  private async entries(): Promise<{ file: string; size: number; mtimeMs: number }[]> {
    const out: { file: string; size: number; mtimeMs: number }[] = [];
    const tables = await fs.readdir(this.dir, { withFileTypes: true }).catch(() => []);
    for (const table of tables) {
      if (!table.isDirectory() || table.name === ".tmp") continue;
      const tableDir = path.join(this.dir, table.name);
      for (const name of await fs.readdir(tableDir).catch(() => [] as string[])) {
        const file = path.join(tableDir, name);
        const stat = await fs.stat(file).catch(() => undefined);
        if (stat) out.push({ file, size: stat.size, mtimeMs: stat.mtimeMs });
      }
    }
    return out;
  }

  private async measure(): Promise<void> {
    const found = await this.entries();
    this.bytes += found.reduce((sum, e) => sum + e.size, 0);
    if (this.bytes > this.maxSizeBytes) await this.prune();
  }

  /** Removes the oldest entries until the directory holds at most 80% of `maxSizeBytes`. */
  private async prune(): Promise<void> {
    if (this.pruning) return;
    this.pruning = true;
    try {
      const found = (await this.entries()).sort((a, b) => a.mtimeMs - b.mtimeMs);
      let total = found.reduce((sum, e) => sum + e.size, 0);
      const target = this.maxSizeBytes * 0.8;
      for (const entry of found) {
        if (total <= target) break;
        await fs.rm(entry.file, { force: true });
        total -= entry.size;
      }
      this.bytes = total;
    } finally {
      this.pruning = false;
    }
  }
}
