/**
 * The append-only journal, `journal.ndjson`: one line per committed transaction,
 * ```
 * {"seq":7,"crc":"1c291ca3","ops":[["tasks","a1",{"id":"a1","title":"x",...}],["tasks","b2",null]]}
 * ```
 * `ops` are the transaction's net changes (a null row is a delete), rows keyed by column name, including
 * those a foreign key's `onDelete` made (rows of other tables deleted by CASCADE or rewritten by SET NULL);
 * `crc` is the CRC-32 of `"<seq> <ops text>"`, so a line is checked without re-serializing it.
 * A line is UTF-8 and ends with `\n`, the only byte that ends one (JSON.stringify escapes it in strings);
 * every other character a string may hold, U+2028, U+2029 and U+0085 included, stays raw inside the line.
 * Recovery: bytes after the last `\n` are a torn tail (cut off with a warning); a complete line that fails
 * its checksum is a `CorruptionError`, even as the last line, since it was written whole and acknowledged.
 *
 * Durability: a commit's line is written to the OS under the backend's writer (so lines never
 * interleave), then the writer is released and the commit waits for an `fdatasync` covering its line.
 * While one flush runs, the commits queued behind it append and then share the next one (group commit).
 * A failed append is cut off again, so the journal never holds half a line followed by a whole one; a
 * failed flush poisons the journal: every later write fails, since what the OS holds is in doubt.
 */
import fs from "node:fs";
import * as path from "node:path";
import { crc32 } from "node:zlib";
import type { Key } from "../../spi/index.js";
import { ConnectionError, CorruptionError } from "../../errors.js";
import type { StoredRow } from "./file-snapshot.js";
import { fsyncDirectory } from "./file-snapshot.js";

/** The journal file's name inside the data directory. */
export const JOURNAL_FILE = "journal.ndjson";

/** One change in a journal line: table, primary key, row (null: deleted). */
export type JournalOp = [table: string, key: Key, row: StoredRow | null];

export interface JournalEntry {
  readonly seq: number;
  readonly ops: JournalOp[];
  /** 1-based line number, for messages. */
  readonly line: number;
}

// `s`: the ops text may hold every character JSON.stringify leaves raw in a string, U+2028 and U+2029
// among them, which `.` alone does not match. Only \n ends a line: JSON.stringify always escapes it.
const LINE = /^\{"seq":(\d+),"crc":"([0-9a-f]{8})","ops":(.*)\}$/s;

function checksum(seq: number, opsText: string): string {
  return crc32(`${seq} ${opsText}`).toString(16).padStart(8, "0");
}

function parseLine(text: string, line: number): JournalEntry | undefined {
  const match = LINE.exec(text);
  if (!match) return undefined;
  const seq = Number(match[1]);
  const opsText = match[3]!;
  if (checksum(seq, opsText) !== match[2]) return undefined;
  try {
    const ops = JSON.parse(opsText) as unknown;
    return Array.isArray(ops) ? { seq, ops: ops as JournalOp[], line } : undefined;
  } catch {
    return undefined;
  }
}

/** What reading the journal found. */
export interface JournalContents {
  readonly entries: JournalEntry[];
  /** Bytes up to the end of the last good line; a torn tail beyond it is to be cut off. */
  readonly goodLength: number;
  /** Bytes of the file as found. */
  readonly length: number;
}

/**
 * Reads and checks the journal. Bytes after the last newline are a torn tail (a crash while appending:
 * every append writes its newline with the line, and none of those bytes was acknowledged, since a
 * commit returns only once its whole line is flushed), and are to be cut off. A complete line (one that
 * ends with a newline) that fails its checksum or is not a journal line was written whole, so it may be
 * an acknowledged commit: a {@link CorruptionError} naming the line, wherever it is, the last line
 * included. So is a tail that is a whole line but for a damaged newline, and sequence numbers out of order.
 * `beforeParse` sees the bytes once read, before any line is parsed (the heap check counts rows in them).
 */
export function readJournal(file: string, beforeParse?: (data: Buffer) => void): JournalContents {
  let data: Buffer;
  try {
    data = fs.readFileSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { entries: [], goodLength: 0, length: 0 };
    throw error;
  }
  beforeParse?.(data);
  const entries: JournalEntry[] = [];
  let start = 0;
  let line = 0;
  let previousSeq = -1;
  while (start < data.length) {
    line++;
    const end = data.indexOf(10, start);
    if (end < 0) {
      // A crash cuts a line short but never writes a wrong byte: a whole line whose last byte is not the
      // newline was damaged after it was written.
      if (data.length - start > 1 && parseLine(data.toString("utf8", start, data.length - 1), line)) {
        throw new CorruptionError(
          `${file}:${line} is a whole journal line whose final newline was overwritten; Strata will not open this directory rather than guess. ` +
            `Restore it from a backup, or put the newline back by hand.`,
          { file },
        );
      }
      return { entries, goodLength: start, length: data.length };
    }
    const entry = parseLine(data.toString("utf8", start, end), line);
    if (!entry) {
      throw new CorruptionError(
        `${file}:${line} fails its checksum or is not a journal line. It is complete (it ends with a newline), so it was written whole and may be ` +
          `an acknowledged transaction: Strata will not open this directory rather than lose it. Restore it from a backup, or delete that line by hand ` +
          `if you accept losing that one transaction.`,
        { file },
      );
    }
    if (entry.seq <= previousSeq) {
      throw new CorruptionError(`${file}:${line} has sequence number ${entry.seq} after ${previousSeq}; the journal was edited or mixed up`, { file });
    }
    previousSeq = entry.seq;
    entries.push(entry);
    start = end + 1;
  }
  return { entries, goodLength: start, length: data.length };
}

interface SyncWaiter {
  target: number;
  resolve(): void;
  reject(error: unknown): void;
}

/** The open journal: appends, group-committed flushes, reset after compaction. */
export class FileJournal {
  /** Bytes in the file now. */
  size: number;
  /** The sequence number of the last line written (or folded into snapshots). */
  seq: number;
  /** Bytes ever appended by this process, and how many of them are known flushed; positions in a stream that survives resets. */
  private written = 0;
  private synced = 0;
  private syncing = false;
  private readonly waiters: SyncWaiter[] = [];
  private failure: unknown;
  private closed = false;

  private constructor(
    readonly file: string,
    private readonly fd: number,
    size: number,
    seq: number,
    private readonly durable: boolean,
  ) {
    this.size = size;
    this.seq = seq;
  }

  /** Opens `file` for appending, first cutting it to `goodLength` (dropping a torn tail). */
  static open(file: string, goodLength: number, seq: number, durable: boolean): FileJournal {
    const created = !fs.existsSync(file);
    const fd = fs.openSync(file, "a");
    try {
      if (fs.fstatSync(fd).size !== goodLength) {
        fs.ftruncateSync(fd, goodLength);
        if (durable) fs.fsyncSync(fd);
      }
      // A new file's directory entry must be on disk too, or a power loss could take the whole journal.
      if (created && durable) fsyncDirectory(path.dirname(file));
    } catch (error) {
      fs.closeSync(fd);
      throw error;
    }
    return new FileJournal(file, fd, goodLength, seq, durable);
  }

  private usable(): void {
    if (this.closed) throw new ConnectionError(`The storage on ${this.file} is closed`, { file: this.file });
    if (this.failure !== undefined) {
      throw new ConnectionError(
        `A write to ${this.file} failed earlier (${(this.failure as Error)?.message ?? String(this.failure)}); ` +
          `close and reopen the storage: reopening recovers every acknowledged commit`,
        { file: this.file, cause: this.failure },
      );
    }
  }

  /**
   * Appends one transaction's line. Returns a promise that settles when the line is on disk
   * (undefined with `fsync: "never"`: the commit returns once the OS has the line).
   */
  append(ops: JournalOp[]): Promise<void> | undefined {
    this.usable();
    const seq = this.seq + 1;
    const opsText = JSON.stringify(ops);
    const data = Buffer.from(`{"seq":${seq},"crc":"${checksum(seq, opsText)}","ops":${opsText}}\n`, "utf8");
    let offset = 0;
    try {
      while (offset < data.length) offset += fs.writeSync(this.fd, data, offset, data.length - offset);
    } catch (error) {
      // Part of the line may be in the file (a short write, then ENOSPC); followed by the next commit's
      // line it would read as corruption, so cut the file back to the last whole line.
      try {
        fs.ftruncateSync(this.fd, this.size);
      } catch (truncateError) {
        this.failure = truncateError;
      }
      throw error;
    }
    this.seq = seq;
    this.size += data.length;
    this.written += data.length;
    if (!this.durable) return undefined;
    const promise = this.flushedUpTo(this.written);
    return promise;
  }

  /** When some appended bytes are not yet flushed: a promise that settles once they are. */
  pendingFlush(): Promise<void> | undefined {
    return this.durable && this.written > this.synced ? this.flushedUpTo(this.written) : undefined;
  }

  /** Waits until every line appended so far is on disk. */
  async flush(): Promise<void> {
    if (this.failure !== undefined) this.usable();
    await this.pendingFlush();
  }

  private flushedUpTo(target: number): Promise<void> {
    // After a failed flush the OS may report later flushes as fine although the lost pages never reached
    // the disk (Linux clears the error once reported): nothing unflushed may be served any more.
    if (this.failure !== undefined) return Promise.resolve().then(() => this.usable());
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ target, resolve, reject });
      this.startFlush();
    });
  }

  private startFlush(): void {
    if (this.syncing || this.waiters.length === 0) return;
    this.syncing = true;
    const target = this.written;
    fs.fdatasync(this.fd, (error) => {
      this.syncing = false;
      if (error) {
        this.failure ??= error;
        for (const w of this.waiters.splice(0)) w.reject(error);
        return;
      }
      this.synced = Math.max(this.synced, target);
      for (let i = 0; i < this.waiters.length; ) {
        const w = this.waiters[i]!;
        if (w.target <= this.synced) {
          this.waiters.splice(i, 1);
          w.resolve();
        } else i++;
      }
      this.startFlush();
    });
  }

  /** Empties the journal after a compaction folded every line into the snapshots. */
  reset(): void {
    this.usable();
    fs.ftruncateSync(this.fd, 0);
    if (this.durable) fs.fsyncSync(this.fd);
    this.size = 0;
  }

  /** Closes the file; call {@link FileJournal.flush} first. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    fs.closeSync(this.fd);
  }
}
