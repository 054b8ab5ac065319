/**
 * File names of table snapshots. A table name comes from entity metadata but may still hold anything
 * (`../x`, `CON`, `tâches`, upper case on a case-insensitive disk), so it is encoded, never used as is:
 * `[a-z0-9_-]` are kept, every other UTF-8 byte becomes `%XX`, and a fixed suffix follows. The encoding
 * is injective, so two tables never share a file, and the result never holds `/`, `\` or `..`.
 */
import { createHash } from "node:crypto";

/** Every snapshot file ends with this; nothing else in a file-backend directory does. */
export const TABLE_FILE_SUFFIX = ".table.json";

/** Longest encoded stem kept as is; longer ones are cut and made unique with a hash (file names max out at 255 bytes). */
const MAX_STEM = 180;

/**
 * The snapshot file name of `table`. A schema change writes its snapshots under new names (with the
 * catalog's `generation`), so that the catalog's rename is the one moment the new shape takes effect;
 * the next compaction moves them back to the plain name.
 * @example tableFileName("tasks") === "tasks.table.json"; tableFileName("../Etc") === "%2E%2E%2F%45tc.table.json"
 * @example tableFileName("tasks", 3) === "tasks.g3.table.json"
 */
export function tableFileName(table: string, generation?: number): string {
  const stem = tableFileStem(table);
  return generation === undefined ? stem + TABLE_FILE_SUFFIX : `${stem}.g${generation}${TABLE_FILE_SUFFIX}`;
}

/** True when `file` is a name {@link tableFileName} gives `table` (a catalog naming anything else was tampered with). */
export function isTableFileOf(table: string, file: string): boolean {
  const stem = tableFileStem(table);
  return file === stem + TABLE_FILE_SUFFIX || (file.startsWith(`${stem}.g`) && /^\.g[1-9]\d*\.table\.json$/.test(file.slice(stem.length)));
}

function tableFileStem(table: string): string {
  let stem = "";
  for (const byte of Buffer.from(table, "utf8")) {
    const ok = (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x30 && byte <= 0x39) || byte === 0x5f || byte === 0x2d;
    stem += ok ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  if (stem.length > MAX_STEM) {
    const hash = createHash("sha256").update(table, "utf8").digest("hex").slice(0, 16);
    stem = `${stem.slice(0, MAX_STEM - 17)}~${hash}`;
  }
  return stem;
}
