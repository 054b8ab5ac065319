/** A versioned migration (README, "Migrations"; docs/migrations.md). */
import { MigrationError } from "../errors.js";
import type { MigrationContext } from "./migration-context.js";

export interface Migration {
  /** A positive integer; migrations run in ascending version order. */
  readonly version: number;
  /** A short kebab-case name, e.g. `"add-task-priority"`. */
  readonly name: string;
  up(m: MigrationContext): Promise<void>;
  down?(m: MigrationContext): Promise<void>;
}

/**
 * Declares a migration; checks its shape at once so that a typo fails on load, not half-way through.
 * @example
 * export default defineMigration({
 *   version: 2, name: "add-task-priority",
 *   async up(m) { await m.addColumn("tasks", "priority", { type: "integer", default: 0 }); },
 *   async down(m) { await m.dropColumn("tasks", "priority"); },
 * });
 */
export function defineMigration(migration: Migration): Migration {
  const problems: string[] = [];
  if (!Number.isSafeInteger(migration?.version) || migration.version < 1) problems.push("version must be a positive integer");
  if (typeof migration?.name !== "string" || migration.name.trim() === "") problems.push("name must be a non-empty string");
  if (typeof migration?.up !== "function") problems.push("up must be a function");
  if (migration?.down !== undefined && typeof migration.down !== "function") problems.push("down must be a function when given");
  if (problems.length > 0) {
    const label = typeof migration?.name === "string" ? ` "${migration.name}"` : "";
    throw new MigrationError(`Invalid migration${label}: ${problems.join("; ")}`, {
      ...(Number.isSafeInteger(migration?.version) ? { version: migration.version } : {}),
    });
  }
  return migration;
}
