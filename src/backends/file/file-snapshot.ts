/**
 * Table snapshots and the file operations every file-backend write goes through.
 *
 * A snapshot is `<tableFileName(table)>`, JSON a person can read and diff, one row per line (a changed
 * row is a one-line diff; an indented row would be a dozen):
 * ```json
 * {
 *   "table": "tasks",
 *   "seq": 42,
 *   "rows": [
 *     {"id":"a1","title":"Write docs","due":"2026-01-02T03:04:05.006Z","done":false},
 *     {"id":"b2","title":"","due":null,"done":true}
 *   ]
 * }
 * ```
 * `seq` is the last journal sequence number the snapshot includes; replay skips older journal lines for
 * this table, which is what makes a compaction interrupted between two renames recoverable.
 * Values are keyed by column name; datetimes are ISO strings, decoded by the catalog's column types.
 */
import fs from "node:fs";
import * as path from "node:path";
import { CorruptionError } from "../../errors.js";
import type { EntitySchema, Row } from "../../schema/entity-schema.js";
import { valueProblem } from "../../schema/row-values.js";

/** A stored row as written to disk: column name -> JSON value. */
export type StoredRow = Record<string, unknown>;

/** Converts rows between the engine (property -> logical value) and disk (column name -> JSON value). */
export interface RowCodec {
  encode(row: Row): StoredRow;
  /** @throws CorruptionError naming `file` and `where` when a value does not fit its column. */
  decode(stored: unknown, file: string, where: string): Row;
}

/** Builds the codec of a table once, so that encoding a row is a loop over precomputed columns. */
export function makeRowCodec(schema: EntitySchema): RowCodec {
  // The key first: a person reading a snapshot or a journal line finds the row's identity at the start.
  const ordered = [schema.primary, ...schema.columns.filter((c) => c !== schema.primary)];
  const columns = ordered.map((c) => ({ column: c, property: c.property, name: c.name, date: c.type === "datetime" }));
  return {
    encode(row) {
      const out: StoredRow = {};
      for (const c of columns) {
        const v = row[c.property];
        out[c.name] = v === undefined ? null : c.date && v instanceof Date ? v.toISOString() : v;
      }
      return out;
    },
    decode(stored, file, where) {
      if (typeof stored !== "object" || stored === null || Array.isArray(stored)) {
        throw new CorruptionError(`${file}: ${where} of table "${schema.table}" is not an object`, { file, table: schema.table });
      }
      const out: Row = {};
      for (const c of columns) {
        let v = (stored as StoredRow)[c.name];
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
        if (c.date) v = typeof v === "string" ? new Date(v) : v;
        const problem = valueProblem(c.column, v, true);
        if (problem) {
          throw new CorruptionError(`${file}: ${where} of table "${schema.table}", column "${c.name}": ${problem}`, {
            file,
            table: schema.table,
            field: c.property,
          });
        }
        out[c.property] = v;
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

/** Parses a JSON file; a `CorruptionError` naming the file (and line) when it is not valid JSON. */
export function readJsonFile(file: string): unknown {
  const text = fs.readFileSync(file, "utf8");
  try {
    return JSON.parse(text);
  } catch (error) {
    const line = lineOf(error, text);
    throw new CorruptionError(
      `${file}${line ? `:${line}` : ""} is not valid JSON (${(error as Error).message}); Strata will not open this directory ` +
        `rather than overwrite it. Restore the file from a backup or repair it by hand.`,
      { file, cause: error },
    );
  }
}

/** Reads a table snapshot: its `seq` and stored rows. */
export function readSnapshot(file: string, table: string): { seq: number; rows: unknown[] } {
  if (!fs.existsSync(file)) {
    throw new CorruptionError(`${file}, the snapshot of table "${table}" listed in the catalog, is missing`, { file, table });
  }
  const value = readJsonFile(file) as { table?: unknown; seq?: unknown; rows?: unknown };
  if (typeof value !== "object" || value === null || !Array.isArray(value.rows) || !Number.isSafeInteger(value.seq)) {
    throw new CorruptionError(`${file}: expected { "table", "seq", "rows": [...] }`, { file, table });
  }
  if (value.table !== table) throw new CorruptionError(`${file} holds table ${JSON.stringify(value.table)}, expected "${table}"`, { file, table });
  return { seq: value.seq as number, rows: value.rows };
}

/** The text of a snapshot. */
export function snapshotText(table: string, seq: number, rows: Iterable<StoredRow>): string {
  const parts: string[] = [];
  for (const row of rows) parts.push(JSON.stringify(row));
  const body = parts.length ? `[\n    ${parts.join(",\n    ")}\n  ]` : "[]";
  return `{\n  "table": ${JSON.stringify(table)},\n  "seq": ${seq},\n  "rows": ${body}\n}\n`;
}

/**
 * Writes `file` so that a crash leaves either the old or the new content: a temporary file, fsynced,
 * then renamed over it. The caller fsyncs the directory once after a batch of renames.
 * On failure the temporary file is removed and the old file is untouched.
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
    throw error;
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
