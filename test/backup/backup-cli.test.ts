/** `strata backup list | create | restore`, run in-process through the CLI's `main` (stdout captured). */
import "reflect-metadata";
import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { Task } from "../../entities/index.js";
import { createStorage, defineMigration } from "../../src/index.js";
import type { Storage } from "../../src/index.js";
import { strata } from "./cli-run.js";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "strata-backup-cli-"));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const titles = async (storage: Storage) => (await storage.repository(Task).findAll({ orderBy: { title: "asc" } })).map((t) => t.title);

for (const kind of ["sqlite", "file"] as const) {
  describe(`${kind}: strata backup`, () => {
    test("create, list and restore, with --json; restore refuses a storage that is open", async () => {
      const url = kind === "sqlite" ? `sqlite:${path.join(dir, "app.db")}` : `file:${path.join(dir, "data")}`;
      const storage = await createStorage({ url, entities: [Task], autoCreate: true });
      await storage.repository(Task).save({ projectId: "p", title: "before" });
      if (kind === "file") await storage.close();

      const created = await strata(["--url", url, "--json", "backup", "create"]);
      expect(created.code, created.stderr).toBe(0);
      const generation = JSON.parse(created.stdout) as { name: string; reason: string; sizeBytes: number };
      expect(generation.reason).toBe("manual");
      expect(generation.sizeBytes).toBeGreaterThan(0);

      const after = kind === "file" ? await createStorage({ url, entities: [Task] }) : storage;
      await after.repository(Task).save({ projectId: "p", title: "after" });
      const refused = await strata(["--url", url, "backup", "restore", generation.name]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/LockError: .*(open in another connection|in use by process)/);
      await after.close();

      const restored = await strata(["--url", url, "--json", "backup", "restore", generation.name]);
      expect(restored.code, restored.stderr).toBe(0);
      const result = JSON.parse(restored.stdout) as { restored: { name: string }; replaced: { name: string; reason: string } };
      expect(result.restored.name).toBe(generation.name);
      expect(result.replaced.reason).toBe("restore");

      const listed = await strata(["--url", url, "--json", "backup", "list"]);
      expect((JSON.parse(listed.stdout) as { name: string }[]).map((g) => g.name)).toEqual([generation.name, result.replaced.name]);
      const text = await strata(["--url", url, "backup", "list"]);
      expect(text.stdout).toContain(generation.name);
      expect(text.stdout).toMatch(/Generation\s+Reason/);

      const reopened = await createStorage({ url, entities: [Task] });
      expect(await titles(reopened)).toEqual(["before"]);
      await reopened.close();
      const unknown = await strata(["--url", url, "backup", "restore", "generation-nope"]);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toContain('no complete generation "generation-nope"');
    });
  });
}

describe("strata backup", () => {
  test("a migration run that fails is undone with `strata backup restore` of the generation it made", async () => {
    const file = path.join(dir, "app.db");
    const migrations = [
      defineMigration({ version: 1, name: "drop-titles", up: async (m) => void (await m.deleteRows("tasks", { projectId: "p" })) }),
      defineMigration({ version: 2, name: "broken", up: async () => { throw new Error("broken"); } }),
    ];
    const storage = await createStorage({ url: `sqlite:${file}`, entities: [Task], autoCreate: true, migrations, backup: { enabled: true } });
    await storage.repository(Task).save({ projectId: "p", title: "precious" });
    await expect(storage.migrations.up()).rejects.toThrow(/broken/);
    expect(await titles(storage)).toEqual([]);
    await storage.close();

    const listed = JSON.parse((await strata(["--url", `sqlite:${file}`, "--json", "backup", "list"])).stdout) as { name: string; reason: string }[];
    const made = listed.filter((g) => g.reason === "migration");
    expect(made).toHaveLength(1);
    expect((await strata(["--url", `sqlite:${file}`, "backup", "restore", made[0]!.name])).code).toBe(0);
    const reopened = await createStorage({ url: `sqlite:${file}`, entities: [Task], migrations });
    expect(await titles(reopened)).toEqual(["precious"]);
    expect((await reopened.migrations.status()).map((s) => s.state)).toEqual(["pending", "pending"]);
    await reopened.close();
  });

  test("postgres and memory URLs are refused, saying what to use instead", async () => {
    const pg = await strata(["--url", "postgres://postgres@127.0.0.1:5432/test", "backup", "list"]);
    expect(pg.code).toBe(2);
    expect(pg.stderr).toContain("pg_dump");
    const memory = await strata(["--url", "memory:", "backup", "create"]);
    expect(memory.code).toBe(2);
    expect(memory.stderr).toContain("backup.dir");
  });
});
