/**
 * The file backend's pre-compaction generations: told by the `backup` event like every other generation,
 * and counted with them by `keep` (one count per storage, whatever made the generation).
 */
import "reflect-metadata";
import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { Task } from "../../entities/index.js";
import { createStorage } from "../../src/index.js";
import type { BackupEvent } from "../../src/index.js";
import { listGenerations } from "../../src/backup/backup-generations.js";
import { coreOf } from "../../src/storage-core.js";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "strata-compaction-backup-"));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("file: pre-compaction generations", () => {
  test("each is told by a `backup` event with reason compaction, its size and duration", async () => {
    const generations = path.join(dir, "generations");
    const storage = await createStorage({
      url: `file:${path.join(dir, "data")}`,
      entities: [Task],
      autoCreate: true,
      file: { compactAfterBytes: 200 },
      backup: { enabled: true, dir: generations, keep: 100, intervalMs: 2 ** 31 - 1 },
    });
    const events: BackupEvent[] = [];
    storage.on("backup", (event) => void events.push(event));
    for (let i = 0; i < 6; i++) await storage.repository(Task).save({ projectId: "p", title: `t${i} ${"x".repeat(100)}` });
    const compactions = events.filter((e) => e.reason === "compaction");
    expect(compactions.length).toBeGreaterThan(0);
    const listed = new Map(listGenerations(generations).map((g) => [g.name, g]));
    expect(listed.size).toBe(events.length);
    for (const event of compactions) {
      const generation = listed.get(event.generation);
      expect(generation?.manifest.reason).toBe("compaction");
      expect(event.path).toBe(generation?.path);
      expect(event.sizeBytes).toBe(generation?.manifest.sizeBytes);
      expect(event.sizeBytes).toBeGreaterThan(0);
      expect(event.durationMs).toBeGreaterThanOrEqual(0);
    }
    await storage.close();
  });

  test("keep counts them with the storage's other generations: the newest `keep` remain, whatever made them", async () => {
    const generations = path.join(dir, "generations");
    const storage = await createStorage({
      url: `file:${path.join(dir, "data")}`,
      entities: [Task],
      autoCreate: true,
      file: { compactAfterBytes: 200 },
      backup: { enabled: true, dir: generations, keep: 3, intervalMs: 2 ** 31 - 1 },
    });
    const events: BackupEvent[] = [];
    storage.on("backup", (event) => void events.push(event));
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 4; i++) await storage.repository(Task).save({ projectId: "p", title: `r${round} t${i} ${"x".repeat(100)}` });
      await coreOf(storage).backups!.create("manual");
    }
    const reasons = new Set(events.map((e) => e.reason));
    expect([...reasons].sort()).toEqual(["compaction", "manual"]);
    // The newest three of every generation told, in order: compaction and manual ones together.
    expect(listGenerations(generations).map((g) => g.name)).toEqual(events.slice(-3).map((e) => e.generation));
    await storage.close();
  });
});
