/** What every `strata` command reads from the command line: the global flags, the settings, an open storage. */
import { statSync } from "node:fs";
import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import { MigrationError } from "../errors.js";
import { createStorage } from "../storage.js";
import type { Storage } from "../storage.js";
import { resolveCliSettings, UsageError } from "./cli-config.js";
import type { CliSettings } from "./cli-config.js";

/** The options of the `strata` program itself, read by every command. */
interface GlobalFlags {
  url?: string;
  config?: string;
  migrations?: string;
  json?: boolean;
  /** `strata migrate --direct-url`: where migrations and their lock connect when `url` is a pooler's. */
  directUrl?: string;
}

/** Parses a `--to`/`--steps`/`--batch-size` value: a non-negative integer. */
export function version(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError("expected a version number (a non-negative integer)");
  return n;
}

/** The settings of `command`: its global flags, the environment and the config file. */
export function settingsOf(command: Command): Promise<CliSettings> {
  const flags = command.optsWithGlobals<GlobalFlags>();
  return resolveCliSettings(flags);
}

/** True with `--json`. */
export function jsonOf(command: Command): boolean {
  return command.optsWithGlobals<GlobalFlags>().json === true;
}

/** `url` when there is one, else the {@link UsageError} saying where to give it. */
function databaseUrl(url: string | undefined): string {
  if (!url) throw new UsageError("No database: pass --url, set STRATA_URL, or put url in strata.config.json");
  return url;
}

/**
 * Opens the storage at `url` (else the settings' url) with the settings' entities and migrations, and the
 * settings' `postgres` option when it is the settings' own database (not another URL given to `copy`).
 */
export async function open(settings: CliSettings, url = settings.url): Promise<Storage> {
  const postgres = url === settings.url ? settings.postgres : undefined;
  // Never create tables from the entities here: the schema is the migrations' business.
  return createStorage({ url: databaseUrl(url), entities: settings.entities, migrations: settings.migrations, autoCreate: false, ...(postgres ? { postgres } : {}) });
}

/**
 * Refuses a migrations folder that is not there, before anything opens: opening a SQLite URL creates its
 * database file (a file URL its directory), which a mistyped folder would leave behind empty.
 */
function requireMigrationsFolder(dir: string): void {
  const found = statSync(dir, { throwIfNoEntry: false });
  if (!found) {
    throw new MigrationError(
      `No migrations folder at ${dir}: create its first migration with \`strata migrate create <name>\`, or give the folder with --migrations <dir> or "migrations" in strata.config.json`,
      { file: dir },
    );
  }
  if (!found.isDirectory()) throw new MigrationError(`The migrations folder ${dir} is not a folder`, { file: dir });
}

/** What a command needs besides an open storage. */
export interface StorageNeeds {
  /** The command reads the migrations folder (status, validate, up, down): it must exist. @default false */
  readonly migrationsFolder?: boolean;
}

/** Runs `fn` with the storage of the settings, closed afterwards whatever happens. */
export async function withStorage<T>(command: Command, fn: (storage: Storage, settings: CliSettings) => Promise<T>, needs: StorageNeeds = {}): Promise<T> {
  const settings = await settingsOf(command);
  databaseUrl(settings.url);
  if (needs.migrationsFolder) requireMigrationsFolder(settings.migrations);
  const storage = await open(settings);
  try {
    return await fn(storage, settings);
  } finally {
    await storage.close();
  }
}
