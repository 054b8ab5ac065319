/**
 * Loads migrations from a folder (or takes a list given in code), checks them, and orders them by version.
 *
 * A folder holds files named `<version>-<name>.<ext>`, e.g. `0002-add-task-priority.mjs`, each
 * default-exporting `defineMigration({...})`. Node loads `.js`, `.mjs` and `.cjs` files. A `.ts` file is
 * loaded when no compiled file of the same name sits beside it: through `tsx` (an optional peer, imported
 * only then) when it is installed, else by the running process if it can import TypeScript (vitest, say);
 * otherwise the error says to install tsx or to compile the folder. The folder is read afresh at each call.
 */
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { MigrationError } from "../errors.js";
import type { Migration } from "./migration.js";
import { defineMigration } from "./migration.js";
import { typeScriptImporter } from "../util/typescript-importer.js";

/** A migration ready to run: where it came from and the checksum the runner records. */
export interface LoadedMigration {
  readonly version: number;
  readonly name: string;
  /** The file it came from (absolute path); absent for migrations given in code. */
  readonly file?: string;
  /** sha256 (hex) of the file's text, or of the version, name, `up` and `down` source for code migrations. */
  readonly checksum: string;
  readonly migration: Migration;
}

const COMPILED = [".js", ".mjs", ".cjs"];
const FILE_NAME = /^(\d+)[-_]([A-Za-z0-9][A-Za-z0-9_-]*)\.(js|mjs|cjs|ts)$/;
const MIGRATION_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

/** sha256 (hex) of a text. */
export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function described(migration: unknown, file?: string): Migration {
  try {
    const m = defineMigration(migration as Migration);
    if (!MIGRATION_NAME.test(m.name)) {
      throw new MigrationError(`Migration ${m.version} has the name ${JSON.stringify(m.name)}: use letters, digits, dashes and underscores, e.g. "add-task-priority"`, {
        version: m.version,
      });
    }
    return m;
  } catch (error) {
    if (file && error instanceof MigrationError) {
      throw new MigrationError(`${path.basename(file)}: ${error.message}`, { file, ...(error.version !== undefined ? { version: error.version } : {}), cause: error });
    }
    throw error;
  }
}

/** Loads and checks the migrations of a folder or a list; sorted by version. */
export async function loadMigrations(source: string | readonly Migration[]): Promise<LoadedMigration[]> {
  const loaded = typeof source === "string" ? await loadFolder(path.resolve(source)) : source.map(fromCode);
  const byVersion = new Map<number, LoadedMigration>();
  for (const m of loaded) {
    const twin = byVersion.get(m.version);
    if (twin) {
      const where = (x: LoadedMigration) => (x.file ? path.basename(x.file) : `"${x.name}"`);
      throw new MigrationError(`Two migrations have version ${m.version}: ${where(twin)} and ${where(m)}; give one of them a new version`, {
        version: m.version,
        ...(m.file ? { file: m.file } : {}),
      });
    }
    byVersion.set(m.version, m);
  }
  return [...byVersion.values()].sort((a, b) => a.version - b.version);
}

function fromCode(input: Migration): LoadedMigration {
  const migration = described(input);
  const text = `${migration.version}\n${migration.name}\n${migration.up.toString()}\n${migration.down?.toString() ?? ""}`;
  return { version: migration.version, name: migration.name, checksum: sha256(text), migration };
}

async function loadFolder(dir: string): Promise<LoadedMigration[]> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (error) {
    throw new MigrationError(`Cannot read the migrations folder ${dir}: ${(error as Error).message}`, { file: dir, cause: error });
  }
  const chosen = new Map<string, string>();
  for (const entry of entries.sort()) {
    if (entry.endsWith(".d.ts") || entry.endsWith(".map")) continue;
    const ext = path.extname(entry);
    if (!COMPILED.includes(ext) && ext !== ".ts") continue;
    const stem = entry.slice(0, -ext.length);
    const previous = chosen.get(stem);
    // A compiled file wins over its TypeScript source sitting beside it.
    if (previous === undefined || path.extname(previous) === ".ts") chosen.set(stem, entry);
  }
  const out: LoadedMigration[] = [];
  for (const entry of chosen.values()) out.push(await loadFile(path.join(dir, entry)));
  return out;
}

async function loadFile(file: string): Promise<LoadedMigration> {
  const base = path.basename(file);
  const match = FILE_NAME.exec(base);
  if (!match) {
    throw new MigrationError(`${base}: a migration file is named <version>-<name>.js, e.g. 0002-add-task-priority.js`, { file });
  }
  const text = await readFile(file, "utf8");
  const checksum = sha256(text);
  let module: Record<string, unknown>;
  // The checksum in the URL makes a changed file a new module: Node caches imports by URL.
  const url = `${pathToFileURL(file).href}?checksum=${checksum}`;
  const tsImport = path.extname(file) === ".ts" ? await typeScriptImporter() : undefined;
  try {
    module = (await (tsImport ? tsImport(url, import.meta.url) : import(url))) as Record<string, unknown>;
  } catch (error) {
    const hint =
      path.extname(file) === ".ts" && !tsImport
        ? " (Node cannot import TypeScript by itself: install tsx (`npm install -D tsx`), which Strata then uses to load .ts migrations, or compile the migrations with tsc and point `migrations` at the compiled folder)"
        : "";
    throw new MigrationError(`${base}: could not be loaded${hint}: ${(error as Error)?.message ?? String(error)}`, { file, cause: error });
  }
  const exported = unwrapDefault(module["default"]) ?? module["migration"];
  if (typeof exported !== "object" || exported === null) {
    throw new MigrationError(`${base}: expected \`export default defineMigration({ version, name, up, down })\``, { file });
  }
  const migration = described(exported, file);
  const fileVersion = Number(match[1]);
  if (migration.version !== fileVersion) {
    throw new MigrationError(`${base}: the file name says version ${fileVersion} but the migration declares version ${migration.version}`, {
      file,
      version: migration.version,
    });
  }
  return { version: migration.version, name: migration.name, file, checksum, migration };
}

/**
 * A module's default export. A `.ts` file that tsx loads as CommonJS (no `"type": "module"` above it) has
 * its `export default` under `default.default`.
 */
function unwrapDefault(value: unknown): unknown {
  if (typeof value === "object" && value !== null && !("version" in value) && "default" in value) return (value as { default: unknown }).default;
  return value;
}
