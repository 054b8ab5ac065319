/**
 * memory: `close()` makes the last generation (the data dies with the storage). A second `close()` while the
 * first is still writing it (a shutdown hook and a `finally` both closing) must not resolve before it: a
 * process that exits when it resolves would lose the generation.
 */
import "reflect-metadata";
import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { Task } from "../../entities/index.js";
import { createStorage } from "../../src/index.js";
import { listGenerations } from "../../src/backup/backup-generations.js";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "strata-close-twice-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("memory: close() called twice", () => {
  test("the second resolves only once the generation on close is complete", async () => {
    const root = path.join(dir, "generations");
    const storage = await createStorage({ url: "memory:", entities: [Task], autoCreate: true, backup: { enabled: true, dir: root, intervalMs: 2 ** 31 - 1 } });
    await storage.repository(Task).saveMany(Array.from({ length: 200 }, (_, i) => ({ projectId: "p", title: `${i}` })));
    const first = storage.close();
    await storage.close();
    expect(listGenerations(root).map((g) => g.manifest.reason)).toEqual(["close"]);
    await first;
  });
});
