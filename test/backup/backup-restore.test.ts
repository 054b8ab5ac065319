/**
 * Hostile review of `strata backup restore` (src/backup/restore-generation.ts): restoring over a damaged
 * database (the reason one restores), into a place that does not exist yet, and with the generations in odd places.
 */
import "reflect-metadata";
import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { Task } from "../../entities/index.js";
import { createStorage } from "../../src/index.js";
import type { Storage } from "../../src/index.js";
import { createGeneration, listGenerations, verifyGeneration } from "../../src/backup/backup-generations.js";
import { backupPlanOf } from "../../src/backup/backup-plan.js";
import { restoreGeneration } from "../../src/backup/restore-generation.js";
import { coreOf } from "../../src/storage-core.js";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "strata-rv-restore-"));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const titles = async (storage: Storage) => (await storage.repository(Task).findAll({ orderBy: { title: "asc" } })).map((t) => t.title);

/** A SQLite database at `file` with tasks `names`, and a generation of it in `root`. */
async function sqliteWithGeneration(file: string, root: string, names: string[]) {
  const storage = await createStorage({ url: `sqlite:${file}`, entities: [Task], autoCreate: true, backup: { enabled: true, dir: root, intervalMs: 2 ** 31 - 1 } });
  for (const title of names) await storage.repository(Task).save({ projectId: "p", title });
  const generation = await coreOf(storage).backups!.create("manual");
  await storage.close();
  return generation;
}

describe("sqlite: restore", () => {
  test("over a database whose pages are damaged: the restore goes on, and keeps the damaged file as a generation", async () => {
    const file = path.join(dir, "app.db");
    const root = path.join(dir, "generations");
    const generation = await sqliteWithGeneration(file, root, ["a", "b"]);
    // Damage a page past the header: SQLite still opens it, integrity_check fails.
    const size = fs.statSync(file).size;
    const fd = fs.openSync(file, "r+");
    fs.writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, Math.max(4096, size - 4096));
    fs.closeSync(fd);
    const result = await restoreGeneration({ backend: "sqlite", location: file, plan: backupPlanOf("sqlite", file, root)!, generation: generation.name });
    expect(result.replaced?.manifest.reason).toBe("restore");
    const reopened = await createStorage({ url: `sqlite:${file}`, entities: [Task] });
    expect(await titles(reopened)).toEqual(["a", "b"]);
    await reopened.close();
  });

  test("over a file that is not a database at all: not a LockError saying it is open elsewhere", async () => {
    const file = path.join(dir, "app.db");
    const root = path.join(dir, "generations");
    const generation = await sqliteWithGeneration(file, root, ["a"]);
    fs.writeFileSync(file, "this is not a SQLite database, it was overwritten by accident".repeat(100));
    const result = await restoreGeneration({ backend: "sqlite", location: file, plan: backupPlanOf("sqlite", file, root)!, generation: generation.name });
    expect(result.replaced).toBeDefined();
    expect(fs.readFileSync(result.replaced!.dataPath, "utf8")).toMatch(/^this is not a SQLite database/);
    const reopened = await createStorage({ url: `sqlite:${file}`, entities: [Task] });
    expect(await titles(reopened)).toEqual(["a"]);
    await reopened.close();
  });

  test("into a directory that does not exist yet (a new machine): it is made, with --force-source (another path)", async () => {
    const root = path.join(dir, "generations");
    const generation = await sqliteWithGeneration(path.join(dir, "old.db"), root, ["a"]);
    const file = path.join(dir, "new", "data", "app.db");
    const result = await restoreGeneration({ backend: "sqlite", location: file, plan: backupPlanOf("sqlite", file, root)!, generation: generation.name, forceSource: true });
    expect(result.replaced).toBeUndefined();
    const reopened = await createStorage({ url: `sqlite:${file}`, entities: [Task] });
    expect(await titles(reopened)).toEqual(["a"]);
    await reopened.close();
  });
});

describe("sqlite: restore over a crashed database's -wal", () => {
  test("the crashed commits go into the replaced generation, and never into the restored database", async () => {
    const file = path.join(dir, "app.db");
    const root = path.join(dir, "generations");
    const generation = await sqliteWithGeneration(file, root, ["a"]);
    // A process killed with commits only in its -wal: copy the files while a connection that never
    // checkpoints holds them, as a SIGKILL would leave them.
    const live = path.join(dir, "live.db");
    fs.copyFileSync(file, live);
    const db = new Database(live);
    db.pragma("journal_mode = WAL");
    db.pragma("wal_autocheckpoint = 0");
    db.prepare("UPDATE tasks SET title = 'crashed'").run();
    for (const suffix of ["", "-wal", "-shm"]) fs.copyFileSync(`${live}${suffix}`, `${file}${suffix}`);
    db.close();
    expect(fs.statSync(`${file}-wal`).size).toBeGreaterThan(0);
    const result = await restoreGeneration({ backend: "sqlite", location: file, plan: backupPlanOf("sqlite", file, root)!, generation: generation.name });
    const reopened = await createStorage({ url: `sqlite:${file}`, entities: [Task] });
    expect(await titles(reopened)).toEqual(["a"]);
    await reopened.close();
    const replaced = await createStorage({ url: `sqlite:${result.replaced!.dataPath}`, entities: [Task] });
    expect(await titles(replaced)).toEqual(["crashed"]);
    await replaced.close();
  });
});

describe("file: restore", () => {
  test("with backup.dir the data directory itself: the other generations survive the restore", async () => {
    const data = path.join(dir, "data");
    const open = () => createStorage({ url: `file:${data}`, entities: [Task], autoCreate: true, backup: { enabled: true, dir: data, keep: 10, intervalMs: 2 ** 31 - 1 } });
    const storage = await open();
    await storage.repository(Task).save({ projectId: "p", title: "a" });
    const first = await coreOf(storage).backups!.create("manual");
    await storage.repository(Task).save({ projectId: "p", title: "b" });
    const second = await coreOf(storage).backups!.create("manual");
    await storage.close();
    const plan = backupPlanOf("file", data, data)!;
    const result = await restoreGeneration({ backend: "file", location: data, plan, generation: first.name });
    const names = listGenerations(data).map((g) => g.name);
    expect(names).toEqual(expect.arrayContaining([first.name, second.name, result.replaced!.name]));
    const reopened = await open();
    expect(await titles(reopened)).toEqual(["a"]);
    await reopened.close();
  });
});

describe("file: a restore whose copy fails midway (a full disk, a generation pruned meanwhile)", () => {
  test("leaves the data as it was, not an emptied directory", async () => {
    const data = path.join(dir, "data");
    const root = path.join(dir, "generations");
    const open = () => createStorage({ url: `file:${data}`, entities: [Task], autoCreate: true, backup: { enabled: true, dir: root, intervalMs: 2 ** 31 - 1 } });
    const storage = await open();
    await storage.repository(Task).save({ projectId: "p", title: "old" });
    const generation = await coreOf(storage).backups!.create("manual");
    await storage.repository(Task).save({ projectId: "p", title: "new" });
    await storage.close();
    const cp = fs.cpSync;
    const spy = vi.spyOn(fs, "cpSync").mockImplementation((source, target, options) => {
      if (String(source).startsWith(generation.dataPath)) throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
      cp(source, target, options);
    });
    try {
      await expect(restoreGeneration({ backend: "file", location: data, plan: backupPlanOf("file", data, root)!, generation: generation.name })).rejects.toThrow(/ENOSPC/);
    } finally {
      spy.mockRestore();
    }
    const reopened = await open();
    expect(await titles(reopened)).toEqual(["new", "old"]);
    await reopened.close();
  });
});

describe("generation store", () => {
  test("a clock that went back (NTP step) never makes keep prune the generation just made", async () => {
    const root = path.join(dir, "generations");
    const make = (now: Date, text: string) =>
      createGeneration(root, { reason: "manual", backend: "file", dataName: "data", keep: 1, now, write: (p) => { fs.mkdirSync(p); fs.writeFileSync(path.join(p, "a.txt"), text); } });
    await make(new Date("2026-11-29T12:00:00Z"), "older");
    const newest = await make(new Date("2026-11-29T11:00:00Z"), "newer");
    const kept = listGenerations(root);
    expect(kept.map((g) => g.name)).toEqual([newest.name]);
    expect(fs.readFileSync(path.join(kept[0]!.dataPath, "a.txt"), "utf8")).toBe("newer");
  });

  test("a manifest whose data points outside its generation is not a generation", async () => {
    const root = path.join(dir, "generations");
    const made = await createGeneration(root, { reason: "manual", backend: "file", dataName: "data", write: (p) => { fs.mkdirSync(p); fs.writeFileSync(path.join(p, "a.txt"), "x"); } });
    const outside = path.join(dir, "outside");
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, "a.txt"), "x");
    const manifestFile = path.join(made.path, "manifest.json");
    const manifest = JSON.parse(fs.readFileSync(manifestFile, "utf8")) as Record<string, unknown>;
    fs.writeFileSync(manifestFile, JSON.stringify({ ...manifest, data: "../../outside" }));
    expect(listGenerations(root)).toEqual([]);
  });

  test("a generation that is a symbolic link, or holds one, is not restored", async () => {
    const root = path.join(dir, "generations");
    const write = (p: string) => {
      fs.mkdirSync(p);
      fs.writeFileSync(path.join(p, "a.txt"), "x");
    };
    const made = await createGeneration(root, { reason: "manual", backend: "file", dataName: "data", write });
    // A link named like a generation, to a complete generation elsewhere.
    const elsewhere = await createGeneration(path.join(dir, "elsewhere"), { reason: "manual", backend: "file", dataName: "data", write });
    const linked = made.name.replace(/-\d+$/, "-000099");
    fs.symlinkSync(elsewhere.path, path.join(root, linked));
    fs.writeFileSync(path.join(elsewhere.path, "manifest.json"), fs.readFileSync(path.join(elsewhere.path, "manifest.json"), "utf8").replace(elsewhere.name, linked));
    expect(listGenerations(root).map((g) => g.name)).toEqual([made.name]);
    // A file of the data replaced by a link to another file with the same bytes.
    const secret = path.join(dir, "secret.txt");
    fs.writeFileSync(secret, "x");
    fs.rmSync(path.join(made.dataPath, "a.txt"));
    fs.symlinkSync(secret, path.join(made.dataPath, "a.txt"));
    await expect(verifyGeneration(made)).rejects.toThrow(/not a regular file/);
  });

  test("another process sealing the same name first: the rename moves on to the next sequence, the other's is untouched", async () => {
    const root = path.join(dir, "generations");
    const now = new Date("2026-11-29T12:00:00Z");
    const taken = path.join(root, "generation-20261129T120000000Z-000001");
    const made = await createGeneration(root, {
      reason: "manual",
      backend: "file",
      dataName: "data",
      now,
      write: (p) => {
        fs.mkdirSync(p);
        fs.writeFileSync(path.join(p, "a.txt"), "mine");
        // The other process renames its generation to the name this one picked, while this one writes.
        fs.mkdirSync(path.join(taken, "data"), { recursive: true });
        fs.writeFileSync(path.join(taken, "data", "a.txt"), "theirs");
      },
    });
    expect(made.name).toBe("generation-20261129T120000000Z-000002");
    expect(fs.readFileSync(path.join(taken, "data", "a.txt"), "utf8")).toBe("theirs");
    expect(fs.readFileSync(path.join(made.dataPath, "a.txt"), "utf8")).toBe("mine");
    await verifyGeneration(made);
  });
});
