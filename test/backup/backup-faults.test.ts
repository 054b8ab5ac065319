/**
 * Hostile review of automatic backups: a backup that cannot be made never fails a user's write, and a
 * `backup` listener cannot crash the process.
 */
import "reflect-metadata";
import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { Task } from "../../entities/index.js";
import { createStorage, defineMigration, MigrationError } from "../../src/index.js";
import { listGenerations } from "../../src/backup/backup-generations.js";
import { coreOf } from "../../src/storage-core.js";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "strata-rv-backup-faults-"));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("file: a pre-compaction generation that cannot be made", () => {
  test("never fails a write: it is a warning, and the commits go on", async () => {
    const generations = path.join(dir, "generations");
    // The generations' directory cannot be made: a file is in the way.
    fs.writeFileSync(generations, "not a directory");
    const logger = { debug() {}, info() {}, warn: vi.fn(), error: vi.fn() };
    const storage = await createStorage({
      url: `file:${path.join(dir, "data")}`,
      entities: [Task],
      autoCreate: true,
      logger,
      file: { compactAfterBytes: 200 },
      backup: { enabled: true, dir: generations, intervalMs: 2 ** 31 - 1 },
    });
    for (let i = 0; i < 10; i++) await storage.repository(Task).save({ projectId: "p", title: `t${i} ${"x".repeat(100)}` });
    expect(await storage.repository(Task).count()).toBe(10);
    expect(logger.warn.mock.calls.some(([message]) => /backup/i.test(String(message)))).toBe(true);
    await storage.close();
  });
});

describe("a backup listener", () => {
  test("that returns a rejected promise is logged, never an unhandled rejection", async () => {
    const logger = { debug() {}, info() {}, warn() {}, error: vi.fn() };
    const unhandled = vi.fn();
    process.on("unhandledRejection", unhandled);
    try {
      const storage = await createStorage({ url: `sqlite:${path.join(dir, "app.db")}`, entities: [Task], autoCreate: true, logger, backup: { enabled: true, intervalMs: 2 ** 31 - 1 } });
      storage.on("backup", async () => {
        throw new Error("listener failed");
      });
      await coreOf(storage).backups!.create("manual");
      await vi.waitFor(() => expect(logger.error).toHaveBeenCalledWith(expect.stringMatching(/"backup" listener failed/), expect.any(Error)));
      await storage.close();
      // Give a rejection left unhandled its turn to be reported.
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).not.toHaveBeenCalled();
    } finally {
      process.off("unhandledRejection", unhandled);
    }
  });
});

describe("a pre-migration generation that cannot be made", () => {
  for (const kind of ["sqlite", "file"] as const) {
    test(`${kind}: the run does not start (README: "If it cannot be made, the run does not start")`, async () => {
      const generations = path.join(dir, "generations");
      fs.writeFileSync(generations, "not a directory");
      const applied: number[] = [];
      const migration = defineMigration({ version: 1, name: "one", up: async () => void applied.push(1) });
      const storage = await createStorage({
        url: `${kind}:${path.join(dir, kind === "sqlite" ? "app.db" : "data")}`,
        entities: [Task],
        autoCreate: true,
        migrations: [migration],
        backup: { enabled: true, dir: generations, intervalMs: 2 ** 31 - 1 },
      });
      const error = await storage.migrations.up().catch((e: unknown) => e);
      // A typed error that says what failed (the backup, not the migration) and that nothing ran.
      expect(error).toBeInstanceOf(MigrationError);
      expect((error as MigrationError).message).toMatch(/backup.*generations.*nothing was applied/is);
      expect(applied).toEqual([]);
      expect((await storage.migrations.status()).map((s) => s.state)).toEqual(["pending"]);
      await storage.close();
    });
  }
});

describe("two storages sharing one backup.dir", () => {
  test("keep counts each storage's own generations: one never prunes the other's away", async () => {
    const generations = path.join(dir, "generations");
    const open = (name: string) =>
      createStorage({ url: `sqlite:${path.join(dir, name)}`, entities: [Task], autoCreate: true, backup: { enabled: true, dir: generations, keep: 1, intervalMs: 2 ** 31 - 1 } });
    const a = await open("a.db");
    const b = await open("b.db");
    const ofA = await coreOf(a).backups!.create("manual");
    const ofB = await coreOf(b).backups!.create("manual");
    await coreOf(b).backups!.create("manual");
    const names = listGenerations(generations).map((g) => g.name);
    expect(names).toContain(ofA.name);
    expect(names).not.toContain(ofB.name);
    expect(names).toHaveLength(2);
    await a.close();
    await b.close();
  });
});

describe("close() during a backup", () => {
  for (const kind of ["sqlite", "file", "memory"] as const) {
    test(`${kind}: close waits for the backup in flight, which completes; nothing is warned`, async () => {
      const logger = { debug() {}, info() {}, warn: vi.fn(), error: vi.fn() };
      const generations = path.join(dir, "generations");
      const storage = await createStorage({
        url: kind === "memory" ? "memory:" : `${kind}:${path.join(dir, kind === "sqlite" ? "app.db" : "data")}`,
        entities: [Task],
        autoCreate: true,
        logger,
        backup: { enabled: true, dir: generations, keep: 10, intervalMs: 2 ** 31 - 1 },
      });
      await storage.repository(Task).saveMany(Array.from({ length: 500 }, (_, i) => ({ projectId: "p", title: `t${i}` })));
      const inFlight = coreOf(storage).backups!.create("manual");
      await storage.close();
      const generation = await inFlight;
      expect(listGenerations(generations).map((g) => g.name)).toContain(generation.name);
      expect(logger.warn).not.toHaveBeenCalled();
      expect(logger.error).not.toHaveBeenCalled();
    });
  }
});
