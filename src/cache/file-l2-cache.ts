/**
 * The file tier: a directory of entries, one file each, named by a hash of the cache key (never by an
 * id, which could be any string) under a sub-directory per table, so that a bulk write drops a table's
 * entries with one directory removal. Entries are written atomically (temp file + rename), carry their
 * expiry, and the oldest are pruned when the directory grows past `maxSizeBytes`. One process only:
 * other processes are not told of invalidations (use the Redis tier for that).
 */
import { createHash, randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import type { Logger } from "../logger.js";
import type { Clock } from "./l1-cache.js";
import type { InvalidationMessage, L2Cache, L2Read } from "./l2-cache.js";
import { CircuitBreaker } from "./l2-cache.js";

export interface FileL2Options {
  dir: string;
  ttlMs?: number;
  /** @default 268435456 (256 MB) */
  maxSizeBytes?: number;
  clock: Clock;
  logger: Logger;
  retryMs?: number;
}

const hash = (text: string) => createHash("sha256").update(text).digest("hex").slice(0, 40);

/**
 * The table an L2 key belongs to: keys are `e|<schema mark>|<table, URI-encoded>|<id>` (the id may hold
 * any character, the encoded table no `|`). A bulk write drops a table's entries of every schema version:
 * a process still on an older version must not read rows a migration has since changed.
 */
export function tableOfKey(key: string): string {
  const second = key.indexOf("|", key.indexOf("|") + 1);
  return key.slice(second + 1, key.indexOf("|", second + 1));
}

export class FileL2Cache implements L2Cache {
  hits = 0;
  misses = 0;
  errors = 0;
  private readonly dir: string;
  private readonly tmpDir: string;
  private readonly ttlMs: number | undefined;
  private readonly maxSizeBytes: number;
  private readonly clock: Clock;
  private readonly breaker: CircuitBreaker;
  /** Writes and invalidations run one after another, so a removal always lands after the write it follows. */
  private queue: Promise<void> = Promise.resolve();
  /** Bumped by every invalidation; a fill that read an older value is not written. */
  private epoch = 0;
  private bytes = 0;
  private readonly made = new Set<string>();
  private pruning = false;
  private invalidating: Promise<void> | undefined;
  private readonly sized: Promise<void>;

  constructor(options: FileL2Options) {
    this.dir = path.resolve(options.dir);
    this.tmpDir = path.join(this.dir, ".tmp");
    this.ttlMs = options.ttlMs;
    this.maxSizeBytes = options.maxSizeBytes ?? 256 * 1024 * 1024;
    this.clock = options.clock;
    this.breaker = new CircuitBreaker(`file (${this.dir})`, options.logger, options.clock, this, options.retryMs);
    this.sized = this.measure().catch(() => {});
  }

  private fileOf(key: string): string {
    return path.join(this.dir, hash(tableOfKey(key)), `${hash(key)}.entry`);
  }

  async read(key: string): Promise<L2Read> {
    // A write that has returned must be seen: wait for the removals its invalidation queued.
    if (this.invalidating) await this.invalidating;
    const guard = this.epoch;
    if (this.breaker.isOpen) return { value: undefined, guard };
    let text: string;
    try {
      text = await fs.readFile(this.fileOf(key), "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") this.breaker.fail(error);
      this.misses++;
      return { value: undefined, guard };
    }
    // Line 1: the key (JSON), line 2: expiry (0 = none), then the value. The key guards against hash collisions.
    const first = text.indexOf("\n");
    const second = text.indexOf("\n", first + 1);
    const expires = Number(text.slice(first + 1, second));
    if (first < 0 || second < 0 || text.slice(0, first) !== JSON.stringify(key) || (expires !== 0 && expires <= this.clock.now())) {
      this.misses++;
      return { value: undefined, guard };
    }
    this.hits++;
    return { value: text.slice(second + 1), guard };
  }

  write(key: string, value: string, guard: unknown): Promise<void> {
    if (guard !== this.epoch || this.breaker.isOpen) return Promise.resolve();
    return this.enqueue(async () => {
      if (guard !== this.epoch) return;
      const file = this.fileOf(key);
      const body = `${JSON.stringify(key)}\n${this.ttlMs === undefined ? 0 : this.clock.now() + this.ttlMs}\n${value}`;
      await this.ensureDir(this.tmpDir);
      await this.ensureDir(path.dirname(file));
      const temp = path.join(this.tmpDir, randomBytes(8).toString("hex"));
      await fs.writeFile(temp, body);
      await fs.rename(temp, file);
      this.bytes += Buffer.byteLength(body);
      if (this.bytes > this.maxSizeBytes) await this.prune();
    });
  }

  invalidate(keys: readonly string[], tables: readonly string[], _message: InvalidationMessage): Promise<void> {
    this.epoch++;
    return this.track(
      this.enqueue(async () => {
        for (const key of keys) await fs.rm(this.fileOf(key), { force: true });
        for (const table of tables) await this.removeDir(path.join(this.dir, hash(table)));
      }),
    );
  }

  /** Reads wait for `work` (and anything queued before it): until it is done, entries may be stale. */
  private track(work: Promise<void>): Promise<void> {
    this.invalidating = work;
    void work.then(() => {
      if (this.invalidating === work) this.invalidating = undefined;
    });
    return work;
  }

  clear(): Promise<void> {
    this.epoch++;
    return this.track(this.enqueue(async () => {
      const names = await fs.readdir(this.dir).catch(() => [] as string[]);
      for (const name of names) if (name !== ".tmp") await this.removeDir(path.join(this.dir, name));
      this.bytes = 0;
    }));
  }

  async close(): Promise<void> {
    await this.queue;
    await this.sized;
  }

  private enqueue(op: () => Promise<void>): Promise<void> {
    const run = this.queue.then(op).then(
      () => this.breaker.succeed(),
      (error: unknown) => this.breaker.fail(error),
    );
    this.queue = run;
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
