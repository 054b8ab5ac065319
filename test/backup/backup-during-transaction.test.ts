/**
 * A backup that starts while a transaction of the same storage is open (an async transaction between two
 * statements, the common case in a busy application): the copy waits for it, or goes on beside it, and holds
 * the committed data only. It must never report a backup that wrote nothing.
 */
import "reflect-metadata";
import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { Task } from "../../entities/index.js";
import { createStorage } from "../../src/index.js";
import type { Storage } from "../../src/index.js";
import { coreOf } from "../../src/storage-core.js";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "strata-backup-in-tx-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

type Kind = "sqlite" | "file" | "memory";
const urlOf = (kind: Kind) => (kind === "sqlite" ? `sqlite:${path.join(dir, "app.db")}` : kind === "file" ? `file:${path.join(dir, "data")}` : "memory:");
const copyUrlOf = (kind: Kind, target: string) => (kind === "sqlite" ? `sqlite:${target}` : `file:${target}`);

async function titlesAt(url: string): Promise<string[]> {
  const storage = await createStorage({ url, entities: [Task] });
  try {
    return (await storage.repository(Task).findAll({ orderBy: { title: "asc" } })).map((t) => t.title);
  } finally {
    await storage.close();
  }
}

/** True once a copy has begun under `root`: `target` itself, or a generation's data being written. */
function copyBegun(root: string, target: string): boolean {
  if (fs.existsSync(target)) return true;
  const entries = fs.existsSync(root) ? fs.readdirSync(root) : [];
  return entries.some((entry) => entry.includes(".tmp-") && fs.readdirSync(path.join(root, entry)).length > 0);
}

/**
 * Runs `during` while a transaction that saved "uncommitted" is open, then ends the transaction by `end`.
 * The transaction stays open until the copy has begun (SQLite copies beside writers) or for 200 ms (the
 * file and memory backends' copies wait for the writer), plus a few turns for the copy's first steps.
 */
async function withOpenTransaction<T>(storage: Storage, end: "commit" | "rollback", watch: { root: string; target: string }, during: () => Promise<T>): Promise<T> {
  let started!: Promise<T>;
  await storage
    .transaction(async () => {
      await storage.repository(Task).save({ projectId: "p", title: "uncommitted" });
      started = during();
      started.catch(() => {});
      for (let waited = 0; waited < 200 && !copyBegun(watch.root, watch.target); waited += 5) await new Promise((resolve) => setTimeout(resolve, 5));
      for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
      if (end === "rollback") throw new Error("rolled back on purpose");
    })
    .catch((error: unknown) => {
      if (!/on purpose/.test(String(error))) throw error;
    });
  return started;
}

for (const kind of ["sqlite", "file", "memory"] as const) {
  describe(`${kind}: a backup started inside an open transaction`, () => {
    test("storage.backup writes the committed data, never nothing", async () => {
      const storage = await createStorage({ url: urlOf(kind), entities: [Task], autoCreate: true });
      try {
        await storage.repository(Task).save({ projectId: "p", title: "committed" });
        const target = path.join(dir, kind === "sqlite" ? "copy.db" : "copy");
        await withOpenTransaction(storage, "rollback", { root: dir, target }, () => storage.backup(target));
        expect(fs.existsSync(target)).toBe(true);
        expect(await titlesAt(copyUrlOf(kind, target))).toEqual(["committed"]);
      } finally {
        await storage.close();
      }
    });

    test("a generation made meanwhile is complete, and holds no uncommitted row", async () => {
      const root = path.join(dir, "generations");
      const storage = await createStorage({ url: urlOf(kind), entities: [Task], autoCreate: true, backup: { enabled: true, dir: root, intervalMs: 2 ** 31 - 1 } });
      try {
        await storage.repository(Task).save({ projectId: "p", title: "committed" });
        const generation = await withOpenTransaction(storage, "rollback", { root, target: root }, () => coreOf(storage).backups!.create("manual"));
        const copy = path.join(dir, "restored-copy");
        fs.cpSync(generation.dataPath, copy, { recursive: true });
        expect(await titlesAt(copyUrlOf(kind, copy))).toEqual(["committed"]);
      } finally {
        await storage.close();
      }
    });
  });
}
