/**
 * A logger that throws (a closed log sink) while a backup's failure is being told: the backup's failure stays
 * a warning. It must neither become an unhandled rejection (which ends a Node process) nor fail `close()`.
 */
import "reflect-metadata";
import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { Task } from "../../entities/index.js";
import { createStorage, defineMigration } from "../../src/index.js";
import type { Logger } from "../../src/index.js";

let dir: string;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => void unhandled.push(reason);
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "strata-backup-logger-"));
  unhandled.length = 0;
  process.on("unhandledRejection", onUnhandled);
});
afterEach(() => {
  process.off("unhandledRejection", onUnhandled);
  fs.rmSync(dir, { recursive: true, force: true });
});

function throwingLogger(): Logger & { warn: ReturnType<typeof vi.fn> } {
  const fail = (): never => {
    throw new Error("log sink closed");
  };
  return { debug: fail, info: fail, error: fail, warn: vi.fn(fail) };
}

/** A `backup.dir` no generation can be written to: a regular file. */
function unwritableDir(): string {
  const file = path.join(dir, "not-a-directory");
  fs.writeFileSync(file, "");
  return file;
}

describe("sqlite: a scheduled backup that fails, told to a logger that throws", () => {
  test("is no unhandled rejection, and the schedule goes on", async () => {
    const logger = throwingLogger();
    const storage = await createStorage({ url: `sqlite:${path.join(dir, "app.db")}`, entities: [Task], autoCreate: true, logger, backup: { enabled: true, dir: unwritableDir(), intervalMs: 10 } });
    try {
      await vi.waitFor(() => expect(logger.warn.mock.calls.length).toBeGreaterThanOrEqual(2), { timeout: 10_000, interval: 10 });
      // Rejections are reported after the microtask queue drains: give them a turn.
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      await storage.close();
    }
  });
});

describe("memory: the backup on close that fails, told to a logger that throws", () => {
  test("close() resolves", async () => {
    const storage = await createStorage({ url: "memory:", entities: [Task], autoCreate: true, logger: throwingLogger(), backup: { enabled: true, dir: unwritableDir(), intervalMs: 2 ** 31 - 1 } });
    await expect(storage.close()).resolves.toBeUndefined();
  });
});

describe("file: the backup before a compaction that fails, told to a logger that throws", () => {
  test("never fails the commit that compacts", async () => {
    const storage = await createStorage({
      url: `file:${path.join(dir, "data")}`,
      entities: [Task],
      autoCreate: true,
      logger: throwingLogger(),
      file: { compactAfterBytes: 200 },
      backup: { enabled: true, dir: unwritableDir(), intervalMs: 2 ** 31 - 1 },
    });
    try {
      // Each save's journal line passes 200 bytes: every commit compacts, and backs up first.
      for (let i = 0; i < 3; i++) await expect(storage.repository(Task).save({ projectId: "p", title: `${i} ${"x".repeat(300)}` })).resolves.toBeDefined();
      expect(await storage.repository(Task).count()).toBe(3);
    } finally {
      await storage.close().catch(() => {});
    }
  });
});

describe("sqlite: a `backup` listener that throws, and a logger that throws while it is told", () => {
  test("the migration run goes on: its generation was made", async () => {
    const logger = throwingLogger();
    const touch = defineMigration({ version: 1, name: "touch-tasks", up: async (m) => void (await m.updateRows("tasks", (row) => row)), down: async () => {} });
    const storage = await createStorage({ url: `sqlite:${path.join(dir, "app.db")}`, entities: [Task], autoCreate: true, logger, migrations: [touch], backup: { enabled: true, intervalMs: 2 ** 31 - 1 } });
    try {
      storage.on("backup", () => {
        throw new Error("listener failed");
      });
      storage.on("backup", async () => Promise.reject(new Error("async listener failed")));
      await storage.migrations.up();
      expect((await storage.migrations.status()).map((s) => s.state)).toEqual(["applied"]);
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      await storage.close();
    }
  });
});
