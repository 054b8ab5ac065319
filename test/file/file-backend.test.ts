import "reflect-metadata";
import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn, VersionColumn } from "typeorm";
import { CorruptionError, ConfigError, SchemaError, StorageError, createStorage } from "../../src/index.js";
import type { Storage, StorageConfig } from "../../src/index.js";
import { tableFileName } from "../../src/backends/file/table-file-name.js";
import { sealJson } from "../../src/backends/file/file-snapshot.js";
import { listGenerations } from "../../src/backup/backup-generations.js";

@Entity("notes")
class Note {
  @PrimaryGeneratedColumn("increment") id: number;
  @Column({ type: "string" }) title: string;
  @Column({ type: "string", nullable: true }) body: string | null;
  @Column({ type: "integer", nullable: true }) rank: number | null;
  @Column({ type: "number", nullable: true }) score: number | null;
  @Column({ type: "boolean" }) done: boolean;
  @Column({ type: "datetime", nullable: true }) due: Date | null;
  @Column({ type: "simple-json", nullable: true }) meta: unknown;
  @VersionColumn() version: number;
}

@Entity("odd/../Table name ü")
class OddTable {
  @PrimaryColumn({ type: "string" }) id: string;
  @Index({ unique: true })
  @Column({ type: "string" })
  code: string;
}

let dir: string;
let open: Storage[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "strata-file-"));
  open = [];
});
afterEach(async () => {
  for (const s of open) await s.close();
  vi.restoreAllMocks();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function openStorage(extra: Partial<StorageConfig> = {}, at = dir): Promise<Storage> {
  const storage = await createStorage({ url: `file:${at}`, entities: [Note, OddTable], autoCreate: true, timeoutMs: 500, ...extra });
  open.push(storage);
  return storage;
}

async function closeStorage(storage: Storage): Promise<void> {
  await storage.close();
  open = open.filter((s) => s !== storage);
}

const journalOf = (at = dir) => path.join(at, "journal.ndjson");

/** A sealed file's text edited by hand, with its "crc" set to match (as the CorruptionError of an edit says to). */
function resealed(text: string): string {
  return sealJson(text.slice(0, text.lastIndexOf(',\n  "crc": ')));
}

/** The directory's files as a kill would leave them (the lock aside). */
function filesNow(): Map<string, Buffer> {
  return new Map(fs.readdirSync(dir).filter((f) => f !== "strata.lock").map((f) => [f, fs.readFileSync(path.join(dir, f))]));
}

/** Puts the directory back to `files`, as if the process had been killed when they were taken. */
function restore(files: Map<string, Buffer>): void {
  for (const f of fs.readdirSync(dir)) fs.rmSync(path.join(dir, f), { recursive: true, force: true });
  for (const [f, data] of files) fs.writeFileSync(path.join(dir, f), data);
}

describe("file: layout and round trip", () => {
  test("a reopened directory shows every value exactly as saved", async () => {
    const s1 = await openStorage();
    const notes = s1.repository(Note);
    const due = new Date("2026-03-04T05:06:07.089Z");
    const a = await notes.save({ title: "", body: null, rank: 7, score: 0.1 + 0.2, done: false, due, meta: { deep: [1, "two", { three: null }] } } as Note);
    const b = await notes.save({ title: "b", body: "", rank: null, score: null, done: true, due: null, meta: null } as Note);
    await closeStorage(s1);

    const s2 = await openStorage({ autoCreate: false });
    const found = await s2.repository(Note).findAll({ orderBy: { id: "asc" } });
    expect(found).toEqual([a, b]);
    expect(found[0]!.due).toBeInstanceOf(Date);
    expect(found[0]!.due!.getTime()).toBe(due.getTime());
    expect(found[0]!.title).toBe("");
    expect(found[1]!.body).toBe("");
    expect(found[1]!.rank).toBeNull();
    expect(Number.isInteger(found[0]!.rank)).toBe(true);
  });

  test("the directory holds a catalog, one readable snapshot per table and a journal", async () => {
    const s = await openStorage();
    await s.repository(Note).save({ title: "hello", body: null, rank: 1, score: 1.5, done: false, due: new Date(0), meta: ["x"] } as Note);
    await closeStorage(s);
    const files = fs.readdirSync(dir).sort();
    expect(files).toEqual(["catalog.json", "journal.ndjson", tableFileName("notes"), tableFileName("odd/../Table name ü")].sort());
    const catalog = JSON.parse(fs.readFileSync(path.join(dir, "catalog.json"), "utf8"));
    expect(catalog.tables.notes.columns.find((c: { name: string }) => c.name === "due")).toMatchObject({ type: "datetime", nullable: true });
    const snapshot = fs.readFileSync(path.join(dir, "notes.table.json"), "utf8");
    expect(snapshot).toContain('"due":"1970-01-01T00:00:00.000Z"');
    expect(snapshot.split("\n").length).toBeGreaterThan(3);
    expect(JSON.parse(snapshot).rows).toHaveLength(1);
  });

  test("a commit is one journal line with a checksum, written before the commit returns", async () => {
    const s = await openStorage();
    const notes = s.repository(Note);
    await s.transaction(async () => {
      await notes.save({ title: "one", body: null, rank: null, score: null, done: false, due: null, meta: null } as Note);
      await notes.save({ title: "two", body: null, rank: null, score: null, done: false, due: null, meta: null } as Note);
    });
    const lines = fs.readFileSync(journalOf(), "utf8").trim().split("\n");
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]!);
    expect(entry.crc).toMatch(/^[0-9a-f]{8}$/);
    expect(entry.ops).toHaveLength(2);
  });

  test("a table missing from the catalog is a SchemaError with autoCreate off", async () => {
    const s = await openStorage({ autoCreate: false });
    await expect(s.repository(Note).findAll()).rejects.toBeInstanceOf(SchemaError);
    expect(fs.existsSync(path.join(dir, "notes.table.json"))).toBe(false);
  });
});

describe("file: path safety", () => {
  test("ids such as ../../etc/passwd are data, never paths", async () => {
    const s = await openStorage();
    const odd = s.repository(OddTable);
    const ids = ["../../etc/passwd", "/abs/path", "..", "a\\b", "CON"];
    for (const id of ids) await odd.save({ id, code: `c-${id}` });
    // NUL is refused on every backend (PostgreSQL cannot store it), so it never reaches a file either.
    await expect(odd.save({ id: "nul\u0000byte", code: "c" })).rejects.toMatchObject({ code: "STRATA_VALIDATION", field: "id" });
    await closeStorage(s);
    const s2 = await openStorage();
    for (const id of ids) expect(await s2.repository(OddTable).findById(id)).toEqual({ id, code: `c-${id}` });
    const everywhere = fs.readdirSync(dir, { recursive: true }) as string[];
    expect(everywhere.every((f) => !f.includes("passwd") && !f.includes(".."))).toBe(true);
    expect(fs.existsSync(path.join(dir, "..", "..", "etc", "passwd.table.json"))).toBe(false);
  });

  test("odd table names map to distinct file names inside the directory", () => {
    const names = ["tasks", "Tasks", "../x", "a/b", "a%2Fb", "tâche", "a.b", "", "x".repeat(400), `${"x".repeat(399)}y`];
    const files = names.map((name) => tableFileName(name));
    expect(new Set(files).size).toBe(names.length);
    for (const f of files) {
      expect(f).toMatch(/^[a-z0-9_%A-F~-]*\.table\.json$/);
      expect(f.length).toBeLessThan(255);
      expect(path.basename(f)).toBe(f);
    }
  });
});

describe("file: recovery", () => {
  async function writeThree(): Promise<void> {
    const s = await openStorage();
    const notes = s.repository(Note);
    for (const title of ["a", "b", "c"]) await notes.save({ title, body: null, rank: null, score: null, done: false, due: null, meta: null } as Note);
    // Kill-like end: the files as they were before the compaction a close does.
    const killed = filesNow();
    await closeStorage(s);
    restore(killed);
  }

  test("a torn last journal line is discarded and the journal cut back to the last good line", async () => {
    await writeThree();
    const good = fs.readFileSync(journalOf());
    fs.appendFileSync(journalOf(), '{"seq":4,"crc":"0000');
    const s = await openStorage();
    expect((await s.repository(Note).findAll()).map((n) => n.title)).toEqual(["a", "b", "c"]);
    expect(fs.readFileSync(journalOf())).toEqual(good);
    await s.repository(Note).save({ title: "d", body: null, rank: null, score: null, done: false, due: null, meta: null } as Note);
    expect(await s.repository(Note).count()).toBe(4);
  });

  test("a complete last line failing its checksum is a CorruptionError naming file and line, not a torn tail", async () => {
    await writeThree();
    const lines = fs.readFileSync(journalOf(), "utf8").split("\n");
    lines[2] = lines[2]!.replace('"title":"c"', '"title":"C"');
    const damaged = lines.join("\n");
    fs.writeFileSync(journalOf(), damaged);
    const error = await openStorage().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptionError);
    expect((error as CorruptionError).file).toBe(journalOf());
    expect((error as Error).message).toContain(`${journalOf()}:3`);
    expect(fs.readFileSync(journalOf(), "utf8")).toBe(damaged);
  });

  test("a whole last line whose newline was overwritten is a CorruptionError, not a torn tail", async () => {
    await writeThree();
    const good = fs.readFileSync(journalOf());
    good[good.length - 1] = 0x20;
    fs.writeFileSync(journalOf(), good);
    const error = await openStorage().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptionError);
    expect((error as Error).message).toContain(`${journalOf()}:3`);
  });

  test("a corrupted middle line is a CorruptionError naming file and line, and nothing is overwritten", async () => {
    await writeThree();
    const lines = fs.readFileSync(journalOf(), "utf8").split("\n");
    lines[1] = lines[1]!.replace('"title":"b"', '"title":"B"');
    fs.writeFileSync(journalOf(), lines.join("\n"));
    const before = fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f), "utf8")]);
    const error = await openStorage().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptionError);
    expect((error as CorruptionError).file).toBe(journalOf());
    expect((error as Error).message).toContain(`${journalOf()}:2`);
    expect(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f), "utf8")])).toEqual(before);
  });

  test("an unparsable snapshot is a CorruptionError naming the file and line", async () => {
    const s = await openStorage();
    await s.repository(Note).save({ title: "a", body: null, rank: null, score: null, done: false, due: null, meta: null } as Note);
    await closeStorage(s);
    const file = path.join(dir, "notes.table.json");
    // Edited by hand, with the checksum updated as the CorruptionError of an edit says to.
    const text = resealed(fs.readFileSync(file, "utf8").replace('"title":"a"', '"title":"a",,'));
    fs.writeFileSync(file, text);
    const error = await openStorage().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptionError);
    expect((error as CorruptionError).file).toBe(file);
    expect((error as Error).message).toContain(`${file}:6`);
    expect(fs.readFileSync(file, "utf8")).toBe(text);
    // The lock was released: once repaired, the directory opens.
    fs.writeFileSync(file, resealed(text.replace('"a",,', '"a"')));
    expect(await (await openStorage()).repository(Note).count()).toBe(1);
  });

  test("a snapshot value of the wrong type is a CorruptionError naming the row and column", async () => {
    const s = await openStorage();
    await s.repository(Note).save({ title: "a", body: null, rank: 3, score: null, done: false, due: null, meta: null } as Note);
    await closeStorage(s);
    const file = path.join(dir, "notes.table.json");
    fs.writeFileSync(file, resealed(fs.readFileSync(file, "utf8").replace('"rank":3', '"rank":"3"')));
    await expect(openStorage()).rejects.toThrow(/row 1 of table "notes", column "rank": expected an integer/);
  });

  test("a compaction interrupted after renaming a snapshot replays only the newer lines", async () => {
    const s = await openStorage();
    const notes = s.repository(Note);
    const odd = s.repository(OddTable);
    await notes.save({ title: "a", body: null, rank: null, score: null, done: false, due: null, meta: null } as Note);
    await odd.save({ id: "x", code: "1" });
    await closeStorage(s); // compacts: snapshots at seq 2, journal empty
    const s2 = await openStorage();
    await s2.repository(Note).update(1, { title: "a2" });
    await s2.repository(OddTable).save({ id: "y", code: "2" });
    await s2.repository(Note).save({ title: "b", body: null, rank: null, score: null, done: false, due: null, meta: null } as Note);
    const before = filesNow();
    await closeStorage(s2); // compacts again
    // A crash mid-compaction: the notes snapshot already renamed, the other table's, the catalog and the journal from before.
    const notesFile = tableFileName("notes");
    const mid = new Map(before).set(notesFile, fs.readFileSync(path.join(dir, notesFile)));
    expect(mid.get(notesFile)!.toString()).toContain('"a2"');
    expect(mid.get(tableFileName("odd/../Table name ü"))!.toString()).not.toContain('"y"');
    restore(mid);
    const s3 = await openStorage();
    expect((await s3.repository(Note).findAll()).map((n) => [n.title, n.version])).toEqual([["a2", 2], ["b", 1]]);
    expect((await s3.repository(OddTable).findAll()).map((o) => ({ ...o }))).toEqual([{ id: "x", code: "1" }, { id: "y", code: "2" }]);
  });
});

describe("file: checksums and a missing catalog", () => {
  const make = (title: string, rank: number | null = null) => ({ title, body: null, rank, score: null, done: false, due: null, meta: null }) as Note;
  const notesFile = () => path.join(dir, tableFileName("notes"));

  async function writeNotes(...titles: string[]): Promise<void> {
    const s = await openStorage();
    for (const [i, title] of titles.entries()) await s.repository(Note).save(make(title, i));
    await closeStorage(s);
  }

  test("a snapshot whose id was changed to another row's id is a CorruptionError naming the file; nothing is overwritten", async () => {
    await writeNotes("a", "b");
    const text = fs.readFileSync(notesFile(), "utf8");
    const changed = text.replace('{"id":2,', '{"id":1,');
    expect(changed).not.toBe(text);
    fs.writeFileSync(notesFile(), changed);
    const error = await openStorage().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptionError);
    expect((error as CorruptionError).file).toBe(notesFile());
    expect((error as Error).message).toMatch(/fails its checksum/);
    expect(fs.readFileSync(notesFile(), "utf8")).toBe(changed);
  });

  test("an edited value in a snapshot is a CorruptionError, and the message gives the checksum the content has", async () => {
    await writeNotes("a", "b");
    const changed = fs.readFileSync(notesFile(), "utf8").replace('"title":"b"', '"title":"c"');
    fs.writeFileSync(notesFile(), changed);
    const error = (await openStorage().catch((e: unknown) => e)) as CorruptionError;
    expect(error).toBeInstanceOf(CorruptionError);
    expect(error.message).toContain(resealed(changed).match(/"crc": "([0-9a-f]{8})"/)![1]);
  });

  test("two rows with one primary key (a file edited and resealed, or written by v0.1) are a CorruptionError naming the row", async () => {
    await writeNotes("a", "b");
    fs.writeFileSync(notesFile(), resealed(fs.readFileSync(notesFile(), "utf8").replace('{"id":2,', '{"id":1,')));
    const error = (await openStorage().catch((e: unknown) => e)) as CorruptionError;
    expect(error).toBeInstanceOf(CorruptionError);
    expect(error.message).toContain(`${notesFile()}: row 2 of table "notes" repeats the primary key 1`);
  });

  test("a row member that is no column (a column name mistyped in a resealed edit, or flipped in a v0.1 file) is a CorruptionError naming it, not a value silently dropped", async () => {
    await writeNotes("a", "b");
    const edited = resealed(fs.readFileSync(notesFile(), "utf8").replace('"body":null', '"bdoy":"fixed by hand"'));
    fs.writeFileSync(notesFile(), edited);
    const error = (await openStorage().catch((e: unknown) => e)) as CorruptionError;
    expect(error).toBeInstanceOf(CorruptionError);
    expect(error.message).toContain(`${notesFile()}: row 1 of table "notes" has the member "bdoy", which is no column of the table`);
    expect(error.table).toBe("notes");
    expect(fs.readFileSync(notesFile(), "utf8")).toBe(edited);
  });

  test("a row whose members a resealed edit reordered or left out (a nullable one) loads as its columns say, in the order Strata writes them", async () => {
    await writeNotes("a", "b");
    const text = fs.readFileSync(notesFile(), "utf8");
    // The order Strata writes (the key first, then the columns): what an entity's properties follow.
    const order = Object.keys((JSON.parse(text) as { rows: object[] }).rows[0]!);
    const edited = resealed(text.replace('"title":"a","body":null', '"body":"by hand","title":"a"').replace('"title":"b","body":null,', '"title":"b",'));
    expect(edited).toContain('"body":"by hand","title":"a","rank":0');
    expect(edited).toContain('"title":"b","rank":1');
    fs.writeFileSync(notesFile(), edited);
    const notes = await (await openStorage()).repository(Note).findAll();
    expect(notes.map((n) => Object.keys(n))).toEqual([order, order]);
    expect(notes.map((n) => ({ ...n }))).toEqual([
      { id: 1, title: "a", body: "by hand", rank: 0, score: null, done: false, due: null, meta: null, version: 1 },
      { id: 2, title: "b", body: null, rank: 1, score: null, done: false, due: null, meta: null, version: 1 },
    ]);
  });

  test("rows sharing string values load with each value right (a load holds a repeated value once)", async () => {
    const s = await openStorage();
    // A thousand rows of three repeated titles and distinct bodies: the title column is pooled, the body column is not.
    await s.repository(Note).saveMany(Array.from({ length: 3000 }, (_, i) => ({ ...make(`status ${["open", "closed", "parked"][i % 3]!}`, i), body: `body ${i}` })));
    await closeStorage(s);
    const notes = await (await openStorage()).repository(Note).findAll({ orderBy: { rank: "asc" } });
    expect(notes).toHaveLength(3000);
    notes.forEach((n, i) => {
      expect(n.title).toBe(`status ${["open", "closed", "parked"][i % 3]!}`);
      expect(n.body).toBe(`body ${i}`);
    });
  });

  test("a flipped column type or nullable flag in the catalog is a CorruptionError", async () => {
    await writeNotes("a");
    const catalog = path.join(dir, "catalog.json");
    const text = fs.readFileSync(catalog, "utf8");
    for (const [from, to] of [['"type": "integer"', '"type": "number"'], ['"nullable": true', '"nullable": false']] as const) {
      expect(text).toContain(from);
      fs.writeFileSync(catalog, text.replace(from, to));
      const error = (await openStorage().catch((e: unknown) => e)) as CorruptionError;
      expect(error).toBeInstanceOf(CorruptionError);
      expect(error.file).toBe(catalog);
    }
    // A sealed catalog passed off as v0.1's format 1 is refused too.
    fs.writeFileSync(catalog, resealed(text).replace('"format": 2', '"format": 1'));
    await expect(openStorage()).rejects.toBeInstanceOf(CorruptionError);
    fs.writeFileSync(catalog, text);
    expect(await (await openStorage()).repository(Note).count()).toBe(1);
  });

  test("a directory written by v0.1 (no checksums) opens, and its next compaction writes the sealed format", async () => {
    const v01Catalog = {
      format: 1,
      seq: 1,
      tables: {
        notes: {
          file: "notes.table.json",
          columns: [
            { name: "id", type: "integer", nullable: false, primary: true, generated: "increment" },
            { name: "title", type: "string", nullable: false },
            { name: "body", type: "string", nullable: true },
            { name: "rank", type: "integer", nullable: true },
            { name: "score", type: "number", nullable: true },
            { name: "done", type: "boolean", nullable: false },
            { name: "due", type: "datetime", nullable: true },
            { name: "meta", type: "json", nullable: true },
            { name: "version", type: "integer", nullable: false, role: "version" },
          ],
          indexes: [],
        },
      },
    };
    fs.writeFileSync(path.join(dir, "catalog.json"), `${JSON.stringify(v01Catalog, null, 2)}\n`);
    fs.writeFileSync(
      notesFile(),
      '{\n  "table": "notes",\n  "seq": 1,\n  "rows": [\n    {"id":1,"title":"old","body":null,"rank":1,"score":null,"done":false,"due":"2020-01-01T00:00:00.000Z","meta":{"k":[1]},"version":1}\n  ]\n}\n',
    );
    const s = await openStorage();
    const notes = s.repository(Note);
    expect(await notes.findById(1)).toMatchObject({ title: "old", due: new Date("2020-01-01T00:00:00.000Z"), meta: { k: [1] } });
    await notes.save(make("new"));
    await closeStorage(s);
    for (const file of [path.join(dir, "catalog.json"), notesFile(), path.join(dir, tableFileName("odd/../Table name ü"))]) {
      const written = JSON.parse(fs.readFileSync(file, "utf8"));
      expect(written, file).toMatchObject({ format: 2, crc: expect.stringMatching(/^[0-9a-f]{8}$/) });
    }
    expect((await (await openStorage()).repository(Note).findAll()).map((n) => n.title)).toEqual(["old", "new"]);
  });

  test("a deleted catalog.json with table files present is a CorruptionError naming them, even with autoCreate, and nothing is overwritten", async () => {
    await writeNotes("a", "b");
    fs.rmSync(path.join(dir, "catalog.json"));
    const before = fs.readFileSync(notesFile(), "utf8");
    const error = (await openStorage({ autoCreate: true }).catch((e: unknown) => e)) as CorruptionError;
    expect(error).toBeInstanceOf(CorruptionError);
    expect(error.file).toBe(path.join(dir, "catalog.json"));
    expect(error.message).toContain(notesFile());
    expect(fs.readFileSync(notesFile(), "utf8")).toBe(before);
    expect(fs.existsSync(path.join(dir, "catalog.json"))).toBe(false);
  });

  test("a non-empty journal without a catalog is a CorruptionError naming it", async () => {
    const s = await openStorage();
    await s.repository(Note).save(make("a"));
    const killed = filesNow();
    await closeStorage(s);
    restore(new Map([...killed].filter(([f]) => f === "journal.ndjson")));
    const error = (await openStorage({ autoCreate: true }).catch((e: unknown) => e)) as CorruptionError;
    expect(error).toBeInstanceOf(CorruptionError);
    expect(error.message).toContain(journalOf());
  });

  test("a first open killed between its empty snapshots and its catalog opens again as a new directory", async () => {
    await openStorage();
    const created = filesNow();
    restore(new Map([...created].filter(([f]) => f !== "catalog.json")));
    const s = await openStorage({ autoCreate: true });
    await s.repository(Note).save(make("a"));
    expect(await s.repository(Note).count()).toBe(1);
  });
});

describe("file: compaction", () => {
  test("passing compactAfterBytes folds the journal into the snapshots", async () => {
    const s = await openStorage({ file: { compactAfterBytes: 2000 } });
    const notes = s.repository(Note);
    for (let i = 0; i < 40; i++) await notes.save({ title: `n${i}`, body: null, rank: i, score: null, done: false, due: null, meta: null } as Note);
    expect(fs.statSync(journalOf()).size).toBeLessThan(2400);
    const snapshot = JSON.parse(fs.readFileSync(path.join(dir, "notes.table.json"), "utf8"));
    expect(snapshot.rows.length).toBeGreaterThan(10);
    // Simulate a kill: reopen from the files as they are.
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), "strata-file-copy-"));
    try {
      for (const f of fs.readdirSync(dir)) if (f !== "strata.lock") fs.copyFileSync(path.join(dir, f), path.join(copy, f));
      const reopened = await openStorage({}, copy);
      expect(await reopened.repository(Note).count()).toBe(40);
      await closeStorage(reopened);
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
  });

  test("disk full during compaction fails the commit that triggered it, keeps the journal valid, and the next commit succeeds", async () => {
    const logger = { debug() {}, info() {}, warn() {}, error: vi.fn() };
    const s = await openStorage({ file: { compactAfterBytes: 1500 }, logger });
    const notes = s.repository(Note);
    const make = (i: number) => ({ title: `n${i}`, body: null, rank: i, score: null, done: false, due: null, meta: null }) as Note;
    let i = 0;
    while (fs.statSync(journalOf()).size < 1500) await notes.save(make(i++));
    const journalBefore = fs.readFileSync(journalOf());
    const realWrite = fs.writeSync;
    const spy = vi.spyOn(fs, "writeSync").mockImplementation(((fd: number, ...rest: unknown[]) => {
      // The snapshot's temp file is the first write of a compaction: it hits a full disk.
      if (fs.readlinkSync(`/proc/self/fd/${fd}`).endsWith(".tmp")) throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
      return (realWrite as (...a: unknown[]) => number)(fd, ...rest);
    }) as typeof fs.writeSync);
    const error = await notes.save(make(999)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect((error as Error).message).toMatch(/disk is full/);
    expect(logger.error).toHaveBeenCalled();
    expect(await notes.findOne({ where: { title: "n999" } })).toBeNull();
    expect(fs.readFileSync(journalOf())).toEqual(journalBefore);
    expect(fs.readdirSync(dir).some((f) => f.endsWith(".tmp"))).toBe(false);
    spy.mockRestore();
    await notes.save(make(1000));
    expect(await notes.count()).toBe(i + 1);
    await closeStorage(s);
    expect(await (await openStorage()).repository(Note).count()).toBe(i + 1);
  });

  test("a failed journal append (disk full) fails that commit and leaves no half line", async () => {
    const s = await openStorage();
    const notes = s.repository(Note);
    const make = (title: string) => ({ title, body: null, rank: null, score: null, done: false, due: null, meta: null }) as Note;
    await notes.save(make("a"));
    const realWrite = fs.writeSync;
    const spy = vi.spyOn(fs, "writeSync").mockImplementationOnce(((fd: number, data: unknown, offset: unknown) => {
      // Half the line reaches the file, then the disk is full.
      (realWrite as (...a: unknown[]) => number)(fd, data, offset, 10);
      throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    }) as typeof fs.writeSync);
    await expect(notes.save(make("b"))).rejects.toThrow(/disk is full/);
    spy.mockRestore();
    await notes.save(make("c"));
    expect(fs.readFileSync(journalOf(), "utf8").trim().split("\n").map((l) => JSON.parse(l).ops[0][2].title)).toEqual(["a", "c"]);
    expect((await notes.findAll()).map((n) => n.title)).toEqual(["a", "c"]);
  });
});

describe("file: transactions", () => {
  test("a savepoint rolled back leaves only the outer writes, after reopening too", async () => {
    const s = await openStorage();
    const notes = s.repository(Note);
    const make = (title: string) => ({ title, body: null, rank: null, score: null, done: false, due: null, meta: null }) as Note;
    await s.transaction(async () => {
      await notes.save(make("outer"));
      await s.transaction(async () => {
        await notes.save(make("inner"));
        throw new Error("undo inner");
      }).catch(() => {});
    });
    await expect(s.transaction(async () => {
      await notes.save(make("rolled back"));
      throw new Error("no");
    })).rejects.toThrow("no");
    await closeStorage(s);
    expect((await (await openStorage()).repository(Note).findAll()).map((n) => n.title)).toEqual(["outer"]);
  });

  test("concurrent read-increment-write transactions lose no update, and concurrent saves all persist", async () => {
    const s = await openStorage();
    const notes = s.repository(Note);
    const counter = await notes.save({ title: "counter", body: null, rank: 0, score: null, done: false, due: null, meta: null } as Note);
    await Promise.all(
      Array.from({ length: 30 }, () =>
        s.transaction(async () => {
          const n = (await notes.findById(counter.id))!;
          await notes.save({ ...n, rank: n.rank! + 1 });
        }),
      ),
    );
    await Promise.all(Array.from({ length: 30 }, (_, i) => notes.save({ title: `c${i}`, body: null, rank: null, score: null, done: false, due: null, meta: null } as Note)));
    await closeStorage(s);
    const again = (await openStorage()).repository(Note);
    expect((await again.findById(counter.id))!.rank).toBe(30);
    expect(await again.count()).toBe(31);
  });
});

describe("file: backup", () => {
  test("backup(path) writes a directory that createStorage opens with the same data", async () => {
    const s = await openStorage();
    const notes = s.repository(Note);
    const a = await notes.save({ title: "a", body: "x", rank: 1, score: 2.5, done: true, due: new Date(5), meta: { k: 1 } } as Note);
    await s.repository(OddTable).save({ id: "../../etc/passwd", code: "z" });
    const target = path.join(dir, "..", `${path.basename(dir)}-backup`);
    try {
      await s.backup(target);
      await notes.save({ title: "after backup", body: null, rank: null, score: null, done: false, due: null, meta: null } as Note);
      const copy = await openStorage({ autoCreate: false }, target);
      expect(await copy.repository(Note).findAll()).toEqual([a]);
      expect(await copy.repository(OddTable).findById("../../etc/passwd")).toEqual({ id: "../../etc/passwd", code: "z" });
      await closeStorage(copy);
      await expect(s.backup(target)).rejects.toBeInstanceOf(ConfigError);
      await expect(s.backup(path.join(dir, "inside"))).rejects.toBeInstanceOf(ConfigError);
    } finally {
      fs.rmSync(target, { recursive: true, force: true });
    }
  });

  test("with backup.enabled, compaction keeps the last `keep` generations, each openable", async () => {
    const s = await openStorage({ backup: { enabled: true, keep: 2 }, file: { compactAfterBytes: 600 } });
    const notes = s.repository(Note);
    for (let i = 0; i < 30; i++) await notes.save({ title: `n${i}`, body: null, rank: i, score: null, done: false, due: null, meta: null } as Note);
    const generations = listGenerations(path.join(dir, "backups"));
    expect(generations.map((g) => g.manifest.reason)).toEqual(["compaction", "compaction"]);
    // Each holds the state before a compaction: fewer rows than now, the newer more than the older.
    const counts: number[] = [];
    for (const generation of generations) {
      const copy = await openStorage({ autoCreate: false }, generation.dataPath);
      counts.push(await copy.repository(Note).count());
    }
    expect(counts[0]).toBeGreaterThan(0);
    expect(counts[1]).toBeGreaterThan(counts[0]!);
    expect(counts[1]).toBeLessThan(30);
  });
});

describe("file: failed flush", () => {
  test("a failed fdatasync fails that commit; later writes and unflushed reads refuse until the storage is reopened", async () => {
    const logger = { debug() {}, info() {}, warn() {}, error: vi.fn() };
    const s = await openStorage({ logger });
    const notes = s.repository(Note);
    const make = (title: string) => ({ title, body: null, rank: null, score: null, done: false, due: null, meta: null }) as Note;
    await notes.save(make("a"));
    const spy = vi.spyOn(fs, "fdatasync").mockImplementationOnce(((_fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => {
      setImmediate(() => callback(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" })));
    }) as typeof fs.fdatasync);
    const failed = await notes.save(make("b")).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(StorageError);
    // Its line reached the file, so it may come back on reopen: the message says so, and what to do.
    expect((failed as Error).message).toMatch(/EIO.*may or may not be on disk.*open the directory again/);
    expect((failed as Error).message).not.toMatch(/not made/);
    spy.mockRestore();
    await expect(notes.save(make("c"))).rejects.toThrow(/reopen/);
    await expect(notes.findAll()).rejects.toThrow(/reopen/);
    await closeStorage(s);
    expect(logger.error).toHaveBeenCalledWith(expect.stringContaining("Compaction on close"), expect.anything());
    const titles = (await (await openStorage()).repository(Note).findAll()).map((n) => n.title);
    // "b" was never acknowledged: it may or may not be there; "a" is, "c" is not.
    expect(titles[0]).toBe("a");
    expect(titles).not.toContain("c");
  });
});

describe("file: fsync never", () => {
  test("commits are journaled without any flush and reopen intact", async () => {
    const syncs = vi.spyOn(fs, "fdatasync");
    const s = await openStorage({ file: { fsync: "never" } });
    const notes = s.repository(Note);
    for (const title of ["a", "b"]) await notes.save({ title, body: null, rank: null, score: null, done: false, due: null, meta: null } as Note);
    expect((await notes.findAll()).map((n) => n.title)).toEqual(["a", "b"]);
    expect(fs.readFileSync(journalOf(), "utf8").trim().split("\n")).toHaveLength(2);
    expect(syncs).not.toHaveBeenCalled();
    await closeStorage(s);
    expect(await (await openStorage()).repository(Note).count()).toBe(2);
  });
});

describe("file: group commit", () => {
  test("concurrent commits share flushes, and each returns only once its line is flushed", async () => {
    const s = await openStorage();
    const notes = s.repository(Note);
    await notes.save({ title: "warm-up", body: null, rank: null, score: null, done: false, due: null, meta: null } as Note);
    const flushed: number[] = [];
    const realSync = fs.fdatasync;
    const spy = vi.spyOn(fs, "fdatasync").mockImplementation(((fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => {
      const size = fs.fstatSync(fd).size;
      realSync(fd, (error) => {
        if (!error) flushed.push(size);
        callback(error);
      });
    }) as typeof fs.fdatasync);
    const unflushedAtReturn: string[] = [];
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        notes.save({ title: `c${i}`, body: null, rank: null, score: null, done: false, due: null, meta: null } as Note).then(() => {
          // Where this commit's line ends in the journal, against how far the last flush reached.
          const text = fs.readFileSync(journalOf(), "utf8");
          const end = Buffer.byteLength(text.slice(0, text.indexOf("\n", text.indexOf(`"title":"c${i}"`)) + 1));
          if (end > Math.max(0, ...flushed)) unflushedAtReturn.push(`c${i}`);
        }),
      ),
    );
    spy.mockRestore();
    expect(flushed.length).toBeGreaterThan(0);
    expect(flushed.length).toBeLessThan(40);
    // Every commit returned after a flush covering (at least) as many lines as had been written when it returned.
    const lines = fs.readFileSync(journalOf(), "utf8").trim().split("\n");
    expect(lines).toHaveLength(41);
    expect(Math.max(...flushed)).toBe(fs.statSync(journalOf()).size);
    expect(unflushedAtReturn).toEqual([]);
  });
});
