/**
 * Fault: one byte flipped at a random offset (seeded) of each file the file backend writes: the catalog,
 * each table snapshot, the journal, the backups, the lock file. Every flip must be detected on open (a
 * CorruptionError) or provably harmless (the data read back deep-equals what was committed); a silent
 * change of data fails the test, printing the seed, the file, the offset and the flip.
 * Run again with a failing seed: STRATA_FAULT_SEED=<seed> npx vitest run test/faults/file-bit-flips.test.ts
 */
import "reflect-metadata";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn, VersionColumn } from "typeorm";
import { CorruptionError, LockError, createStorage } from "../../src/index.js";
import { SPECIAL_STRINGS } from "../fixtures/adversarial-strings.js";

@Entity("notes")
class Note {
  @PrimaryGeneratedColumn("increment") id: number;
  @Column({ type: "string" }) title: string;
  @Column({ type: "string", nullable: true }) body: string | null;
  @Column({ type: "integer", nullable: true }) rank: number | null;
  @Column({ type: "number" }) score: number;
  @Column({ type: "boolean" }) done: boolean;
  @Column({ type: "datetime", nullable: true }) due: Date | null;
  @Column({ type: "simple-json", nullable: true }) meta: unknown;
  @VersionColumn() version: number;
}

@Entity("tags")
class Tag {
  @PrimaryColumn({ type: "string" }) id: string;
  @Index({ unique: true })
  @Column({ type: "string" })
  code: string;
}

const FLIPS_PER_FILE = 25;
const seed = Number(process.env["STRATA_FAULT_SEED"] ?? Math.floor(Math.random() * 2 ** 31));

/** mulberry32: a small seeded PRNG, so a failure can be replayed from its seed. */
function prng(state: number): () => number {
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Data = { notes: Note[]; tags: Tag[] };

let root: string;
/** The directory as a kill would leave it (journal lines after the last compaction, a lock of a dead pid). */
let pristine: string;
let committed: Data;
/** The data directory of the newest backup generation, relative to the directory, and the data it holds. */
let backup: string;
let backupData: Data;

async function readAll(dir: string): Promise<Data> {
  const storage = await createStorage({ url: `file:${dir}`, entities: [Note, Tag], autoCreate: true, timeoutMs: 200, file: { fsync: "never" }, logger: silent });
  try {
    return {
      notes: (await storage.repository(Note).findAll({ orderBy: { id: "asc" } })).map((n) => ({ ...n })),
      tags: (await storage.repository(Tag).findAll({ orderBy: { id: "asc" } })).map((t) => ({ ...t })),
    };
  } finally {
    await storage.close();
  }
}

const silent = { debug() {}, info() {}, warn() {}, error() {} };

function copyDir(from: string, to: string): void {
  fs.cpSync(from, to, { recursive: true, preserveTimestamps: true });
}

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "strata-fault-flip-"));
  const live = path.join(root, "live");
  const storage = await createStorage({
    url: `file:${live}`,
    entities: [Note, Tag],
    autoCreate: true,
    timeoutMs: 500,
    file: { compactAfterBytes: 2500 },
    backup: { enabled: true, keep: 2 },
  });
  const notes = storage.repository(Note);
  const tags = storage.repository(Tag);
  for (let i = 0; i < 24; i++) {
    const s = SPECIAL_STRINGS[i % SPECIAL_STRINGS.length]!;
    await storage.transaction(async () => {
      await notes.save({ title: `note ${i}${s}`, body: i % 3 ? `b${s}${i}` : null, rank: i % 4 ? i * 7 : null, score: i / 8, done: i % 2 === 0, due: i % 5 ? new Date(Date.UTC(2026, 0, i + 1, 3, 4, 5, 6)) : null, meta: i % 2 ? { [`k${s}`]: [i, s, { n: null }] } : null } as Note);
      await tags.save({ id: `t${i}${s}`, code: `c${i}` });
    });
    if (i % 6 === 5) await notes.update(i - 2, { title: `updated ${i}`, rank: -i });
    if (i % 7 === 6) await tags.delete(`t${i - 3}${SPECIAL_STRINGS[(i - 3) % SPECIAL_STRINGS.length]}`);
  }
  committed = {
    notes: (await notes.findAll({ orderBy: { id: "asc" } })).map((n) => ({ ...n })),
    tags: (await tags.findAll({ orderBy: { id: "asc" } })).map((t) => ({ ...t })),
  };
  pristine = path.join(root, "pristine");
  copyDir(live, pristine);
  await storage.close();
  // The lock as a killed owner leaves it: a pid that no longer runs, written a while ago.
  const dead = spawnSync(process.execPath, ["-e", ""]).pid;
  const lock = path.join(pristine, "strata.lock");
  fs.writeFileSync(lock, `${JSON.stringify({ pid: dead, startedAt: new Date(0).toISOString(), token: "00000000-0000-4000-8000-000000000000" }, null, 2)}\n`);
  fs.utimesSync(lock, new Date(0), new Date(0));
  // A generation keeps the data directory in its data/ (beside its manifest).
  const generations = fs.readdirSync(path.join(pristine, "backups")).filter((name) => name.startsWith("generation-"));
  backup = path.join("backups", generations.sort().at(-1)!, "data");
  const check = path.join(root, "check");
  copyDir(pristine, check);
  expect(fs.statSync(path.join(check, "journal.ndjson")).size).toBeGreaterThan(0);
  expect(await readAll(check)).toEqual(committed);
  backupData = await readAll(path.join(check, backup));
  expect(backupData.notes.length).toBeGreaterThan(0);
});

afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

describe("file: bytes flipped at random offsets", () => {
  test(`${FLIPS_PER_FILE} flips in each file are each detected or harmless, never a silent change (seed ${seed})`, async () => {
    const random = prng(seed);
    const files = [
      "catalog.json",
      "notes.table.json",
      "tags.table.json",
      "journal.ndjson",
      "strata.lock",
      path.join(backup, "catalog.json"),
      path.join(backup, "notes.table.json"),
      path.join(backup, "tags.table.json"),
    ];
    const counts = { tried: 0, detected: 0, harmless: 0, lockRefused: 0 };
    const silentChanges: string[] = [];
    let trial = 0;
    for (const name of files) {
      const size = fs.statSync(path.join(pristine, name)).size;
      expect(size, name).toBeGreaterThan(0);
      for (let f = 0; f < FLIPS_PER_FILE; f++) {
        const offset = Math.floor(random() * size);
        const xor = 1 + Math.floor(random() * 255);
        const dir = path.join(root, `trial-${trial++}`);
        copyDir(pristine, dir);
        const file = path.join(dir, name);
        const data = fs.readFileSync(file);
        data[offset] = data[offset]! ^ xor;
        fs.writeFileSync(file, data);
        if (name === "strata.lock") fs.utimesSync(file, new Date(0), new Date(0));
        const opened = name.startsWith("backups") ? path.join(dir, backup) : dir;
        const expected = name.startsWith("backups") ? backupData : committed;
        const what = `seed ${seed}: ${name} byte ${offset} ^ 0x${xor.toString(16)}`;
        counts.tried++;
        try {
          const got = await readAll(opened);
          if (isDeepEqual(got, expected)) counts.harmless++;
          else silentChanges.push(what);
        } catch (error) {
          if (error instanceof CorruptionError) counts.detected++;
          // A flipped pid that names a live process: the opener waits, then names the lock file (documented).
          else if (name === "strata.lock" && error instanceof LockError) counts.lockRefused++;
          else silentChanges.push(`${what}: unexpected ${(error as Error).name}: ${(error as Error).message}`);
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
        }
      }
    }
    console.info(`file bit-flip fault test (seed ${seed}): ${counts.tried} flips tried, ${counts.detected} detected (CorruptionError), ${counts.harmless} harmless, ${counts.lockRefused} lock refusals`);
    expect(silentChanges, `silent changes (replay with STRATA_FAULT_SEED=${seed})`).toEqual([]);
    expect(counts.detected + counts.harmless + counts.lockRefused).toBe(counts.tried);
    expect(counts.detected).toBeGreaterThan(0);
  });
});

function isDeepEqual(a: unknown, b: unknown): boolean {
  try {
    expect(a).toStrictEqual(b);
    return true;
  } catch {
    return false;
  }
}
