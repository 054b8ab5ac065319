/**
 * Review of `strata migrate generate` (issue 13, point 2), run as a user runs it: a pending migration that seeds
 * an entity's table must replay as it applies; a dropped json column is counted like any other; a renamed
 * indexed column leaves no index name behind that a later migration then collides with; an index added to an
 * entity applies on the file backend too (which binds a stored table to its entity); a dropped non-nullable
 * column comes back on down; the end of input at
 * the rename question is an answer-less refusal, not a stack trace.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { insertTask, migrationFiles, project, SCRIPT, strata, strataOnTerminal, tasksEntity } from "./generate-cli-helpers.js";
import { migrationBackends } from "./migration-backends.js";

/** An entities module of `tasks` with an id and a nullable integer column per name of `indexed` (indexed, `unique` or not) and of `plain`. */
function indexedTasks(indexed: readonly string[], plain: readonly string[] = [], unique = false): string {
  const column = (name: string) => `Column({ type: "integer", nullable: true })(Task.prototype, ${JSON.stringify(name)});`;
  const lines = [...indexed.map((name) => `Index(${unique ? "{ unique: true }" : ""})(Task.prototype, ${JSON.stringify(name)});\n${column(name)}`), ...plain.map(column)];
  return `import "reflect-metadata";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
export class Task {}
PrimaryColumn({ type: "string" })(Task.prototype, "id");
${lines.join("\n")}
Entity("tasks")(Task);
`;
}

describe("sqlite: strata migrate generate replays a pending seed migration as the runner applies it", () => {
  let dir: string;
  beforeEach(() => {
    dir = project("sqlite:./app.db", "./entities.mjs");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test("m.insertRows leaving the entity's create date and version out: no fallback, the pending change is not written again", async () => {
    writeFileSync(
      path.join(dir, "entities.mjs"),
      `import "reflect-metadata";
import { Column, CreateDateColumn, Entity, PrimaryColumn, VersionColumn } from "typeorm";
export class Task {}
PrimaryColumn({ type: "string" })(Task.prototype, "id");
Column({ type: "string" })(Task.prototype, "title");
CreateDateColumn({ type: "datetime" })(Task.prototype, "createdAt");
VersionColumn({ type: "integer" })(Task.prototype, "version");
Entity("tasks")(Task);
`,
    );
    mkdirSync(path.join(dir, "migrations"));
    // The runner fills createdAt and version from the entity (m.insertRows, issue 13 point 8): so must the replay.
    writeFileSync(
      path.join(dir, "migrations/0001-seed.mjs"),
      `export default { version: 1, name: "seed", async up(m) {
  await m.createTable("tasks", { id: { type: "string", primary: true }, title: { type: "string" }, createdAt: { type: "datetime" }, version: { type: "integer" } });
  await m.insertRows("tasks", [{ id: "t1", title: "welcome" }]);
} };\n`,
    );
    const run = await strata(dir, ["migrate", "generate", "again"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).not.toContain("cannot be replayed");
    expect(run.stdout).toContain("No difference between the entities and the schema the migrations make");
    expect(migrationFiles(dir)).toEqual(["0001-seed.mjs"]);
    const up = await strata(dir, ["migrate", "up"]);
    expect(up.code, up.stderr).toBe(0);
  });

  test.runIf(SCRIPT !== undefined)("on a terminal, Ctrl+D at the rename question: nothing written, the error says what to do, no stack", async () => {
    writeFileSync(path.join(dir, "entities.mjs"), tasksEntity({ views: "integer" }));
    expect((await strata(dir, ["migrate", "generate", "create-tasks"])).code).toBe(0);
    writeFileSync(path.join(dir, "entities.mjs"), tasksEntity({ viewCount: "integer" }));
    const run = await strataOnTerminal(dir, ["migrate", "generate", "rename-views"], "\x04");
    expect(run.stdout).toContain("Did you rename tasks.views to tasks.viewCount? [y/N]");
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("strata: MigrationError: Nothing was written: the question was not answered");
    expect(run.stdout).toContain("--rename tasks.views:viewCount");
    expect(run.stdout).not.toMatch(/\n\s+at /);
    expect(migrationFiles(dir)).toEqual(["0001-create-tasks.mjs"]);
  });
});

for (const backend of migrationBackends().filter((b) => b.name !== "memory")) {
  describe(`${backend.name}: strata migrate generate, review`, () => {
    let dir: string;
    let url: string;
    let cleanup: () => Promise<void>;
    const entities = (text: string) => writeFileSync(path.join(dir, "entities.mjs"), text);
    const generateAndApply = async (name: string, ...flags: string[]) => {
      const run = await strata(dir, ["migrate", "generate", name, ...flags]);
      expect(run.code, run.stderr).toBe(0);
      const up = await strata(dir, ["migrate", "up"]);
      expect(up.code, up.stderr).toBe(0);
      return run;
    };
    beforeEach(async () => {
      const fresh = await backend.fresh();
      cleanup = fresh.cleanup;
      url = fresh.config.url!;
      dir = project(url, "./entities.mjs");
    });
    afterEach(async () => {
      await cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    test("dropping a json column that holds data is refused with its row count, and written with --allow-data-loss", async () => {
      entities(tasksEntity({ meta: "json" }));
      await generateAndApply("create-tasks");
      await insertTask(url, { id: "t1", title: "first", meta: { tags: ["a"] } });
      await insertTask(url, { id: "t2", title: "second", meta: null });
      entities(tasksEntity({}));
      const refused = await strata(dir, ["migrate", "generate", "drop-meta"]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain("would drop columns that hold data in the database:\n  - tasks.meta: 1 row with a value");
      const allowed = await generateAndApply("drop-meta", "--allow-data-loss");
      expect(allowed.stdout).toContain("Dropping tasks.meta loses the values of 1 row (--allow-data-loss).");
    });

    test("a non-nullable column dropped with --allow-data-loss: down adds it back on a table that has rows", async () => {
      entities(tasksEntity({}));
      await generateAndApply("create-tasks");
      await insertTask(url, { id: "t1", title: "first" });
      writeFileSync(path.join(dir, "entities.mjs"), tasksEntity({}).replace(`Column({ type: "string" })(Task.prototype, "title");\n`, ""));
      await generateAndApply("drop-title", "--allow-data-loss");
      const down = await strata(dir, ["migrate", "down"]);
      expect(down.code, down.stderr).toBe(0);
      const again = await strata(dir, ["migrate", "up"]);
      expect(again.code, again.stderr).toBe(0);
    });

    test("an index added to an entity: the migration generate writes applies, and reverts", async () => {
      entities(indexedTasks([], ["views"]));
      await generateAndApply("create-tasks");
      entities(indexedTasks(["views"]));
      const run = await generateAndApply("index-views");
      expect(run.stdout).toContain("with 1 change:\n  create index idx_tasks_views on tasks (views)\n");
      const again = await strata(dir, ["migrate", "generate", "nothing"]);
      expect(again.stdout, again.stderr).toContain("No difference");
      const down = await strata(dir, ["migrate", "down"]);
      expect(down.code, down.stderr).toBe(0);
    });

    test("an indexed column renamed, then a new column of its old name with an index: the second migration applies", async () => {
      entities(indexedTasks(["views"]));
      await generateAndApply("create-tasks");
      entities(indexedTasks(["viewCount"]));
      await generateAndApply("rename-views", "--rename", "tasks.views:viewCount");
      entities(indexedTasks(["viewCount", "views"]));
      const readd = await generateAndApply("add-views");
      expect(readd.stdout).toContain("create index idx_tasks_views on tasks (views)");
      const again = await strata(dir, ["migrate", "generate", "nothing"]);
      expect(again.stdout, again.stderr).toContain("No difference");
      expect(again.stderr).not.toContain("drift");
      // And the whole history reverts.
      const down = await strata(dir, ["migrate", "down", "--to", "0"]);
      expect(down.code, down.stderr).toBe(0);
    });

    test("a column of a unique @Index renamed, then a new column of its old name with one: the second migration applies", async () => {
      entities(indexedTasks(["code"], [], true));
      await generateAndApply("create-tasks");
      entities(indexedTasks(["sku"], [], true));
      const renamed = await generateAndApply("rename-code", "--rename", "tasks.code:sku");
      expect(renamed.stdout).toContain("rename column tasks.code to tasks.sku (index idx_tasks_code renamed idx_tasks_sku)");
      entities(indexedTasks(["sku", "code"], [], true));
      await generateAndApply("add-code");
      const down = await strata(dir, ["migrate", "down", "--to", "0"]);
      expect(down.code, down.stderr).toBe(0);
    });
  });
}
