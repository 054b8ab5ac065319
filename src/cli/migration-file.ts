/** Migration files written by `strata migrate create` and `strata migrate generate`: the name, the next version, the text. */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { UsageError } from "./cli-config.js";

/** The next version in a folder: one above the highest file number. */
function nextVersion(dir: string): number {
  if (!existsSync(dir)) return 1;
  const versions = readdirSync(dir)
    .map((f) => /^(\d+)[-_]/.exec(f)?.[1])
    .filter((v): v is string => v !== undefined)
    .map(Number);
  return Math.max(0, ...versions) + 1;
}

/** `name` when it is kebab-case, else a {@link UsageError}. */
export function checkName(name: string): string {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new UsageError(`The migration name ${JSON.stringify(name)} must be kebab-case (lower-case letters, digits and dashes), e.g. add-task-priority`);
  return name;
}

/** Writes a migration file with the next version of `dir` (never over an existing file); returns its path. */
export function writeMigration(dir: string, name: string, up: string[], down: string[], typescript: boolean): string {
  mkdirSync(dir, { recursive: true });
  const v = nextVersion(dir);
  const file = path.join(dir, `${String(v).padStart(4, "0")}-${name}.${typescript ? "ts" : "mjs"}`);
  writeFileSync(file, migrationFileText(v, name, up, down, typescript), { flag: "wx" });
  return file;
}

/** The text of a migration file (`.mjs`/`.js`: a plain object the loader checks as `defineMigration` would). */
export function migrationFileText(version: number, name: string, up: readonly string[], down: readonly string[], typescript = false): string {
  const body = (lines: readonly string[]) => (lines.length ? lines.map((l) => `    ${l}`).join("\n") : "    // ...");
  const [head, open, close] = typescript
    ? ['import { defineMigration } from "stratastore";\n', "export default defineMigration({", "});"]
    : ['// @ts-check\n/** @type {import("stratastore").Migration} */', "export default {", "};"];
  return `${head}
${open}
  version: ${version},
  name: ${JSON.stringify(name)},
  async up(m) {
${body(up)}
  },
  async down(m) {
${body(down)}
  },
${close}
`;
}
