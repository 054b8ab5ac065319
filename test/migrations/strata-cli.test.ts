import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { migrationBackends } from "./migration-backends.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const CLI = path.join(ROOT, "dist/src/cli/strata.js");
const ENTITIES = path.join(ROOT, "dist/entities/index.js");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function strata(cwd: string, args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  return new Promise((resolve) => {
    const childEnv = { ...process.env, ...env };
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k];
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const NOTES_UP = `await m.createTable("notes", { id: { type: "integer", primary: true, generated: "increment" }, body: { type: "string" } });
    await m.insertRows("notes", [{ body: "hello" }]);`;

describe("strata CLI: usage", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "strata-cli-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test("usage errors exit 2, and say what is wrong", async () => {
    const unknown = await strata(dir, ["migrate", "sideways"], { STRATA_URL: "memory:" });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command");
    const badTo = await strata(dir, ["migrate", "up", "--to", "two"], { STRATA_URL: "memory:" });
    expect(badTo.code).toBe(2);
    expect(badTo.stderr).toContain("expected a version number");
    const noUrl = await strata(dir, ["migrate", "status"], { STRATA_URL: undefined });
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toContain("No database");
    const badName = await strata(dir, ["migrate", "create", "Add Column"], { STRATA_URL: "memory:" });
    expect(badName.code).toBe(2);
    const badConfig = await strata(dir, ["--config", "nope.json", "migrate", "status"]);
    expect(badConfig.code).toBe(2);
  });

  test("--version prints the version in package.json", async () => {
    const { version } = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string };
    for (const flag of ["--version", "-V"]) {
      const run = await strata(dir, [flag]);
      expect(run.code).toBe(0);
      expect(run.stdout.trim()).toBe(version);
    }
  });

  test("a missing migrations folder is an error naming it, and no database file is made", async () => {
    const database = path.join(dir, "data", "app.db");
    for (const command of ["status", "validate", "up", "down"]) {
      const run = await strata(dir, ["--url", `sqlite:${database}`, "--migrations", "db/migratoins", "migrate", command]);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`No migrations folder at ${path.join(dir, "db/migratoins")}`);
    }
    const json = await strata(dir, ["--url", `sqlite:${database}`, "--json", "migrate", "status"]);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: "STRATA_MIGRATION", file: path.join(dir, "migrations") } });
    expect(existsSync(database)).toBe(false);
    expect(existsSync(path.join(dir, "data"))).toBe(false);
  });

  test("create writes numbered files that the runner accepts", async () => {
    writeFileSync(path.join(dir, "strata.config.json"), JSON.stringify({ url: "memory:", migrations: "./db/migrations" }));
    expect((await strata(dir, ["migrate", "create", "create-notes"])).code).toBe(0);
    const second = await strata(dir, ["--json", "migrate", "create", "add-tags"]);
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout).file).toBe(path.join(dir, "db/migrations/0002-add-tags.mjs"));
    expect(readdirSync(path.join(dir, "db/migrations")).sort()).toEqual(["0001-create-notes.mjs", "0002-add-tags.mjs"]);
    const status = await strata(dir, ["migrate", "status", "--json"]);
    expect(status.code).toBe(0);
    expect((JSON.parse(status.stdout) as Array<{ state: string }>).map((s) => s.state)).toEqual(["pending", "pending"]);
    const table = await strata(dir, ["migrate", "status"]);
    expect(table.stdout).toMatch(/Version\s+Name\s+State\s+Applied at/);
    expect(table.stdout).toMatch(/1\s+create-notes\s+pending/);
  });
});

const persistent = migrationBackends().filter((b) => b.name !== "memory");

if (persistent.length === 0) {
  describe("strata CLI: end to end", () => {
    test.skip("needs a persistent backend (file, sqlite, or postgres with STRATA_PG_URL)", () => {});
  });
}

for (const backend of persistent) {
  describe(`${backend.name}: strata CLI end to end`, () => {
    let dir: string;
    let url: string;
    const cleanups: Array<() => Promise<void>> = [];
    beforeEach(async () => {
      dir = mkdtempSync(path.join(tmpdir(), "strata-cli-"));
      const fresh = await backend.fresh();
      cleanups.push(fresh.cleanup);
      url = fresh.config.url!;
      writeFileSync(path.join(dir, "strata.config.json"), JSON.stringify({ url, migrations: "./migrations", entities: ENTITIES }));
    });
    afterEach(async () => {
      for (const c of cleanups.splice(0)) await c();
      rmSync(dir, { recursive: true, force: true });
    });
    const states = async () => (JSON.parse((await strata(dir, ["migrate", "status", "--json"])).stdout) as Array<{ state: string }>).map((s) => s.state);

    test("create, up (dry run first), status, a changed file, down", async () => {
      expect((await strata(dir, ["migrate", "create", "create-notes"])).code).toBe(0);
      const file = path.join(dir, "migrations/0001-create-notes.mjs");
      writeFileSync(file, readFileSync(file, "utf8").replace("async up(m) {\n    // ...", `async up(m) {\n    ${NOTES_UP}`).replace("async down(m) {\n    // ...", `async down(m) {\n    await m.dropTable("notes");`));
      const dry = await strata(dir, ["migrate", "up", "--dry-run"]);
      expect(dry.code).toBe(0);
      expect(dry.stdout).toContain("Would apply 1 create-notes");
      expect(await states()).toEqual(["pending"]);
      const up = await strata(dir, ["migrate", "up"]);
      expect(up.code, up.stderr).toBe(0);
      expect(up.stdout).toMatch(/Applied 1 create-notes/);
      expect(await states()).toEqual(["applied"]);
      const original = readFileSync(file, "utf8");
      writeFileSync(file, original.replace("hello", "bye"));
      const changed = await strata(dir, ["migrate", "up"]);
      expect(changed.code).toBe(1);
      expect(changed.stderr).toMatch(/MigrationError: .*0001-create-notes\.mjs.*changed/);
      expect((await strata(dir, ["migrate", "validate"])).code).toBe(1);
      const json = await strata(dir, ["--json", "migrate", "up"]);
      expect(JSON.parse(json.stdout).error.code).toBe("STRATA_MIGRATION");
      writeFileSync(file, original);
      expect((await strata(dir, ["migrate", "validate"])).code).toBe(0);
      const down = await strata(dir, ["migrate", "down"]);
      expect(down.code, down.stderr).toBe(0);
      expect(down.stdout).toMatch(/Reverted 1 create-notes/);
      expect(await states()).toEqual(["pending"]);
    });

    test("generate writes the difference, then nothing once applied", async () => {
      const first = await strata(dir, ["migrate", "generate", "task-board"]);
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout).toMatch(/Created migrations\/0001-task-board\.mjs with 3 changes/);
      expect((await strata(dir, ["migrate", "up"])).code).toBe(0);
      const second = await strata(dir, ["migrate", "generate", "nothing-new"]);
      expect(second.code, second.stderr).toBe(0);
      expect(second.stdout).toContain("No difference");
      expect(existsSync(path.join(dir, "migrations/0002-nothing-new.mjs"))).toBe(false);
    });

    for (const other of persistent) {
      test(`copy to ${other.name}: refuses a non-empty target unless --force`, async () => {
        expect((await strata(dir, ["migrate", "create", "create-notes"])).code).toBe(0);
        const file = path.join(dir, "migrations/0001-create-notes.mjs");
        writeFileSync(file, readFileSync(file, "utf8").replace("async up(m) {\n    // ...", `async up(m) {\n    ${NOTES_UP}`));
        expect((await strata(dir, ["migrate", "up"])).code).toBe(0);
        const target = await other.fresh();
        cleanups.push(target.cleanup);
        const copy = await strata(dir, ["copy", "--from", url, "--to", target.config.url!]);
        expect(copy.code, copy.stderr).toBe(0);
        expect(copy.stdout).toMatch(/notes\s+1\s/);
        expect(copy.stdout).toMatch(/strata_migrations\s+1\s/);
        expect(copy.stdout).toContain("Copied and verified 2 tables");
        const again = await strata(dir, ["copy", "--from", url, "--to", target.config.url!]);
        expect(again.code).toBe(1);
        expect(again.stderr).toContain("not empty");
        expect((await strata(dir, ["copy", "--from", url, "--to", target.config.url!, "--force"])).code).toBe(0);
        const status = await strata(dir, ["--url", target.config.url!, "migrate", "status", "--json"]);
        expect((JSON.parse(status.stdout) as Array<{ state: string }>).map((s) => s.state)).toEqual(["applied"]);
      });
    }
  });
}
