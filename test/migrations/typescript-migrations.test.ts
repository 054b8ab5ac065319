/**
 * TypeScript migrations through the CLI: `strata migrate create x --ts` writes a `.ts` file that `status`,
 * `up` and `down` then load through tsx (an optional peer), typed code and all; without tsx the error
 * says what to do. The CLI runs compiled (dist/, built by the global setup) in a project folder whose
 * node_modules links stratastore to this checkout, as an installed package would be.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { strata } from "./generate-cli-helpers.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

describe("TypeScript migrations from the CLI", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "strata-ts-mig-"));
    mkdirSync(path.join(dir, "node_modules"));
    symlinkSync(ROOT, path.join(dir, "node_modules", "stratastore"), "dir");
    writeFileSync(path.join(dir, "strata.config.json"), JSON.stringify({ url: `sqlite:${path.join(dir, "app.db")}`, migrations: "./migrations" }));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test("create --ts writes a file that status, up and down load through tsx", async () => {
    const created = await strata(dir, ["--json", "migrate", "create", "create-notes", "--ts"]);
    expect(created.code).toBe(0);
    const file = JSON.parse(created.stdout).file as string;
    expect(file).toBe(path.join(dir, "migrations/0001-create-notes.ts"));
    // Typed code that Node alone cannot run: an interface and annotations.
    const text = readFileSync(file, "utf8")
      .replace(
        "async up(m) {\n    // ...",
        'async up(m) {\n    interface Note { body: string }\n    const notes: Note[] = [{ body: "typed" }];\n    await m.createTable("notes", { id: { type: "integer", primary: true, generated: "increment" }, body: { type: "string" } });\n    await m.insertRows("notes", notes);',
      )
      .replace("async down(m) {\n    // ...", 'async down(m) {\n    await m.dropTable("notes");');
    writeFileSync(file, text);
    const pending = await strata(dir, ["migrate", "status", "--json"]);
    expect(pending.stderr).toBe("");
    expect((JSON.parse(pending.stdout) as Array<{ state: string }>).map((s) => s.state)).toEqual(["pending"]);
    expect((await strata(dir, ["migrate", "up"])).code).toBe(0);
    const applied = await strata(dir, ["migrate", "status", "--json"]);
    expect((JSON.parse(applied.stdout) as Array<{ state: string }>).map((s) => s.state)).toEqual(["applied"]);
    expect((await strata(dir, ["migrate", "down"])).code).toBe(0);
  });

  test("without tsx, loading a .ts migration says to install tsx or compile", async () => {
    mkdirSync(path.join(dir, "migrations"));
    writeFileSync(
      path.join(dir, "migrations/0001-typed.ts"),
      'const version: number = 1;\nexport default { version, name: "typed", async up() {} };\n',
    );
    // A loader hook that makes tsx unresolvable, as in a project without it.
    writeFileSync(
      path.join(dir, "no-tsx-hooks.mjs"),
      'export async function resolve(specifier, context, next) {\n' +
        '  if (specifier === "tsx" || specifier.startsWith("tsx/")) throw Object.assign(new Error(`Cannot find package ${specifier}`), { code: "ERR_MODULE_NOT_FOUND" });\n' +
        "  return next(specifier, context);\n}\n",
    );
    writeFileSync(path.join(dir, "no-tsx.mjs"), 'import { register } from "node:module";\nregister("./no-tsx-hooks.mjs", import.meta.url);\n');
    const run = await strata(dir, ["migrate", "status"], { NODE_OPTIONS: `--import ${pathToImport(path.join(dir, "no-tsx.mjs"))}` });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("0001-typed.ts");
    expect(run.stderr).toContain("npm install -D tsx");
  });
});

function pathToImport(file: string): string {
  return new URL(`file://${file}`).href;
}
