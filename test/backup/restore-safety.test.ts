/**
 * `strata backup restore` against what can go wrong around it: a generation of another database, a second
 * process opening the SQLite database while the restore runs, and a crash at each step of a file restore.
 */
import "reflect-metadata";
import { spawn } from "node:child_process";
import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { Task } from "../../entities/index.js";
import { createStorage, GenerationSourceError } from "../../src/index.js";
import type { Storage } from "../../src/index.js";
import type { Generation } from "../../src/backup/backup-generations.js";
import { createGeneration, listGenerations } from "../../src/backup/backup-generations.js";
import { backupPlanOf } from "../../src/backup/backup-plan.js";
import { restoreGeneration } from "../../src/backup/restore-generation.js";
import { sqliteRestoreHooks } from "../../src/backends/sqlite/sqlite-backup-layout.js";
import { coreOf } from "../../src/storage-core.js";
import { strata } from "./cli-run.js";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "strata-restore-safety-"));
});
afterEach(() => {
  vi.restoreAllMocks();
  delete sqliteRestoreHooks.betweenCheckAndWrite;
  fs.rmSync(dir, { recursive: true, force: true });
});

const titles = async (storage: Storage) => (await storage.repository(Task).findAll({ orderBy: { title: "asc" } })).map((t) => t.title);
const NEVER = 2 ** 31 - 1;

/** A storage at `location` holding `before`, a generation of it in `root`, then `after` saved too. */
async function withGeneration(kind: "sqlite" | "file", location: string, root: string, before: string[], after: string[]): Promise<Generation> {
  const storage = await createStorage({ url: `${kind}:${location}`, entities: [Task], autoCreate: true, backup: { enabled: true, dir: root, intervalMs: NEVER } });
  for (const title of before) await storage.repository(Task).save({ projectId: "p", title });
  const generation = await coreOf(storage).backups!.create("manual");
  for (const title of after) await storage.repository(Task).save({ projectId: "p", title });
  await storage.close();
  return generation;
}

async function titlesAt(url: string): Promise<string[]> {
  const storage = await createStorage({ url, entities: [Task] });
  try {
    return await titles(storage);
  } finally {
    await storage.close();
  }
}

for (const kind of ["sqlite", "file"] as const) {
  describe(`${kind}: restore of another source's generation`, () => {
    const locationOf = (name: string) => path.join(dir, kind === "sqlite" ? `${name}.db` : name);

    test("is refused, naming the generation and both sources, and changes nothing; forceSource restores it", async () => {
      const root = path.join(dir, "generations");
      const theirs = await withGeneration(kind, locationOf("other"), root, ["theirs"], []);
      await withGeneration(kind, locationOf("app"), root, ["mine"], []);
      const plan = backupPlanOf(kind, locationOf("app"), root)!;
      const refused = await restoreGeneration({ backend: kind, location: locationOf("app"), plan, generation: theirs.name }).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(GenerationSourceError);
      const error = refused as GenerationSourceError;
      expect(error.code).toBe("STRATA_GENERATION_SOURCE");
      expect(error.generation).toBe(theirs.name);
      expect(error.generationSource).toBe(path.resolve(locationOf("other")));
      expect(error.targetSource).toBe(path.resolve(locationOf("app")));
      expect(error.message).toContain(theirs.name);
      expect(error.message).toContain(path.resolve(locationOf("other")));
      expect(error.message).toContain(path.resolve(locationOf("app")));
      expect(await titlesAt(`${kind}:${locationOf("app")}`)).toEqual(["mine"]);
      // Nothing replaced, so no `restore` generation either.
      expect(listGenerations(root).map((g) => g.manifest.reason)).not.toContain("restore");

      const result = await restoreGeneration({ backend: kind, location: locationOf("app"), plan, generation: theirs.name, forceSource: true });
      expect(result.replaced?.manifest.source).toBe(path.resolve(locationOf("app")));
      expect(await titlesAt(`${kind}:${locationOf("app")}`)).toEqual(["theirs"]);
    });

    test("strata backup restore refuses it without --force-source, and restores it with", async () => {
      const root = path.join(dir, "generations");
      const theirs = await withGeneration(kind, locationOf("other"), root, ["theirs"], []);
      await withGeneration(kind, locationOf("app"), root, ["mine"], []);
      const url = `${kind}:${locationOf("app")}`;
      const refused = await strata(["--url", url, "backup", "restore", theirs.name, "--dir", root]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/GenerationSourceError: .*--force-source/);
      expect(await titlesAt(url)).toEqual(["mine"]);
      const forced = await strata(["--url", url, "backup", "restore", theirs.name, "--dir", root, "--force-source"]);
      expect(forced.code, forced.stderr).toBe(0);
      expect(await titlesAt(url)).toEqual(["theirs"]);
    });
  });
}

/** test/fixtures/backup-child.ts `reader`: a second process that has the database open. */
function reader(file: string) {
  const proc = spawn(process.execPath, ["--import", "tsx", path.resolve("test/fixtures/backup-child.ts"), "reader", file], { stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  proc.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  proc.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  const lines = () => stdout.split("\n").filter(Boolean);
  return {
    proc,
    exited,
    stderr: () => stderr,
    async opened() {
      await vi.waitFor(() => expect(lines(), stderr).toContain("open"), { timeout: 20_000, interval: 10 });
    },
    /** The titles the child reads now. */
    async read(): Promise<string[]> {
      const before = lines().length;
      proc.stdin.write("read\n");
      await vi.waitFor(() => expect(lines().length, stderr).toBeGreaterThan(before), { timeout: 20_000, interval: 10 });
      return JSON.parse(lines().at(-1)!) as string[];
    },
  };
}

describe("sqlite: a second process opening the database while a restore runs", () => {
  test("it reads the restored data once the restore is done, never the replaced file", async () => {
    const file = path.join(dir, "app.db");
    const root = path.join(dir, "generations");
    const generation = await withGeneration("sqlite", file, root, ["a", "b"], ["c"]);
    let child: ReturnType<typeof reader> | undefined;
    // The window: the lock probe has let go, the generation is not in place yet. The child opens the database there.
    sqliteRestoreHooks.betweenCheckAndWrite = async () => {
      child = reader(file);
      await child.opened();
    };
    try {
      await restoreGeneration({ backend: "sqlite", location: file, plan: backupPlanOf("sqlite", file, root)!, generation: generation.name });
      expect(child).toBeDefined();
      expect(await child!.read()).toEqual(["a", "b"]);
    } finally {
      child?.proc.stdin.end();
      if (child) expect(await child.exited, child.stderr()).toBe(0);
    }
    // The child held the same file, not a replaced one: the restored database is the one everyone sees.
    expect(await titlesAt(`sqlite:${file}`)).toEqual(["a", "b"]);
    expect(fs.readdirSync(dir).filter((entry) => entry.includes(".restore-"))).toEqual([]);
  }, 60_000);
});

describe("sqlite: restore in place", () => {
  test("a database held by a writer all along: a LockError, nothing restored, never a restore reported that did not happen", async () => {
    const file = path.join(dir, "app.db");
    const root = path.join(dir, "generations");
    const generation = await withGeneration("sqlite", file, root, ["a", "b"], ["c"]);
    let writer: Database.Database | undefined;
    sqliteRestoreHooks.betweenCheckAndWrite = async () => {
      writer = new Database(file);
      writer.exec("BEGIN IMMEDIATE");
    };
    try {
      await expect(restoreGeneration({ backend: "sqlite", location: file, plan: backupPlanOf("sqlite", file, root)!, generation: generation.name })).rejects.toThrow(/taken by another process while it was being restored; nothing was restored/);
    } finally {
      writer?.exec("ROLLBACK");
      writer?.close();
    }
    expect(await titlesAt(`sqlite:${file}`)).toEqual(["a", "b", "c"]);
  }, 30_000);

  test("a generation of another page size is restored into a WAL database (SQLite refuses that backup as it is)", async () => {
    const file = path.join(dir, "app.db");
    const root = path.join(dir, "generations");
    await withGeneration("sqlite", file, root, ["a", "b"], ["c"]);
    const other = path.join(dir, "other.db");
    fs.copyFileSync(file, other);
    const db = new Database(other);
    db.pragma("journal_mode = DELETE");
    db.pragma("page_size = 8192");
    db.exec("VACUUM");
    db.prepare("DELETE FROM tasks WHERE title = ?").run("b");
    expect(db.pragma("page_size", { simple: true })).toBe(8192);
    db.close();
    const generation = await createGeneration(root, { reason: "manual", backend: "sqlite", source: path.resolve(file), dataName: "data.db", write: (dataPath) => fs.copyFileSync(other, dataPath) });
    await restoreGeneration({ backend: "sqlite", location: file, plan: backupPlanOf("sqlite", file, root)!, generation: generation.name });
    expect(await titlesAt(`sqlite:${file}`)).toEqual(["a", "c"]);
  });
});

describe("file: a crash at each step of a restore", () => {
  /** A data directory holding a, b, c, and a generation of it holding a, b (outside the directory). */
  async function setUp(name: string) {
    const data = path.join(dir, name, "data");
    const root = path.join(dir, name, "generations");
    const generation = await withGeneration("file", data, root, ["a", "b"], ["c"]);
    return { data, root, generation, plan: backupPlanOf("file", data, root)! };
  }

  test("leaves the old data or the restored data complete, and the directory opens (the restore is finished on open)", async () => {
    // How many renames a whole restore makes, so that each one can fail in turn.
    const counted = await setUp("count");
    const rename = fs.renameSync;
    let renames = 0;
    vi.spyOn(fs, "renameSync").mockImplementation((from, to) => {
      renames++;
      return rename(from, to);
    });
    await restoreGeneration({ backend: "file", location: counted.data, plan: counted.plan, generation: counted.generation.name });
    vi.restoreAllMocks();
    expect(await titlesAt(`file:${counted.data}`)).toEqual(["a", "b"]);
    expect(renames).toBeGreaterThan(3);

    const seen = new Set<string>();
    for (let failAt = 1; failAt <= renames; failAt++) {
      const { data, plan, generation } = await setUp(`crash-${failAt}`);
      let calls = 0;
      // A crash at this rename: it does not happen, and neither does anything after it (the error is not
      // caught by the restore, which only reports it).
      vi.spyOn(fs, "renameSync").mockImplementation((from, to) => {
        if (++calls === failAt) throw Object.assign(new Error(`simulated crash at rename ${failAt}`), { code: "EIO" });
        return rename(from, to);
      });
      await expect(restoreGeneration({ backend: "file", location: data, plan, generation: generation.name })).rejects.toThrow(/simulated crash/);
      vi.restoreAllMocks();
      const found = await titlesAt(`file:${data}`);
      expect([["a", "b", "c"], ["a", "b"]], `rename ${failAt}`).toContainEqual(found);
      seen.add(found.join(","));
      // Nothing of the restore is left once the directory was opened.
      expect(fs.readdirSync(data).filter((entry) => entry.includes("restore") || entry.includes("replaced")), `rename ${failAt}`).toEqual([]);
    }
    // Both sides of the commit point were hit.
    expect([...seen].sort()).toEqual(["a,b", "a,b,c"]);
  }, 120_000);
});
