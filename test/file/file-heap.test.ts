/**
 * The file backend keeps every table in the heap: a directory too large for it is a CapacityError naming
 * the file and the limit on open, not an out-of-memory crash. Run in a child with a small heap.
 */
import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { catalogText } from "../../src/backends/file/file-catalog.js";
import { FileJournal } from "../../src/backends/file/file-journal.js";
import type { StoredRow } from "../../src/backends/file/file-snapshot.js";
import { snapshotText } from "../../src/backends/file/file-snapshot.js";
import type { FixtureChild } from "../support/fixture-child.js";
import { runFixture } from "../support/fixture-child.js";

let dir: string;
const children: FixtureChild[] = [];
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "strata-file-heap-"));
});
afterEach(async () => {
  for (const child of children.splice(0)) await child.kill();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Writes a directory holding `rows` rows of a typical entity (about 214 bytes each on disk). */
function writeDirectory(rows: number): string {
  const columns = [
    { name: "id", type: "string", nullable: false, primary: true },
    { name: "name", type: "string", nullable: false },
    { name: "email", type: "string", nullable: false },
    { name: "note", type: "string", nullable: true },
    { name: "count", type: "integer", nullable: false },
    { name: "createdAt", type: "datetime", nullable: false },
    { name: "tags", type: "json", nullable: false },
  ] as const;
  function* generate(): Generator<StoredRow> {
    for (let i = 0; i < rows; i++) {
      yield {
        id: `user-${String(i).padStart(8, "0")}`,
        name: `Person number ${i}`,
        email: `person${i}@example.com`,
        note: i % 3 ? `note ${i}` : null,
        count: i * 13,
        createdAt: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
        tags: { role: i % 2 ? "admin" : "user", level: i % 10, flags: ["a", "b"] },
      };
    }
  }
  const target = path.join(dir, `rows-${rows}`);
  fs.mkdirSync(target);
  fs.writeFileSync(path.join(target, "people.table.json"), snapshotText("people", 0, generate()));
  fs.writeFileSync(path.join(target, "catalog.json"), catalogText({ format: 2, seq: 0, tables: { people: { file: "people.table.json", columns: [...columns], indexes: [] } } }));
  return target;
}

/**
 * Writes a directory holding `rows` rows of a key, a boolean and a small integer (34 bytes each on disk, but
 * about 135 of heap: the objects of a row outweigh its bytes), in the snapshot or in journal lines of 1,000 rows.
 */
function writeTinyRows(rows: number, where: "snapshot" | "journal"): string {
  const columns = [
    { name: "id", type: "integer", nullable: false, primary: true },
    { name: "f", type: "boolean", nullable: false },
    { name: "n", type: "integer", nullable: false },
  ] as const;
  const row = (i: number): StoredRow => ({ id: i, f: i % 2 === 0, n: i % 10 });
  const target = path.join(dir, `tiny-${where}-${rows}`);
  fs.mkdirSync(target);
  const all = Array.from({ length: where === "snapshot" ? rows : 0 }, (_, i) => row(i));
  fs.writeFileSync(path.join(target, "t.table.json"), snapshotText("t", 0, all));
  fs.writeFileSync(path.join(target, "catalog.json"), catalogText({ format: 2, seq: 0, tables: { t: { file: "t.table.json", columns: [...columns], indexes: [] } } }));
  if (where === "journal") {
    const journal = FileJournal.open(path.join(target, "journal.ndjson"), 0, 0, false);
    for (let i = 0; i < rows; i += 1000) void journal.append(Array.from({ length: 1000 }, (_, j) => ["t", i + j, row(i + j)] as const).map((op) => [...op]));
    journal.close();
  }
  return target;
}

async function openInSmallHeap(target: string): Promise<string[]> {
  const child = runFixture("file-open.js", [target], ["--max-old-space-size=64"]);
  children.push(child);
  await child.exited;
  return child.lines.length > 0 ? child.lines : [`exited ${child.child.exitCode ?? child.child.signalCode}: ${child.stderr().slice(0, 300)}`];
}

describe("file: tables larger than the heap", () => {
  test("opening a directory that would not fit in a 64 MB heap is a CapacityError naming the file and the limit", async () => {
    const target = writeDirectory(100_000);
    const [status, message] = await openInSmallHeap(target);
    expect(status).toBe(`error STRATA_CAPACITY ${path.join(target, "people.table.json")}`);
    expect(message).toMatch(/does not fit in the heap.*heap limit of \d+ MB.*--max-old-space-size/);
  });

  // Sizes where 3 bytes of heap per byte of file alone would have passed the check, then crashed.
  test.each([
    ["snapshot", 400_000],
    ["journal", 340_000],
  ] as const)("so is one of many tiny rows (booleans and small integers) in the %s, where bytes alone underestimate the heap", async (where, rows) => {
    const target = writeTinyRows(rows, where);
    const [status] = await openInSmallHeap(target);
    expect(status).toBe(`error STRATA_CAPACITY ${path.join(target, where === "snapshot" ? "t.table.json" : "journal.ndjson")}`);
    expect(await openInSmallHeap(writeTinyRows(100_000, where))).toEqual(["opened 100000"]);
  });

  test("a directory that fits opens in the same heap", async () => {
    const target = writeDirectory(10_000);
    expect(await openInSmallHeap(target)).toEqual(["opened 10000"]);
  });
});
