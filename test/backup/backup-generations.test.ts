import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { CorruptionError } from "../../src/index.js";
import Database from "better-sqlite3";
import { createGeneration, listGenerations, pruneGenerations, verifyGeneration } from "../../src/backup/backup-generations.js";
import { verifySqliteCopy } from "../../src/backends/sqlite/sqlite-backup-layout.js";

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "strata-generations-"));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

/** A generation whose data is a directory holding `text` in `a.txt` (and a nested file). */
function make(text: string, keep?: number) {
  return createGeneration(root, {
    reason: "manual",
    backend: "file",
    dataName: "data",
    ...(keep !== undefined ? { keep } : {}),
    write: (dataPath) => {
      fs.mkdirSync(path.join(dataPath, "nested"), { recursive: true });
      fs.writeFileSync(path.join(dataPath, "a.txt"), text);
      fs.writeFileSync(path.join(dataPath, "nested", "b.txt"), `${text}!`);
    },
  });
}

describe("backup generations", () => {
  test("names sort oldest first, and the manifest lists every file with its size", async () => {
    const made = [await make("one"), await make("two"), await make("three")];
    const listed = listGenerations(root);
    expect(listed.map((g) => g.name)).toEqual(made.map((g) => g.name));
    expect([...made.map((g) => g.name)].sort()).toEqual(made.map((g) => g.name));
    expect(listed[1]!.manifest.files.map((f) => [f.path, f.size])).toEqual([["a.txt", 3], ["nested/b.txt", 4]]);
    expect(listed[1]!.manifest.sizeBytes).toBe(7);
    expect(fs.readFileSync(path.join(listed[1]!.dataPath, "a.txt"), "utf8")).toBe("two");
  });

  test("keep prunes the oldest first", async () => {
    const made = [];
    for (const text of ["g1", "g2", "g3", "g4"]) made.push(await make(text, 2));
    expect(listGenerations(root).map((g) => g.name)).toEqual([made[2]!.name, made[3]!.name]);
    expect(pruneGenerations(root, 1)).toEqual([made[2]!.name]);
    expect(listGenerations(root).map((g) => fs.readFileSync(path.join(g.dataPath, "a.txt"), "utf8"))).toEqual(["g4"]);
  });

  test("a write that fails leaves no generation and the earlier ones intact", async () => {
    const first = await make("first");
    await expect(
      createGeneration(root, { reason: "manual", backend: "file", dataName: "data", write: () => { throw new Error("disk on fire"); } }),
    ).rejects.toThrow("disk on fire");
    await expect(
      createGeneration(root, { reason: "manual", backend: "file", dataName: "data", write: (p) => fs.mkdirSync(p), verify: () => { throw new CorruptionError("bad copy"); } }),
    ).rejects.toThrow("bad copy");
    expect(listGenerations(root).map((g) => g.name)).toEqual([first.name]);
    expect(fs.readdirSync(root)).toEqual([first.name]);
  });

  test("leftovers of a dead process are never listed and are removed; those of a live one are left alone", async () => {
    const first = await make("first");
    // A process that died mid-backup (pid 2^22 + 1 is above Linux's pid_max default, so never alive)...
    const dead = path.join(root, "generation-20260101T000000000Z-000009.tmp-4194305");
    fs.mkdirSync(path.join(dead, "data"), { recursive: true });
    fs.writeFileSync(path.join(dead, "manifest.json"), "{}");
    // ...one that died while pruning, and one being written right now by this (live) process.
    const deleting = path.join(root, "generation-20260101T000000000Z-000008.deleting-4194305");
    fs.mkdirSync(deleting);
    const live = path.join(root, `generation-20260101T000000000Z-000010.tmp-${process.pid}`);
    fs.mkdirSync(live);
    // A directory named like a generation without a manifest is not one.
    fs.mkdirSync(path.join(root, "generation-20260101T000000000Z-000011"));
    expect(listGenerations(root).map((g) => g.name)).toEqual([first.name]);
    expect(fs.existsSync(dead)).toBe(false);
    expect(fs.existsSync(deleting)).toBe(false);
    expect(fs.existsSync(live)).toBe(true);
    // The next generation's sequence goes past every name seen, complete or not.
    expect((await make("next")).name).toMatch(/-000012$/);
  });

  test("verify refuses a generation whose files changed, went missing or were added", async () => {
    const generation = await make("abc");
    await verifyGeneration(generation);
    fs.writeFileSync(path.join(generation.dataPath, "a.txt"), "abd");
    await expect(verifyGeneration(generation)).rejects.toBeInstanceOf(CorruptionError);
    fs.writeFileSync(path.join(generation.dataPath, "a.txt"), "abc");
    fs.writeFileSync(path.join(generation.dataPath, "extra"), "");
    await expect(verifyGeneration(generation)).rejects.toThrow(/does not list: extra/);
    fs.rmSync(path.join(generation.dataPath, "extra"));
    fs.rmSync(path.join(generation.dataPath, "nested", "b.txt"));
    await expect(verifyGeneration(generation)).rejects.toThrow(/has lost/);
  });

  test("a SQLite copy is checked with PRAGMA integrity_check: a damaged one is a CorruptionError and is never sealed", async () => {
    const file = path.join(root, "source.db");
    const db = new Database(file);
    db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT); CREATE INDEX t_body ON t (body)");
    const insert = db.prepare("INSERT INTO t (body) VALUES (?)");
    db.transaction(() => {
      for (let i = 0; i < 2000; i++) insert.run(`row ${i} ${"y".repeat(100)}`);
    })();
    db.close();
    await verifySqliteCopy(file);
    // Overwrite a page in the middle of the file: the b-tree no longer adds up.
    const fd = fs.openSync(file, "r+");
    fs.writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, 4096 * 10);
    fs.closeSync(fd);
    await expect(verifySqliteCopy(file)).rejects.toBeInstanceOf(CorruptionError);
    await expect(
      createGeneration(root, { reason: "manual", backend: "sqlite", dataName: "data.db", write: (p) => fs.copyFileSync(file, p), verify: verifySqliteCopy }),
    ).rejects.toBeInstanceOf(CorruptionError);
    expect(listGenerations(root)).toEqual([]);
  });
});
