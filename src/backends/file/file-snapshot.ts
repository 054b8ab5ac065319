/**
 * Table snapshots and the file operations every file-backend write goes through.
 *
 * A snapshot is `<tableFileName(table)>`, JSON a person can read and diff, one row per line (a changed
 * row is a one-line diff; an indented row would be a dozen):
 * ```json
 * {
 *   "format": 2,
 *   "table": "tasks",
 *   "seq": 42,
 *   "rows": [
 *     {"id":"a1","title":"Write docs","due":"2026-01-02T03:04:05.006Z","done":false},
 *     {"id":"b2","title":"","due":null,"done":true}
 *   ],
 *   "crc": "5f3c2a10"
 * }
 * ```
 * `seq` is the last journal sequence number the snapshot includes; replay skips older journal lines for
 * this table, which is what makes a compaction interrupted between two renames recoverable.
 * Values are keyed by column name; datetimes are ISO strings, decoded by the catalog's column types.
 *
 * `crc` seals the file (see {@link sealJson}): the CRC-32 of every byte before the `,` that precedes it,
 * so a flipped byte anywhere (an id turned into another row's id, an edited value, a retyped column in
 * the catalog, which is sealed the same way) is a `CorruptionError` on open, never data that silently
 * changed. A file edited by hand needs its `crc` updated: the error gives the value the content has.
 * Snapshots written by v0.1 have neither `format` nor `crc` (exactly the members table, seq, rows);
 * they still load, and the next compaction rewrites them sealed. A single flipped byte cannot turn a
 * sealed file into that shape: it would have to remove two members.
 */
import fs from "node:fs";
import * as path from "node:path";
import { crc32 } from "node:zlib";
import { CapacityError, CorruptionError } from "../../errors.js";
import type { EntitySchema, Row } from "../../schema/entity-schema.js";
import { datetimeProblem, emptyRowMaker, valueProblem } from "../../schema/row-values.js";
import type { StringPool } from "./string-pool.js";
import { diskFullError } from "../../util/disk-full-error.js";

/** A stored row as written to disk: column name -> JSON value. */
export type StoredRow = Record<string, unknown>;

/** Converts rows between the engine (property -> logical value) and disk (column name -> JSON value). */
export interface RowCodec {
  encode(row: Row): StoredRow;
  /**
   * The row `stored` (as parsed from disk) holds. `stored` becomes the row itself when it already has the
   * row's shape (columns named as their properties, every one present, in order), so that a load holds one
   * object per row, not a parsed one and a decoded copy: give only objects nobody else holds. `strings`:
   * shares repeated string values between the rows of one load.
   * @throws CorruptionError naming `file` and `where` when a value does not fit its column, or a member is no column.
   */
  decode(stored: unknown, file: string, where: string, strings?: StringPool): Row;
}

/** Builds the codec of a table once, so that encoding a row is a loop over precomputed columns. */
export function makeRowCodec(schema: EntitySchema): RowCodec {
  // The key first: a person reading a snapshot or a journal line finds the row's identity at the start.
  const ordered = [schema.primary, ...schema.columns.filter((c) => c !== schema.primary)];
  const columns = ordered.map((c) => ({ column: c, property: c.property, name: c.name, date: c.type === "datetime", string: c.type === "string" }));
  const names = new Set(ordered.map((c) => c.name));
  /** Whether a stored object can be the row itself: every column is stored under its property's name. */
  const namedAsProperties = ordered.every((c) => c.name === c.property);
  const count = columns.length;
  /** True when `stored`'s own members are exactly the columns, in order: it then has the row's shape. */
  const inRowShape = (stored: StoredRow): boolean => {
    let i = 0;
    for (const key in stored) {
      // for-in also walks inherited members: Object.prototype has none that are enumerable.
      if (i >= count || key !== columns[i]!.name) return false;
      i++;
    }
    return i === count;
  };
  const emptyStored = emptyRowMaker(columns.map((c) => c.name)) as () => StoredRow;
  const emptyRow = emptyRowMaker(columns.map((c) => c.property));
  return {
    encode(row) {
      const out = emptyStored();
      for (const c of columns) {
        const v = row[c.property];
        // The engine holds a datetime as its time (engine/stored-row.ts); a Date is written alike.
        out[c.name] = v === undefined ? null : c.date && (typeof v === "number" || v instanceof Date) ? new Date(v).toISOString() : v;
      }
      return out;
    },
    decode(stored, file, where, strings) {
      if (typeof stored !== "object" || stored === null || Array.isArray(stored)) {
        throw new CorruptionError(`${file}: ${where} of table "${schema.table}" is not an object`, { file, table: schema.table });
      }
      // In place when the shape fits (what Strata writes does): one object per row at load, not two.
      const inPlace = namedAsProperties && inRowShape(stored as StoredRow);
      const out: Row = inPlace ? (stored as Row) : emptyRow();
      let present = 0;
      for (const c of columns) {
        let v = (stored as StoredRow)[c.name];
        if (v !== undefined) present++;
        if (v === undefined || v === null) {
          if (!c.column.nullable) {
            throw new CorruptionError(`${file}: ${where} of table "${schema.table}" has no value for the non-nullable column "${c.name}"`, {
              file,
              table: schema.table,
              field: c.property,
            });
          }
          out[c.property] = null;
          continue;
        }
        let problem: string | undefined;
        // A datetime is held as its time in the engine (engine/stored-row.ts): the ISO string becomes a number.
        if (c.date) {
          if (typeof v === "string") problem = datetimeProblem((v = Date.parse(v)) as number);
          else problem = valueProblem(c.column, v, true);
        } else {
          if (c.string && strings !== undefined && typeof v === "string") v = strings.share(c.column, v);
          problem = valueProblem(c.column, v, true);
        }
        if (problem) {
          throw new CorruptionError(`${file}: ${where} of table "${schema.table}", column "${c.name}": ${problem}`, {
            file,
            table: schema.table,
            field: c.property,
          });
        }
        out[c.property] = v;
      }
      // A member no column reads would vanish at the next compaction: a column name mistyped in an edit
      // (a nullable column then silently reads null), or flipped in a v0.1 file, which has no seal.
      if (!inPlace && present !== Object.keys(stored).length) {
        const member = Object.keys(stored).find((k) => !names.has(k));
        throw new CorruptionError(`${file}: ${where} of table "${schema.table}" has the member ${JSON.stringify(member)}, which is no column of the table`, {
          file,
          table: schema.table,
        });
      }
      return out;
    },
  };
}

/** The 1-based line of a JSON.parse error position in `text`, when the message gives one. */
function lineOf(error: unknown, text: string): number | undefined {
  const match = /position (\d+)/.exec((error as Error)?.message ?? "");
  if (!match) return undefined;
  const pos = Number(match[1]);
  let line = 1;
  for (let i = 0; i < pos && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** The format number of sealed snapshots and catalogs. */
export const SEALED_FORMAT = 2;

/** `,\n  "crc": "xxxxxxxx"\n}\n`: how every sealed file ends. */
const SEAL = /^,\n {2}"crc": "([0-9a-f]{8})"\n\}\n$/;
const SEAL_LENGTH = ',\n  "crc": "00000000"\n}\n'.length;

function crcOf(data: string | Buffer): string {
  return crc32(data).toString(16).padStart(8, "0");
}

/**
 * Seals the text of a pretty-printed JSON object given without its closing `\n}`: appends a last member
 * `"crc"`, the CRC-32 of the UTF-8 bytes before it, so a reader checks the bytes without re-serializing.
 */
export function sealJson(open: string): string {
  return `${open},\n  "crc": "${crcOf(open)}"\n}\n`;
}

/** The text of `value` (a plain object without a `crc` member) as a sealed, pretty-printed JSON file. */
export function sealedJsonText(value: object): string {
  return sealJson(JSON.stringify(value, null, 2).slice(0, -2));
}

/** A parsed JSON file, and whether its seal was present and checked. */
export interface JsonFile {
  readonly value: unknown;
  readonly sealed: boolean;
}

/** Reads a whole file; a file too large for one string is a `CapacityError` naming it. */
function readText(file: string, data: Buffer): string {
  try {
    return data.toString("utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ERR_STRING_TOO_LONG") throw error;
    throw new CapacityError(`${file} (${data.length} bytes) is larger than the longest string this JavaScript engine can hold; the file backend cannot load it`, {
      file,
      cause: error,
    });
  }
}

/**
 * Parses a JSON file, checking its seal when it ends with one. A seal that does not match, or JSON that
 * does not parse, is a `CorruptionError` naming the file (and line); a file without a seal is returned
 * with `sealed: false`, for the caller to accept only in the exact shape v0.1 wrote.
 * `beforeParse` sees the bytes once read, before they become objects (the heap check counts rows in them).
 */
export function readJsonFile(file: string, beforeParse?: (data: Buffer) => void): JsonFile {
  const data = fs.readFileSync(file);
  beforeParse?.(data);
  const seal = data.length >= SEAL_LENGTH ? SEAL.exec(data.toString("latin1", data.length - SEAL_LENGTH)) : null;
  if (seal) {
    const actual = crcOf(data.subarray(0, data.length - SEAL_LENGTH));
    if (actual !== seal[1]) {
      throw new CorruptionError(
        `${file} fails its checksum (its "crc" says ${seal[1]}, its content gives ${actual}): a byte of it changed after Strata wrote it. ` +
          `Strata will not open this directory rather than load damaged data. Restore the file from a backup; if you edited it by hand on purpose, set "crc" to "${actual}".`,
        { file },
      );
    }
  }
  const text = readText(file, data);
  try {
    return { value: JSON.parse(text), sealed: seal !== null };
  } catch (error) {
    const line = lineOf(error, text);
    throw new CorruptionError(
      `${file}${line ? `:${line}` : ""} is not valid JSON (${(error as Error).message}); Strata will not open this directory ` +
        `rather than overwrite it. Restore the file from a backup or repair it by hand.`,
      { file, cause: error },
    );
  }
}

/** True when `value` is an object whose own members are exactly `names`. */
export function hasExactly(value: object, names: readonly string[]): boolean {
  const keys = Object.keys(value);
  return keys.length === names.length && names.every((n) => Object.hasOwn(value, n));
}

const SEALED_SNAPSHOT = ["format", "table", "seq", "rows", "crc"] as const;
const LEGACY_SNAPSHOT = ["table", "seq", "rows"] as const;

/** A table snapshot as read: its `seq`, stored rows, and whether it was written by v0.1 (no seal). */
export interface Snapshot {
  readonly seq: number;
  readonly rows: unknown[];
  readonly legacy: boolean;
}

/** Reads and checks a table snapshot; `beforeParse` as in {@link readJsonFile}. */
export function readSnapshot(file: string, table: string, beforeParse?: (data: Buffer) => void): Snapshot {
  if (!fs.existsSync(file)) {
    throw new CorruptionError(`${file}, the snapshot of table "${table}" listed in the catalog, is missing`, { file, table });
  }
  const { value, sealed } = readJsonFile(file, beforeParse);
  const v = value as { format?: unknown; table?: unknown; seq?: unknown; rows?: unknown };
  const shaped =
    typeof value === "object" && value !== null && Array.isArray(v.rows) && Number.isSafeInteger(v.seq) && (v.seq as number) >= 0 &&
    (sealed ? v.format === SEALED_FORMAT && hasExactly(value, SEALED_SNAPSHOT) : hasExactly(value, LEGACY_SNAPSHOT));
  if (!shaped) {
    throw new CorruptionError(
      `${file}: expected { "format": ${SEALED_FORMAT}, "table", "seq", "rows": [...], "crc" } as the last member (or v0.1's { "table", "seq", "rows" }); ` +
        `the file was damaged or edited`,
      { file, table },
    );
  }
  if (v.table !== table) throw new CorruptionError(`${file} holds table ${JSON.stringify(v.table)}, expected "${table}"`, { file, table });
  return { seq: v.seq as number, rows: v.rows as unknown[], legacy: !sealed };
}

/** The text of a snapshot, sealed. */
export function snapshotText(table: string, seq: number, rows: Iterable<StoredRow>): string {
  const parts: string[] = [];
  for (const row of rows) parts.push(JSON.stringify(row));
  const body = parts.length ? `[\n    ${parts.join(",\n    ")}\n  ]` : "[]";
  return sealJson(`{\n  "format": ${SEALED_FORMAT},\n  "table": ${JSON.stringify(table)},\n  "seq": ${seq},\n  "rows": ${body}`);
}

/**
 * Writes `file` so that a crash leaves either the old or the new content: a temporary file, fsynced,
 * then renamed over it. The caller fsyncs the directory once after a batch of renames.
 * On failure the temporary file is removed and the old file is untouched; a full disk is a `CapacityError` naming `file`.
 */
export function writeFileAtomic(file: string, content: string, durable: boolean): void {
  const temp = `${file}.tmp`;
  try {
    const fd = fs.openSync(temp, "w");
    try {
      const data = Buffer.from(content, "utf8");
      let offset = 0;
      while (offset < data.length) offset += fs.writeSync(fd, data, offset, data.length - offset);
      if (durable) fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temp, file);
  } catch (error) {
    try {
      fs.rmSync(temp, { force: true });
    } catch {
      /* the original error is what matters */
    }
    throw diskFullError(error, file, `write ${file}`) ?? error;
  }
}

/** Makes renames and creations in `dir` durable. */
export function fsyncDirectory(dir: string): void {
  // Windows cannot open a directory for fsync; NTFS journals its renames itself.
  if (process.platform === "win32") return;
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** The path of a file inside the data directory; `name` is always one Strata made (see tableFileName). */
export function inDirectory(dir: string, name: string): string {
  return path.join(dir, name);
}
