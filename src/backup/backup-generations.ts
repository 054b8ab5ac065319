/**
 * The generation store: the backups Strata keeps of a storage, in one directory shared by every backend.
 *
 * On disk, one directory per generation, named `generation-<UTC timestamp>-<sequence>`
 * (`generation-20261129T230654123Z-000007`), so that names sort oldest first (after the clock stepped back,
 * a new name takes the newest one's timestamp):
 *
 * - `data` (a file-backend directory: file and memory) or `data.db` (a SQLite database): what
 *   `createStorage` opens (`file:<generation>/data`, `sqlite:<generation>/data.db`);
 * - `manifest.json`: the backend, why the generation was made, when, and every file of the data with its
 *   size and SHA-256. It is written last.
 *
 * Written atomically: everything goes to `<name>.tmp-<pid>`, each file and directory is fsynced, the
 * manifest is written and fsynced, and only then is the directory renamed to its name (and the parent
 * fsynced). A crash at any point leaves either a complete generation or a temp directory, which
 * {@link listGenerations} never lists and removes once its process is gone. Pruning renames a generation to
 * `<name>.deleting-<pid>` before removing its files, so a crash mid-removal never leaves a generation that
 * looks complete but has lost files.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import * as path from "node:path";
import { ConfigError, CorruptionError } from "../errors.js";
import { processGone } from "../util/process-alive.js";

/** The name of a complete generation: `generation-<timestamp>-<sequence>`. */
const GENERATION_NAME = /^generation-(\d{8}T\d{9}Z)-(\d{6,})$/;
/** A generation being written, or being removed, by the process whose pid ends the name. */
const PARTIAL_NAME = /^(generation-\d{8}T\d{9}Z-\d{6,})\.(tmp|deleting)-(\d+)$/;
/** The manifest's file name inside a generation. */
export const MANIFEST_FILE = "manifest.json";
const MANIFEST_FORMAT = 1;

/** One file of a generation's data, as the manifest records it. */
export interface GenerationFile {
  /** Relative to the generation's data (`""` when the data is one file), with `/` separators. */
  readonly path: string;
  /** In bytes. */
  readonly size: number;
  /** Hex SHA-256 of its bytes, checked by {@link verifyGeneration} before a restore. */
  readonly sha256: string;
}

/** What `manifest.json` holds. */
export interface GenerationManifest {
  readonly format: number;
  readonly name: string;
  /** ISO time the generation was completed. */
  readonly createdAt: string;
  /** Why it was made: `schedule`, `migration`, `compaction`, `close`, `manual`, `restore`. */
  readonly reason: string;
  /** The backend it was taken from: `sqlite`, `file` or `memory`. */
  readonly backend: string;
  /**
   * What the data was taken from: the absolute path of the database file or directory (`:memory:` or
   * `memory:` for an in-memory one). `keep` counts only the generations of one source, so storages sharing a
   * `backup.dir` never prune each other's away.
   */
  readonly source?: string;
  /** The entry in the generation that holds the data: `data` (a directory) or `data.db` (a SQLite file). */
  readonly data: string;
  readonly files: readonly GenerationFile[];
  /** The sum of the files' sizes. */
  readonly sizeBytes: number;
}

/** A complete generation. */
export interface Generation {
  readonly name: string;
  /** Its directory. */
  readonly path: string;
  /** Its data: the path `createStorage` opens. */
  readonly dataPath: string;
  readonly manifest: GenerationManifest;
}

/** How {@link createGeneration} makes a generation. */
export interface CreateGenerationOptions {
  /** Why: recorded in the manifest. */
  readonly reason: string;
  /** The backend the data comes from. */
  readonly backend: string;
  /** What the data comes from: see {@link GenerationManifest.source}. */
  readonly source?: string;
  /** `data` or `data.db`: see {@link GenerationManifest.data}. */
  readonly dataName: string;
  /** Writes the data at the given path (which does not exist yet). */
  readonly write: (dataPath: string) => Promise<void> | void;
  /** Checks the written data before it is sealed (SQLite: `PRAGMA integrity_check`); throws when it is bad. */
  readonly verify?: (dataPath: string) => Promise<void> | void;
  /** Keep only the newest `keep` generations once this one is complete. @default keep every one */
  readonly keep?: number;
  /** fsync files and directories. @default true */
  readonly durable?: boolean;
  /** The time to name the generation by (the newest name's when that is later). @default now */
  readonly now?: Date;
}

function stampOf(date: Date): string {
  return date.toISOString().replace(/[-:.]/g, "");
}

/** Every file under `dataPath` (or the file itself), relative, sorted. */
function filesOf(dataPath: string): string[] {
  if (!fs.statSync(dataPath).isDirectory()) return [""];
  const out: string[] = [];
  const walk = (dir: string, prefix: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(path.join(dir, entry.name), rel);
      else out.push(rel);
    }
  };
  walk(dataPath, "");
  return out.sort();
}

function fileOf(dataPath: string, rel: string): string {
  return rel === "" ? dataPath : path.join(dataPath, ...rel.split("/"));
}

/** SHA-256 of a file, read in chunks (a generation may be large). */
async function sha256Of(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** fsync of a file or directory, off the main thread (a large copy's flush can take a while). */
export async function fsyncPath(target: string): Promise<void> {
  // Windows cannot open a directory for fsync; NTFS journals its renames itself.
  if (process.platform === "win32" && fs.statSync(target).isDirectory()) return;
  const handle = await fs.promises.open(target, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsyncs every file and directory under `dataPath` (or the file itself). */
export async function fsyncTree(dataPath: string): Promise<void> {
  if (!fs.statSync(dataPath).isDirectory()) return fsyncPath(dataPath);
  for (const entry of fs.readdirSync(dataPath, { withFileTypes: true })) {
    const child = path.join(dataPath, entry.name);
    if (entry.isDirectory()) await fsyncTree(child);
    else await fsyncPath(child);
  }
  await fsyncPath(dataPath);
}

/** The names a generation's data may have (see {@link GenerationManifest.data}). */
const DATA_NAMES: readonly string[] = ["data", "data.db"];

/** A manifest's file path that stays inside the data: `""` (the data is the file) or `/`-separated plain names. */
function isInsideData(rel: unknown): boolean {
  return rel === "" || (typeof rel === "string" && rel.split("/").every((part) => part !== "" && part !== "." && part !== ".." && !part.includes("\\")));
}

function readManifest(dir: string, name: string): GenerationManifest | undefined {
  try {
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, MANIFEST_FILE), "utf8")) as GenerationManifest;
    if (manifest.format !== MANIFEST_FORMAT || manifest.name !== name || !Array.isArray(manifest.files)) return undefined;
    // The manifest is read from disk: a path in it that leads out of the generation (`../..`) would make a
    // restore copy, and a verify read, files that are not the generation's.
    if (!DATA_NAMES.includes(manifest.data) || !manifest.files.every((f) => isInsideData(f?.path))) return undefined;
    return manifest;
  } catch {
    return undefined;
  }
}

/** Removes a directory by renaming it out of the generations' names first (see the module comment). */
function removeGeneration(root: string, name: string): void {
  const doomed = path.join(root, `${name}.deleting-${process.pid}`);
  try {
    fs.renameSync(path.join(root, name), doomed);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  fs.rmSync(doomed, { recursive: true, force: true });
}

/**
 * The complete generations in `root`, oldest first. Leftovers of a backup or a removal whose process is
 * gone (a crash) are removed on the way; those of a live process (one writing right now) are left alone.
 * A directory that has a generation's name but no valid manifest was not written by Strata: it is skipped.
 */
export function listGenerations(root: string): Generation[] {
  let entries: string[];
  try {
    entries = fs.readdirSync(root);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return [];
    if (code === "ENOTDIR") throw new ConfigError([`backup.dir: ${root} is a file, not the generations' directory`], { file: root, cause: error });
    throw error;
  }
  const out: Generation[] = [];
  for (const entry of entries.sort()) {
    const partial = PARTIAL_NAME.exec(entry);
    if (partial) {
      // Gone: dead, or its pid reused by a process that started after the leftover was last written
      // (util/process-alive.ts; a writer in another pid namespace sharing this directory looks gone: see README).
      const stat = fs.statSync(path.join(root, entry), { throwIfNoEntry: false });
      if (stat && processGone(Number(partial[3]), stat.mtimeMs)) fs.rmSync(path.join(root, entry), { recursive: true, force: true });
      continue;
    }
    if (!GENERATION_NAME.test(entry)) continue;
    const dir = path.join(root, entry);
    // Strata never makes a generation a symbolic link: one would lead a restore to data outside `root`.
    if (!fs.lstatSync(dir).isDirectory()) continue;
    const manifest = readManifest(dir, entry);
    if (manifest) out.push({ name: entry, path: dir, dataPath: path.join(dir, manifest.data), manifest });
  }
  return out;
}

/** The generation named `name` in `root`; a {@link ConfigError} naming the generations there otherwise. */
export function findGeneration(root: string, name: string): Generation {
  const all = listGenerations(root);
  const found = all.find((g) => g.name === name || path.resolve(g.path) === path.resolve(name));
  if (!found) {
    const known = all.length === 0 ? "there is none" : `there are ${all.map((g) => g.name).join(", ")}`;
    throw new ConfigError([`generation: no complete generation "${name}" in ${root} (${known})`], { file: root });
  }
  return found;
}

/**
 * Removes the oldest generations until `keep` remain (of `source` only, when given: see
 * {@link GenerationManifest.source}); resolves to the names removed. The newest generation made before a
 * migration run stays whatever its age, as one more: the file backend's run makes a generation before each
 * of its schema changes, and a run of `keep` migrations would otherwise prune the one that undoes it.
 */
export function pruneGenerations(root: string, keep: number, source?: string): string[] {
  const all = listGenerations(root).filter((g) => source === undefined || g.manifest.source === source);
  const lastRun = all.filter((g) => g.manifest.reason === "migration").at(-1);
  const doomed = all
    .slice(0, Math.max(0, all.length - keep))
    .filter((g) => g !== lastRun)
    .map((g) => g.name);
  for (const name of doomed) removeGeneration(root, name);
  return doomed;
}

/**
 * Checks a generation against its manifest: every file there with its size and checksum, and no other.
 * @throws CorruptionError naming the first file that differs.
 */
export async function verifyGeneration(generation: Generation): Promise<void> {
  const { manifest, dataPath } = generation;
  // The data itself a link (each file below is checked as one): a restore would read outside the generation.
  if (fs.lstatSync(dataPath, { throwIfNoEntry: false })?.isSymbolicLink()) {
    throw new CorruptionError(`Generation ${generation.name}: ${dataPath} is a symbolic link (Strata writes no links); do not restore it`, { file: dataPath });
  }
  const found = fs.existsSync(dataPath) ? filesOf(dataPath) : [];
  const expected = manifest.files.map((f) => f.path);
  const extra = found.filter((f) => !expected.includes(f));
  if (extra.length > 0) throw new CorruptionError(`Generation ${generation.name} holds files its manifest does not list: ${extra.join(", ")}`, { file: fileOf(dataPath, extra[0]!) });
  for (const entry of manifest.files) {
    const file = fileOf(dataPath, entry.path);
    const stat = fs.lstatSync(file, { throwIfNoEntry: false });
    if (!stat) throw new CorruptionError(`Generation ${generation.name} has lost ${file}`, { file });
    if (!stat.isFile()) throw new CorruptionError(`Generation ${generation.name}: ${file} is not a regular file (Strata writes no links); do not restore it`, { file });
    if (stat.size !== entry.size || (await sha256Of(file)) !== entry.sha256) {
      throw new CorruptionError(`Generation ${generation.name}: ${file} differs from its manifest (size or SHA-256); do not restore it`, { file });
    }
  }
}

/**
 * The next sequence number in `root` (one past every generation there, complete or not), and the newest
 * timestamp of their names.
 */
function nextOf(root: string): { sequence: number; stamp: string } {
  let max = 0;
  let stamp = "";
  for (const entry of fs.readdirSync(root)) {
    const match = GENERATION_NAME.exec(entry) ?? GENERATION_NAME.exec(PARTIAL_NAME.exec(entry)?.[1] ?? "");
    if (!match) continue;
    max = Math.max(max, Number(match[2]));
    if (match[1]! > stamp) stamp = match[1]!;
  }
  return { sequence: max + 1, stamp };
}

/** True for an entry of the generation store: a generation, or one being written or removed. */
export function isGenerationEntry(entry: string): boolean {
  return GENERATION_NAME.test(entry) || PARTIAL_NAME.test(entry);
}

/**
 * Writes a new generation in `root` (created if missing) atomically (see the module comment), then prunes
 * to `keep`. On failure the temp directory is removed and the error rethrown; earlier generations are
 * untouched.
 */
export async function createGeneration(root: string, options: CreateGenerationOptions): Promise<Generation> {
  const durable = options.durable ?? true;
  fs.mkdirSync(root, { recursive: true });
  const next = nextOf(root);
  let sequence = next.sequence;
  // Names sort oldest first, and `keep` prunes by them: after the clock stepped back (NTP, a VM's resume),
  // a new generation takes the newest name's time, or it would sort first and be pruned as the oldest.
  const now = stampOf(options.now ?? new Date());
  const stamp = now > next.stamp ? now : next.stamp;
  const temp = path.join(root, `generation-${stamp}-${String(sequence).padStart(6, "0")}.tmp-${process.pid}`);
  fs.mkdirSync(temp);
  try {
    const dataPath = path.join(temp, options.dataName);
    await options.write(dataPath);
    await options.verify?.(dataPath);
    const files: GenerationFile[] = [];
    for (const rel of filesOf(dataPath)) {
      const file = fileOf(dataPath, rel);
      files.push({ path: rel, size: fs.statSync(file).size, sha256: await sha256Of(file) });
    }
    if (durable) await fsyncTree(dataPath);
    // Another process may have taken this sequence meanwhile: the rename below then fails, and the next one is tried.
    for (;;) {
      const name = `generation-${stamp}-${String(sequence).padStart(6, "0")}`;
      const manifest: GenerationManifest = {
        format: MANIFEST_FORMAT,
        name,
        createdAt: new Date().toISOString(),
        reason: options.reason,
        backend: options.backend,
        ...(options.source !== undefined ? { source: options.source } : {}),
        data: options.dataName,
        files,
        sizeBytes: files.reduce((sum, f) => sum + f.size, 0),
      };
      const manifestFile = path.join(temp, MANIFEST_FILE);
      fs.writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
      if (durable) {
        await fsyncPath(manifestFile);
        await fsyncPath(temp);
      }
      const final = path.join(root, name);
      try {
        fs.renameSync(temp, final);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "ENOTEMPTY" || code === "EEXIST") {
          sequence = Math.max(sequence + 1, nextOf(root).sequence);
          continue;
        }
        throw error;
      }
      if (durable) await fsyncPath(root);
      const generation: Generation = { name, path: final, dataPath: path.join(final, options.dataName), manifest };
      if (options.keep !== undefined) pruneGenerations(root, options.keep, options.source);
      return generation;
    }
  } catch (error) {
    fs.rmSync(temp, { recursive: true, force: true });
    throw error;
  }
}
