/**
 * What the `strata` command runs on: the URL (`--url`, else `STRATA_URL`, else the config file's `url`),
 * the migrations folder and the entities, read from `strata.config.js` or `strata.config.json` in the
 * working directory (or `--config <file>`).
 *
 * @example strata.config.json
 * { "url": "sqlite:./data/app.db", "migrations": "./dist/migrations", "entities": "./dist/entities/index.js" }
 */
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { getMetadataArgsStorage } from "typeorm";
import { ConfigError } from "../errors.js";
import { typeScriptImporter } from "../util/typescript-importer.js";
import type { StorageConfig } from "../config/storage-config.js";

/** The contents of `strata.config.{js,json}`. */
export interface CliConfigFile {
  /** The database, e.g. `sqlite:./data/app.db`. */
  url?: string;
  /** The migrations folder. @default "./migrations" */
  migrations?: string;
  /**
   * A module (or modules) exporting the entity classes, for `generate`; a `.js` config may list the classes.
   * A `.ts` module is loaded through tsx when it is installed (its columns then need explicit types: tsx emits
   * no decorator metadata).
   */
  entities?: string | string[] | Function[];
  /**
   * PostgreSQL behind a pooler: `createStorage`'s `postgres` option (`pooler`, `directUrl`), for the database
   * at `url`. `--direct-url` (or `STRATA_DIRECT_URL`) overrides its `directUrl`.
   */
  postgres?: StorageConfig["postgres"];
}

/** Settings after flags, environment and config file are combined. */
export interface CliSettings {
  readonly url: string | undefined;
  readonly migrations: string;
  readonly entities: Function[];
  /**
   * The `postgres` option for the storage at `url`: the config file's, with `--direct-url` (else
   * `STRATA_DIRECT_URL`) as its `directUrl` and then `pooler: "pgbouncer"` unless the file names one.
   */
  readonly postgres?: StorageConfig["postgres"];
  /** The config file read, if any. */
  readonly configFile?: string;
}

/** Thrown for a usage mistake: the command exits with code 2. */
export class UsageError extends Error {}

async function readConfigFile(explicit: string | undefined, cwd: string): Promise<{ file: string; config: CliConfigFile } | undefined> {
  const candidates = explicit ? [path.resolve(cwd, explicit)] : ["strata.config.js", "strata.config.mjs", "strata.config.json"].map((f) => path.join(cwd, f));
  const file = candidates.find((f) => existsSync(f));
  if (!file) {
    if (explicit) throw new UsageError(`--config: no file ${candidates[0]}`);
    return undefined;
  }
  let config: unknown;
  try {
    if (file.endsWith(".json")) config = JSON.parse(readFileSync(file, "utf8"));
    else {
      const module = (await import(pathToFileURL(file).href)) as { default?: unknown };
      config = module.default ?? module;
    }
  } catch (error) {
    throw new ConfigError([`${path.basename(file)}: ${(error as Error).message}`], { file, cause: error });
  }
  if (typeof config !== "object" || config === null) throw new ConfigError([`${path.basename(file)}: expected an object`], { file });
  const known = new Set(["url", "migrations", "entities", "postgres"]);
  const unknown = Object.keys(config).filter((k) => !known.has(k));
  if (unknown.length > 0) throw new ConfigError(unknown.map((k) => `${path.basename(file)}: ${k}: unknown option (expected url, migrations, entities, postgres)`), { file });
  return { file, config: config as CliConfigFile };
}

/** A TypeScript module (not a declaration file). */
const TYPESCRIPT = /(?<!\.d)\.[cm]?ts$/;

/**
 * Imports an entities module: JavaScript as it is; TypeScript through tsx when it is installed, so that
 * `generate` reads the sources as they are now, not a compiled copy that may be older.
 */
async function importEntities(file: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(file).href;
  if (!TYPESCRIPT.test(file)) return (await import(url)) as Record<string, unknown>;
  const tsImport = await typeScriptImporter();
  if (!tsImport) {
    throw new ConfigError(
      [
        `entities: ${file} is TypeScript and tsx is not installed to load it: install tsx (\`npm install -D tsx\`), or compile the entities with tsc and point entities at the compiled .js module`,
      ],
      { file },
    );
  }
  return (await tsImport(url, import.meta.url)) as Record<string, unknown>;
}

/**
 * The error TypeORM throws when a column has no type and no decorator metadata to guess one from (tsx and
 * esbuild emit none), as a {@link ConfigError} naming the entity, the property and the file declaring it.
 */
function columnTypeError(error: unknown, module: string): ConfigError | undefined {
  if (!(error instanceof Error) || error.name !== "ColumnTypeUndefinedError") return undefined;
  const [, entity = "?", property = "?"] = /Column type for (\S+?)#(\S+)/.exec(error.message) ?? [];
  // The first frame outside node_modules is the decorator's line in the entity's file.
  const frame = (error.stack ?? "")
    .split("\n")
    .map((line) => /((?:file:\/\/)?\/[^\s():]+\.[cm]?[jt]s):\d+/.exec(line)?.[1])
    .find((f): f is string => f !== undefined && !f.includes("/node_modules/"));
  const file = frame ? (frame.startsWith("file:") ? fileURLToPath(frame) : frame) : module;
  return new ConfigError(
    [
      `entities: ${file}: ${entity}.${property} has no column type, and none can be guessed: tsx (esbuild) emits no decorator metadata. Give it explicitly, e.g. @Column({ type: "integer" }) ${property}, or compile the entities with tsc (emitDecoratorMetadata) and point entities at the compiled .js module`,
    ],
    { file, field: property, cause: error },
  );
}

/** The entity classes a module exports (its `ENTITIES` array if any, else every exported entity class). */
async function entitiesOf(spec: string | Function, base: string): Promise<Function[]> {
  if (typeof spec === "function") return [spec];
  const file = path.resolve(base, spec);
  let module: Record<string, unknown>;
  try {
    module = await importEntities(file);
  } catch (error) {
    throw columnTypeError(error, file) ?? error;
  }
  if (Array.isArray(module["ENTITIES"])) return module["ENTITIES"] as Function[];
  const tables = getMetadataArgsStorage().tables;
  return Object.values(module).filter((v): v is Function => typeof v === "function" && tables.some((t) => t.target === v));
}

/**
 * The `postgres` option: the config file's, with the direct URL given on the command line or in the
 * environment as its `directUrl`. A direct URL given there says that `url` may be a pooler's: the storage then
 * keeps no session state on `url` (pooler mode, harmless on a server reached directly) and migrations and
 * their lock use the direct URL.
 */
function postgresOf(config: CliConfigFile, directUrl: string | undefined): StorageConfig["postgres"] {
  if (directUrl === undefined) return config.postgres;
  return { ...config.postgres, pooler: config.postgres?.pooler ?? "pgbouncer", directUrl };
}

/** Combines `--url`, `STRATA_URL`, `--migrations`, `--direct-url`, `STRATA_DIRECT_URL` and the config file. */
export async function resolveCliSettings(flags: { url?: string; config?: string; migrations?: string; directUrl?: string }, cwd = process.cwd()): Promise<CliSettings> {
  const read = await readConfigFile(flags.config, cwd);
  const config = read?.config ?? {};
  const base = read ? path.dirname(read.file) : cwd;
  const url = flags.url ?? (process.env["STRATA_URL"] || undefined) ?? config.url;
  const migrations = flags.migrations ? path.resolve(cwd, flags.migrations) : path.resolve(base, config.migrations ?? "migrations");
  const specs = config.entities === undefined ? [] : Array.isArray(config.entities) ? config.entities : [config.entities];
  const entities: Function[] = [];
  for (const spec of specs) {
    try {
      entities.push(...(await entitiesOf(spec, base)));
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      throw new ConfigError([`entities: cannot load ${String(spec)}: ${(error as Error).message}`], { cause: error });
    }
  }
  const postgres = postgresOf(config, flags.directUrl ?? (process.env["STRATA_DIRECT_URL"] || undefined));
  return { url, migrations, entities, ...(postgres ? { postgres } : {}), ...(read ? { configFile: read.file } : {}) };
}
