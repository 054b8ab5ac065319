/**
 * `strata migrate generate` run as a user runs it (the compiled CLI in a child process, stdin not a terminal):
 * the diff against the schema the migrations folder makes (a pending migration's change is not written
 * again), drift, renames (refused without a decision, `--rename`, `--yes`, ambiguous ones), the data-loss
 * refusal with its row counts, and entities read from TypeScript sources through tsx.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { schemaOfTable } from "../../src/index.js";
import { inDatabase, insertTask, migrationFiles, project, ROOT, rowsOf, SCRIPT, strata, strataOnTerminal, tasksEntity } from "./generate-cli-helpers.js";
import { migrationBackends } from "./migration-backends.js";

for (const backend of migrationBackends().filter((b) => b.name !== "memory")) {
  describe(`${backend.name}: strata migrate generate`, () => {
    let dir: string;
    let url: string;
    let cleanup: () => Promise<void>;
    const entities = (columns: Record<string, string>, table?: string) => writeFileSync(path.join(dir, "entities.mjs"), tasksEntity(columns, table));
    beforeEach(async () => {
      const fresh = await backend.fresh();
      cleanup = fresh.cleanup;
      url = fresh.config.url!;
      dir = project(url, "./entities.mjs");
      entities({ views: "integer" });
      const init = await strata(dir, ["migrate", "generate", "create-tasks"]);
      expect(init.code, init.stderr).toBe(0);
      expect(init.stdout).toContain("create table tasks (3 columns)");
      expect((await strata(dir, ["migrate", "up"])).code).toBe(0);
      await insertTask(url, { id: "t1", title: "first", views: 42 });
    });
    afterEach(async () => {
      await cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    test("a renamed column: refused without a decision, then --rename writes m.renameColumn and 42 survives up", async () => {
      entities({ viewCount: "integer" });
      const refused = await strata(dir, ["migrate", "generate", "rename-views"]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain("tasks.views -> tasks.viewCount (integer): --rename tasks.views:viewCount");
      expect(refused.stderr).toContain("cannot ask (no terminal)");
      expect(migrationFiles(dir)).toEqual(["0001-create-tasks.mjs"]);

      const renamed = await strata(dir, ["migrate", "generate", "rename-views", "--rename", "tasks.views:viewCount"]);
      expect(renamed.code, renamed.stderr).toBe(0);
      expect(renamed.stdout).toContain("Created migrations/0002-rename-views.mjs with 1 change:\n  rename column tasks.views to tasks.viewCount\n");
      const text = readFileSync(path.join(dir, "migrations/0002-rename-views.mjs"), "utf8");
      expect(text).toContain(`await m.renameColumn("tasks", "views", "viewCount");`);
      expect(text).toContain(`await m.renameColumn("tasks", "viewCount", "views");`);
      expect(text).not.toContain("dropColumn");
      const up = await strata(dir, ["migrate", "up"]);
      expect(up.code, up.stderr).toBe(0);
      expect(await rowsOf(url, "tasks")).toEqual([{ id: "t1", title: "first", viewCount: 42 }]);
      const again = await strata(dir, ["migrate", "generate", "nothing"]);
      expect(again.stdout).toContain("No difference between the entities and the schema the migrations make");
    });

    test.runIf(SCRIPT !== undefined && backend.name === "sqlite")("on a terminal, generate asks: no is a drop (refused, data at stake), yes a rename", async () => {
      entities({ viewCount: "integer" });
      const no = await strataOnTerminal(dir, ["migrate", "generate", "rename-views"], "n\n");
      expect(no.stdout).toContain("Did you rename tasks.views to tasks.viewCount? [y/N]");
      expect(no.stdout).toContain("tasks.views: 1 row with a value");
      expect(no.code).toBe(1);
      const yes = await strataOnTerminal(dir, ["migrate", "generate", "rename-views"], "y\n");
      expect(yes.code, yes.stdout).toBe(0);
      expect(yes.stdout).toContain("rename column tasks.views to tasks.viewCount");
      expect(migrationFiles(dir)).toEqual(["0001-create-tasks.mjs", "0002-rename-views.mjs"]);
    });

    test("--yes accepts the one candidate; several of one type are refused unless --rename says which", async () => {
      entities({ viewCount: "integer" });
      const yes = await strata(dir, ["--json", "migrate", "generate", "rename-views", "--yes"]);
      expect(yes.code, yes.stderr).toBe(0);
      expect(JSON.parse(yes.stdout)).toMatchObject({ renames: [{ kind: "column", table: "tasks", from: "views", to: "viewCount" }], changes: ["rename column tasks.views to tasks.viewCount"] });
      rmSync(path.join(dir, "migrations/0002-rename-views.mjs"));

      entities({ viewCount: "integer", likes: "integer" });
      const ambiguous = await strata(dir, ["migrate", "generate", "two", "--yes"]);
      expect(ambiguous.code).toBe(1);
      expect(ambiguous.stderr).toContain("--yes cannot choose");
      expect(ambiguous.stderr).toContain("--rename tasks.views:viewCount");
      expect(ambiguous.stderr).toContain("--rename tasks.views:likes");
      const chosen = await strata(dir, ["migrate", "generate", "two", "--rename", "tasks.views:likes"]);
      expect(chosen.code, chosen.stderr).toBe(0);
      expect(chosen.stdout).toContain("  rename column tasks.views to tasks.likes\n  add column tasks.viewCount (integer, nullable)\n");
    });

    test("dropping a column that holds data is refused with its row count, unless --allow-data-loss", async () => {
      await insertTask(url, { id: "t2", title: "second", views: null });
      await insertTask(url, { id: "t3", title: "third", views: 7 });
      entities({ viewCount: "integer" });
      const refused = await strata(dir, ["migrate", "generate", "drop-views", "--drop-and-add"]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain("would drop columns that hold data in the database:\n  - tasks.views: 2 rows with a value");
      expect(refused.stderr).toContain("--allow-data-loss");
      expect(migrationFiles(dir)).toEqual(["0001-create-tasks.mjs"]);
      const allowed = await strata(dir, ["migrate", "generate", "drop-views", "--drop-and-add", "--allow-data-loss"]);
      expect(allowed.code, allowed.stderr).toBe(0);
      expect(allowed.stdout).toContain("  add column tasks.viewCount (integer, nullable)\n  drop column tasks.views (integer)\n");
      expect(allowed.stdout).toContain("Dropping tasks.views loses the values of 2 rows (--allow-data-loss).");
    });

    test("dropping a column no row fills proceeds, and says so", async () => {
      await inDatabase(url, async (tx, editor) => {
        const schema = schemaOfTable((await editor.describeTable("tasks"))!);
        await tx.update(schema, "t1", { views: null });
      });
      entities({});
      const run = await strata(dir, ["migrate", "generate", "drop-views"]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain("  drop column tasks.views (integer)");
      expect(run.stdout).toContain("Dropping tasks.views: no row of the database holds a value in it.");
    });

    test("a pending migration's change is not written again", async () => {
      entities({ views: "integer", done: "boolean" });
      const first = await strata(dir, ["migrate", "generate", "add-done"]);
      expect(first.stdout).toContain("add column tasks.done (boolean, nullable)");
      const second = await strata(dir, ["migrate", "generate", "add-done-again"]);
      expect(second.code, second.stderr).toBe(0);
      expect(second.stdout).toContain("No difference");
      expect(second.stderr).not.toContain("drift");
      expect(migrationFiles(dir)).toEqual(["0001-create-tasks.mjs", "0002-add-done.mjs"]);
    });

    test("a database changed outside the migrations is reported as drift", async () => {
      await inDatabase(url, async (_tx, editor) => {
        await editor.addColumn("tasks", { name: "sneaky", type: "string", nullable: true, primary: false, unique: false });
      });
      const run = await strata(dir, ["migrate", "generate", "nothing"]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toContain("warning: drift: the database differs from what its applied migrations make");
      expect(run.stderr).toContain("  - column tasks.sneaky: in the database, not in the migrations");
      const json = await strata(dir, ["--json", "migrate", "generate", "nothing"]);
      expect(JSON.parse(json.stdout)).toMatchObject({ file: null, drift: ["column tasks.sneaky: in the database, not in the migrations"] });
    });

    test("a renamed table: --yes writes m.renameTable and keeps the rows", async () => {
      entities({ views: "integer" }, "todos");
      const refused = await strata(dir, ["migrate", "generate", "rename-tasks"]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain("tasks -> todos: --rename tasks:todos");
      const run = await strata(dir, ["migrate", "generate", "rename-tasks", "--yes"]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain("with 1 change:\n  rename table tasks to todos\n");
      expect((await strata(dir, ["migrate", "up"])).code).toBe(0);
      expect(await rowsOf(url, "todos")).toEqual([{ id: "t1", title: "first", views: 42 }]);
    });

    test("a --rename that does not fit is refused, naming what is wrong", async () => {
      entities({ viewCount: "integer" });
      const syntax = await strata(dir, ["migrate", "generate", "x", "--rename", "tasks.views=viewCount"]);
      expect(syntax.code).toBe(2);
      expect(syntax.stderr).toContain("expected table.old:new");
      const unknownColumn = await strata(dir, ["migrate", "generate", "x", "--rename", "tasks.clicks:viewCount"]);
      expect(unknownColumn.code).toBe(1);
      expect(unknownColumn.stderr).toContain(`--rename tasks.clicks:viewCount: table "tasks" has no column "clicks"`);
      const unknownTable = await strata(dir, ["migrate", "generate", "x", "--rename", "jobs.views:viewCount"]);
      expect(unknownTable.code).toBe(1);
      expect(unknownTable.stderr).toContain(`no entity maps a table "jobs"`);
      const injected = await strata(dir, ["migrate", "generate", "x", "--rename", `tasks.views:view"; DROP TABLE tasks; --`]);
      expect(injected.code).toBe(2);
      expect(migrationFiles(dir)).toEqual(["0001-create-tasks.mjs"]);
    });
  });
}

describe("sqlite: strata migrate generate, entities and migrations the replay cannot read", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "strata-generate-ts-"));
    symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"), "dir");
    writeFileSync(path.join(dir, "strata.config.json"), JSON.stringify({ url: `sqlite:${path.join(dir, "app.db")}`, migrations: "./migrations", entities: "./src/entities/index.ts" }));
    // An ES module project; tsx (esbuild) follows its tsconfig: TypeORM's decorators are the legacy ones.
    writeFileSync(path.join(dir, "package.json"), JSON.stringify({ type: "module" }));
    writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: { experimentalDecorators: true, target: "ES2022", module: "NodeNext" } }));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const writeEntity = (body: string) => {
    const src = path.join(dir, "src/entities");
    mkdirSync(src, { recursive: true });
    writeFileSync(path.join(src, "note.ts"), `import { Column, Entity, PrimaryColumn } from "typeorm";\n\n@Entity("notes")\nexport class Note {\n  @PrimaryColumn({ type: "string" }) id!: string;\n${body}\n}\n`);
    writeFileSync(path.join(src, "index.ts"), `import "reflect-metadata";\nexport { Note } from "./note.js";\n`);
  };

  test("TypeScript entities load through tsx: an edit is seen without tsc", async () => {
    writeEntity(`  @Column({ type: "string" }) body!: string;`);
    const first = await strata(dir, ["migrate", "generate", "create-notes"]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain("create table notes (2 columns)");
    writeEntity(`  @Column({ type: "string" }) body!: string;\n  @Column({ type: "boolean", default: false }) pinned!: boolean;`);
    const second = await strata(dir, ["migrate", "generate", "add-pinned"]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain("add column notes.pinned (boolean)");
  });

  test("a TypeScript column without a type names the file and the property", async () => {
    writeEntity(`  @Column() body!: string;`);
    const run = await strata(dir, ["migrate", "generate", "create-notes"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${path.join(dir, "src/entities/note.ts")}: Note.body has no column type`);
    expect(run.stderr).toContain(`@Column({ type: "integer" }) body`);
    expect(run.stderr).toContain("compile the entities with tsc");
  });

  test("without tsx, TypeScript entities are refused with what to do", async () => {
    writeEntity(`  @Column({ type: "string" }) body!: string;`);
    writeFileSync(
      path.join(dir, "no-tsx-hooks.mjs"),
      "export async function resolve(specifier, context, next) {\n" +
        '  if (specifier === "tsx" || specifier.startsWith("tsx/")) throw Object.assign(new Error(`Cannot find package ${specifier}`), { code: "ERR_MODULE_NOT_FOUND" });\n' +
        "  return next(specifier, context);\n}\n",
    );
    writeFileSync(path.join(dir, "no-tsx.mjs"), 'import { register } from "node:module";\nregister("./no-tsx-hooks.mjs", import.meta.url);\n');
    const run = await strata(dir, ["migrate", "generate", "create-notes"], { NODE_OPTIONS: `--import ${pathToFileURL(path.join(dir, "no-tsx.mjs")).href}` });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${path.join(dir, "src/entities/index.ts")} is TypeScript and tsx is not installed to load it`);
    expect(run.stderr).toContain("npm install -D tsx");
    expect(run.stderr).toContain("compile the entities with tsc");
  });

  test("a migration using m.sql cannot be replayed: generate says which, and compares with the database", async () => {
    writeEntity(`  @Column({ type: "string" }) body!: string;`);
    mkdirSync(path.join(dir, "migrations"));
    writeFileSync(
      path.join(dir, "migrations/0001-raw.mjs"),
      `export default { version: 1, name: "raw", async up(m) { await m.sql('CREATE TABLE "notes" ("id" TEXT PRIMARY KEY NOT NULL, "body" TEXT NOT NULL)'); } };\n`,
    );
    expect((await strata(dir, ["migrate", "up"])).code).toBe(0);
    const run = await strata(dir, ["migrate", "generate", "nothing"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(`migration 1 "raw" (0001-raw.mjs) cannot be replayed (it uses m.sql, which a memory storage cannot run): comparing the entities with the live database instead`);
    expect(run.stdout).toContain("No difference between the entities and the database schema");
  });
});
