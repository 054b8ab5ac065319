/**
 * Automatic backups (`backup.enabled`) on sqlite, file and memory: what a user sees of them. Generations are
 * made through the storage's scheduler (`coreOf(storage).backups`, what `strata backup create` calls) or by
 * the schedule itself with a small `intervalMs`, awaited through the `backup` event.
 */
import "reflect-metadata";
import { spawn } from "node:child_process";
import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { Task } from "../../entities/index.js";
import { createStorage, defineMigration, GenerationSourceError, LockError, MigrationError } from "../../src/index.js";
import type { BackupEvent, Storage, StorageConfig } from "../../src/index.js";
import { listGenerations, verifyGeneration } from "../../src/backup/backup-generations.js";
import { backupPlanOf } from "../../src/backup/backup-plan.js";
import { restoreGeneration } from "../../src/backup/restore-generation.js";
import { coreOf } from "../../src/storage-core.js";

let dir: string;
const open: Storage[] = [];
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "strata-auto-backup-"));
});
afterEach(async () => {
  for (const s of open.splice(0)) await s.close().catch(() => {});
  fs.rmSync(dir, { recursive: true, force: true });
});

type Kind = "sqlite" | "file" | "memory";
const KINDS: Kind[] = ["sqlite", "file", "memory"];
const backups = () => path.join(dir, "generations");
const locationOf = (kind: Kind) => (kind === "sqlite" ? path.join(dir, "app.db") : path.join(dir, "data"));
const urlOf = (kind: Kind) => (kind === "memory" ? "memory:" : `${kind}:${locationOf(kind)}`);

async function openStorage(kind: Kind, extra: Partial<StorageConfig> = {}): Promise<Storage> {
  const storage = await createStorage({
    url: urlOf(kind),
    entities: [Task],
    autoCreate: true,
    backup: { enabled: true, dir: backups(), keep: 10, intervalMs: 2 ** 31 - 1 },
    ...extra,
  });
  open.push(storage);
  return storage;
}

async function close(storage: Storage): Promise<void> {
  await storage.close();
  open.splice(open.indexOf(storage), 1);
}

const rowsOf = (storage: Storage) => storage.repository(Task).findAll({ orderBy: { title: "asc" } });
const saveTitles = async (storage: Storage, titles: string[]) => {
  for (const title of titles) await storage.repository(Task).save({ projectId: "p", title, labels: [title], dueAt: new Date(1_700_000_000_000) });
};

for (const kind of KINDS) {
  describe(`${kind}: automatic backups`, () => {
    test("a generation restores to exactly the data it was taken from", async () => {
      const storage = await openStorage(kind);
      await saveTitles(storage, ["a", "b", "c"]);
      await storage.repository(Task).update((await rowsOf(storage))[0]!.id, { status: "done" });
      const taken = await rowsOf(storage);
      let generation: string;
      if (kind === "memory") {
        await close(storage);
        generation = listGenerations(backups()).at(-1)!.name;
        expect(listGenerations(backups()).at(-1)!.manifest.reason).toBe("close");
      } else {
        generation = (await coreOf(storage).backups!.create("manual")).name;
        await saveTitles(storage, ["after"]);
        await storage.repository(Task).delete(taken[1]!.id);
        await close(storage);
      }
      // Memory has no data in place: its generation is restored into a file directory, another source than its own.
      const target = kind === "memory" ? "file" : kind;
      const plan = backupPlanOf(target, locationOf(kind), backups())!;
      if (kind === "memory") await expect(restoreGeneration({ backend: target, location: locationOf(kind), plan, generation })).rejects.toBeInstanceOf(GenerationSourceError);
      const result = await restoreGeneration({ backend: target, location: locationOf(kind), plan, generation, forceSource: kind === "memory" });
      expect(result.restored.name).toBe(generation);
      const reopened = await createStorage({ url: `${target}:${locationOf(kind)}`, entities: [Task] });
      open.push(reopened);
      expect(await rowsOf(reopened)).toEqual(taken);
      if (kind !== "memory") {
        // What the restore replaced is one more generation, which restores the later state.
        expect(result.replaced?.manifest.reason).toBe("restore");
        await close(reopened);
        await restoreGeneration({ backend: kind, location: locationOf(kind), plan: backupPlanOf(kind, locationOf(kind), backups())!, generation: result.replaced!.name });
        const undone = await createStorage({ url: urlOf(kind), entities: [Task] });
        open.push(undone);
        expect((await rowsOf(undone)).map((t) => t.title)).toEqual(["a", "after", "c"]);
      }
    });

    test("the schedule makes generations every intervalMs, told by a `backup` event with duration and size", async () => {
      const storage = await openStorage(kind, { backup: { enabled: true, dir: backups(), keep: 2, intervalMs: 10 } });
      await saveTitles(storage, ["x"]);
      const events: BackupEvent[] = [];
      await new Promise<void>((resolve) => {
        storage.on("backup", (event) => {
          events.push(event);
          if (events.length === 3) resolve();
        });
      });
      expect(events.map((e) => e.reason)).toEqual(["schedule", "schedule", "schedule"]);
      for (const event of events) {
        expect(event.sizeBytes).toBeGreaterThan(0);
        expect(event.durationMs).toBeGreaterThanOrEqual(0);
        expect(event.generation).toMatch(/^generation-\d{8}T\d{9}Z-\d{6}$/);
      }
      // keep: 2, oldest pruned first.
      const kept = listGenerations(backups());
      expect(kept.map((g) => g.name)).toEqual(events.slice(-2).map((e) => e.generation));
      for (const generation of kept) await verifyGeneration(generation);
      await close(storage);
    });

    test("a scheduled backup that fails is a warning through the logger, and writes go on", async () => {
      const logger = { debug() {}, info() {}, warn: vi.fn(), error() {} };
      // The generations' directory cannot be made: a file is in the way.
      fs.writeFileSync(backups(), "not a directory");
      const storage = await openStorage(kind, { logger, backup: { enabled: true, dir: backups(), intervalMs: 5 } });
      await vi.waitFor(() => expect(logger.warn).toHaveBeenCalledTimes(2), { timeout: 5000, interval: 5 });
      expect(logger.warn.mock.calls[0]![0]).toMatch(/^Scheduled backup of the \w+ storage into .*generations failed/);
      await saveTitles(storage, ["still writable"]);
      expect((await rowsOf(storage)).map((t) => t.title)).toEqual(["still writable"]);
      fs.rmSync(backups());
      if (kind === "memory") await close(storage);
    });
  });
}

for (const kind of ["sqlite", "file"] as const) {
  describe(`${kind}: a generation before every migration run`, () => {
    const renamed = defineMigration({
      version: 1,
      name: "rename-titles",
      up: async (m) => void (await m.updateRows("tasks", (row) => ({ ...row, title: `${String(row["title"])} (renamed)` }))),
      down: async (m) => void (await m.updateRows("tasks", (row) => ({ ...row, title: String(row["title"]).replace(" (renamed)", "") }))),
    });
    const broken = defineMigration({ version: 2, name: "broken", up: async () => { throw new Error("this migration is broken"); } });

    test("a run that fails is undone by restoring the generation it made; dry runs and empty runs make none", async () => {
      const storage = await openStorage(kind, { migrations: [renamed, broken] });
      await saveTitles(storage, ["a", "b"]);
      const before = await rowsOf(storage);
      await storage.migrations.up({ to: 1, dryRun: true });
      expect(listGenerations(backups())).toEqual([]);
      await expect(storage.migrations.up()).rejects.toBeInstanceOf(MigrationError);
      // Migration 1 applied, 2 failed: the run is half done.
      expect((await storage.migrations.status()).map((s) => s.state)).toEqual(["applied", "pending"]);
      const made = listGenerations(backups()).filter((g) => g.manifest.reason === "migration");
      expect(made).toHaveLength(1);
      await storage.migrations.up({ to: 1 });
      expect(listGenerations(backups()).filter((g) => g.manifest.reason === "migration")).toHaveLength(1);
      await close(storage);

      await restoreGeneration({ backend: kind, location: locationOf(kind), plan: backupPlanOf(kind, locationOf(kind), backups())!, generation: made[0]!.name });
      const restored = await openStorage(kind, { migrations: [renamed, broken] });
      expect(await rowsOf(restored)).toEqual(before);
      expect((await restored.migrations.status()).map((s) => s.state)).toEqual(["pending", "pending"]);
      // down reverts something: it makes one too.
      await restored.migrations.up({ to: 1 });
      await restored.migrations.down();
      expect(listGenerations(backups()).filter((g) => g.manifest.reason === "migration")).toHaveLength(3);
    });

    test("restore refuses a storage open elsewhere, and a damaged generation, before changing anything", async () => {
      const storage = await openStorage(kind);
      await saveTitles(storage, ["a"]);
      const generation = await coreOf(storage).backups!.create("manual");
      const plan = backupPlanOf(kind, locationOf(kind), backups())!;
      await expect(restoreGeneration({ backend: kind, location: locationOf(kind), plan, generation: generation.name })).rejects.toBeInstanceOf(LockError);
      await saveTitles(storage, ["b"]);
      await close(storage);
      const file = generation.manifest.files[0]!;
      const damaged = file.path === "" ? generation.dataPath : path.join(generation.dataPath, file.path);
      fs.appendFileSync(damaged, "x");
      await expect(restoreGeneration({ backend: kind, location: locationOf(kind), plan, generation: generation.name })).rejects.toThrow(/differs from its manifest/);
      const reopened = await openStorage(kind);
      expect((await rowsOf(reopened)).map((t) => t.title)).toEqual(["a", "b"]);
      // Nothing was replaced, so no `restore` generation (the file backend adds a `compaction` one on close).
      expect(listGenerations(backups()).map((g) => g.manifest.reason).filter((r) => r !== "compaction")).toEqual(["manual"]);
    });
  });
}

/** Runs test/fixtures/backup-child.ts under tsx. */
function child(mode: string, file: string) {
  const proc = spawn(process.execPath, ["--import", "tsx", path.resolve("test/fixtures/backup-child.ts"), mode, file], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  proc.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  proc.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  return { proc, exited, stdout: () => stdout, stderr: () => stderr };
}

describe("sqlite: automatic backups across processes", () => {
  test("the schedule does not keep the process alive: a script that never closes its storage exits", async () => {
    const run = child("schedule", path.join(dir, "app.db"));
    expect(await run.exited).toBe(0);
    expect(run.stdout()).toContain("backed up");
    expect(listGenerations(path.join(dir, "app.db.backups")).length).toBeGreaterThan(0);
  }, 30_000);

  test("a SIGKILL during a backup leaves the earlier generations intact and no half generation listed", async () => {
    const file = path.join(dir, "app.db");
    // Enough data (about 8 MB) that a backup takes a while, so the kill lands inside one.
    const seed = await createStorage({ url: `sqlite:${file}`, entities: [Task], autoCreate: true });
    await seed.repository(Task).saveMany(Array.from({ length: 4000 }, (_, i) => ({ projectId: "p", title: `${i} ${"x".repeat(2000)}` })));
    await seed.close();
    const run = child("loop", file);
    await vi.waitFor(() => expect(run.stdout().match(/^done /gm)?.length ?? 0).toBeGreaterThanOrEqual(2), { timeout: 20_000, interval: 10 });
    // Kill right after the next one started.
    const started = (run.stdout().match(/^start$/gm) ?? []).length;
    await vi.waitFor(() => expect((run.stdout().match(/^start$/gm) ?? []).length).toBeGreaterThan(started), { timeout: 20_000, interval: 1 });
    run.proc.kill("SIGKILL");
    await run.exited;
    const done = [...run.stdout().matchAll(/^done (\S+)$/gm)].map((m) => m[1]);
    const root = path.join(dir, "app.db.backups");
    const listed = listGenerations(root);
    // Every generation it finished is there; the one it was making is there only if the kill came after its
    // rename (before "done" was printed), and then it is complete.
    expect(listed.slice(0, done.length).map((g) => g.name)).toEqual(done);
    expect(listed.length - done.length).toBeLessThanOrEqual(1);
    expect(done.length).toBeGreaterThanOrEqual(2);
    for (const generation of listed) await verifyGeneration(generation);
    // A half-written one was removed by the listing (its process is gone).
    expect(fs.readdirSync(root).sort()).toEqual(listed.map((g) => g.name));
    await restoreGeneration({ backend: "sqlite", location: file, plan: backupPlanOf("sqlite", file, undefined)!, generation: listed[0]!.name });
    const restored = await createStorage({ url: `sqlite:${file}`, entities: [Task] });
    open.push(restored);
    expect(await restored.repository(Task).count()).toBe(4000);
  }, 60_000);
});
