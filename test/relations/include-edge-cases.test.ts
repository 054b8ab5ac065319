/**
 * Attacks on relation loading (issue 12 review), on every backend: cached include queries whose where (or an
 * include's where) reads a relation, relation properties in `update`, concurrent links, odd Unicode keys,
 * nullable orders with a per-parent limit, bad includes, link/unlink arguments, transactions, and a result of
 * more parents than SQL takes parameters.
 */
import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Repository, Storage } from "../../src/index.js";
import { createStorage, QueryError, ValidationError } from "../../src/index.js";
import { RVI_ENTITIES, RviMark, RviNote, RviRemark, RviWriter } from "../fixtures/include-edge-entities.js";
import type { IncBackend } from "../fixtures/inc-backends.js";
import { incBackends } from "../fixtures/inc-backends.js";
import { tinyStore } from "../fixtures/tiny-backend.js";
import { waitFor } from "../cache/cache-test-kit.js";
import { assertRedisReachable, deletePrefix, redisUrl, servicesRequired, uniquePrefix } from "../cache/redis-service.js";

/** Keys that look alike: NFC and NFD "é", an astral letter, a key that is a number's text, `__proto__`. */
const KEYS = ["\u00e9", "e\u0301", "\u{1D518}", "1", "__proto__"];

const data = (value: unknown) => JSON.parse(JSON.stringify(value)) as unknown;

async function seed(storage: Storage): Promise<void> {
  await storage.repository(RviWriter).saveMany(KEYS.map((id, i) => ({ id, name: `w${i}` })));
  await storage.repository(RviMark).saveMany([{ slug: "red" }, { slug: "blue" }]);
  const notes = storage.repository(RviNote);
  // Each writer i gets notes with scores [null, i, null, 10 - i] (titles n<i>-<j>).
  for (const [i, id] of KEYS.entries()) {
    await notes.saveMany([null, i, null, 10 - i].map((score, j) => ({ title: `n${i}-${j}`, score, writerId: id })));
  }
  await storage.repository(RviRemark).saveMany([{ text: "r1", noteId: 1 }, { text: "r2", noteId: 2 }]);
}

function reviewCases(backend: IncBackend): void {
  describe(`${backend.name}: include under attack`, () => {
    const counts = new Map<string, number>();
    let storage: Storage;
    let notes: Repository<RviNote, number>;
    let writers: Repository<RviWriter, string>;
    const reads = () => ["find", "findById", "findByIds", "count"].reduce((n, m) => n + (counts.get(m) ?? 0), 0);

    beforeAll(async () => {
      storage = await backend.open(RVI_ENTITIES, counts, { cache: true });
      await seed(storage);
      notes = storage.repository(RviNote) as Repository<RviNote, number>;
      writers = storage.repository(RviWriter) as Repository<RviWriter, string>;
    });
    afterAll(async () => {
      await storage?.close();
      await backend.cleanup();
    });

    test("Unicode and look-alike string keys pair exactly", async () => {
      const found = await writers.findAll({ include: { notes: { select: ["title"] } } });
      expect(found.map((w) => [w.id, w.notes?.map((n) => n.title)])).toEqual(
        [...KEYS].sort().map((id) => [id, [0, 1, 2, 3].map((j) => `n${KEYS.indexOf(id)}-${j}`)]),
      );
      const byNote = await notes.findAll({ where: { writerId: "e\u0301" }, include: { writer: true } });
      expect(byNote.map((n) => n.writer?.name)).toEqual(["w1", "w1", "w1", "w1"]);
    });

    test("orderBy desc on a nullable column with a per-parent limit: nulls last, primary key breaking ties", async () => {
      const found = await writers.findAll({ where: { id: { $in: ["\u00e9", "1"] } }, include: { notes: { orderBy: { score: "desc" }, limit: 3 } }, orderBy: { name: "asc" } });
      expect(found.map((w) => w.notes?.map((n) => [n.title, n.score]))).toEqual([
        [["n0-3", 10], ["n0-1", 0], ["n0-0", null]],
        [["n3-3", 7], ["n3-1", 3], ["n3-0", null]],
      ]);
      const asc = await writers.findById("1", { include: { notes: { orderBy: { score: "asc" }, limit: 2 } } });
      expect(asc?.notes?.map((n) => n.title)).toEqual(["n3-0", "n3-2"]);
    });

    test("an include naming a column, an unknown name, __proto__ or itself in a loop is a QueryError", async () => {
      await expect(notes.findAll({ include: { title: true } as never })).rejects.toThrow(QueryError);
      await expect(notes.findAll({ include: JSON.parse('{"__proto__": true}') as never })).rejects.toThrow(QueryError);
      await expect(notes.findAll({ include: { writer: { include: JSON.parse('{"__proto__": {}}') } } as never })).rejects.toThrow(QueryError);
      await expect(notes.findAll({ include: { writer: { bogus: 1 } } as never })).rejects.toThrow(/unknown option "bogus"/);
      const loop: Record<string, unknown> = {};
      loop["writer"] = { include: { notes: { include: loop } } };
      await expect(notes.findAll({ include: loop as never })).rejects.toThrow(QueryError);
      await expect(notes.findAll({ include: loop as never })).rejects.toThrow(/RviNote: include.writer.include.notes.include holds the include it is nested in/);
    });

    test("a cyclic path five levels deep loads, each level its own objects", async () => {
      const found = await notes.findById(1, { include: { writer: { include: { notes: { include: { writer: { include: { notes: { include: { remarks: true } } } } } } } } } });
      const inner = found!.writer!.notes![0]!.writer!.notes!;
      expect(inner.map((n) => [n.id, n.remarks?.map((r) => r.text)])).toEqual([[1, ["r1"]], [2, ["r2"]], [3, []], [4, []]]);
      expect(found!.writer!.notes![0]!.writer).not.toBe(found!.writer);
    });

    test("update ignores relation properties as save does (a disagreeing to-one is refused)", async () => {
      const read = (await notes.findById(3, { include: { writer: true, remarks: true, marks: true } }))!;
      const updated = await notes.update(3, { title: "n0-2!", writer: read.writer, writerId: read.writerId, remarks: [], marks: [] } as Partial<RviNote>);
      expect(updated.title).toBe("n0-2!");
      const other = (await writers.findById("1"))!;
      await expect(notes.update(3, { writer: other, writerId: read.writerId } as Partial<RviNote>)).rejects.toThrow(ValidationError);
      expect((await notes.findById(3))?.writerId).toBe(read.writerId);
      await notes.update(3, { title: "n0-2" });
    });

    test("a cached include query whose where reads a relation is dropped by a write to that relation's table", async () => {
      const query = () => notes.findAll({ cache: true, where: { writer: { name: "w2" } }, include: { remarks: { where: { note: { writer: { name: "w0" } } } } } });
      expect((await query()).map((n) => n.title)).toEqual(["n2-0", "n2-1", "n2-2", "n2-3"]);
      counts.clear();
      await query();
      expect(reads()).toBe(0);
      await writers.update(KEYS[2]!, { name: "w2b" });
      expect(await query()).toEqual([]);
      await writers.update(KEYS[2]!, { name: "w2" });
      // The include's own where reads the writers through the notes.
      const remarks = () => notes.findAll({ cache: true, where: { id: { $in: [1, 2] } }, include: { remarks: { where: { note: { writer: { name: "w0" } } } } } });
      expect((await remarks()).map((n) => n.remarks?.length)).toEqual([1, 1]);
      await writers.update(KEYS[0]!, { name: "w0b" });
      expect((await remarks()).map((n) => n.remarks?.length)).toEqual([0, 0]);
      await writers.update(KEYS[0]!, { name: "w0" });
    });

    test("link/unlink: empty list reads nothing, bad ids are ValidationErrors, a rolled-back link leaves the cached include", async () => {
      counts.clear();
      expect(await notes.link(1, "marks", [])).toBe(0);
      expect(await notes.unlink(1, "marks", [])).toBe(0);
      expect(reads()).toBe(0);
      await expect(notes.link("1" as never, "marks", ["red"])).rejects.toThrow(ValidationError);
      await expect(notes.link(1, "marks", "red" as never)).rejects.toThrow(ValidationError);
      await expect(notes.unlink(1, "marks", [null as never])).rejects.toThrow(ValidationError);
      const query = () => notes.findAll({ cache: true, where: { id: 1 }, include: { marks: true } });
      expect((await query())[0]?.marks).toEqual([]);
      await expect(storage.transaction(async () => {
        await notes.link(1, "marks", ["red", "red", "blue"]);
        throw new Error("undo");
      })).rejects.toThrow("undo");
      expect((await query())[0]?.marks).toEqual([]);
      await storage.transaction(() => notes.link(1, "marks", ["red", "red"]));
      expect((await query())[0]?.marks?.map((m) => m.slug)).toEqual(["red"]);
      await expect(storage.transaction(async () => {
        await notes.unlink(1, "marks", ["red"]);
        throw new Error("undo");
      })).rejects.toThrow("undo");
      expect((await query())[0]?.marks?.map((m) => m.slug)).toEqual(["red"]);
      expect(await notes.unlink(1, "marks", ["red", "red"])).toBe(1);
      expect((await query())[0]?.marks).toEqual([]);
    });

    test("two links of the same pair at once: both succeed, one link stored", async () => {
      const added = await Promise.all([notes.link(2, "marks", ["blue"]), notes.link(2, "marks", ["blue", "red"]), notes.link(2, "marks", ["red"])]);
      expect(added.reduce((a, b) => a + b, 0)).toBe(2);
      expect((await notes.findById(2, { include: { marks: true } }))?.marks?.map((m) => m.slug)).toEqual(["blue", "red"]);
      await notes.unlink(2, "marks", ["blue", "red"]);
    });

    test("findById with include: a cached entity, its relations read afresh; a cascade rolled back keeps, committed drops", async () => {
      await notes.findById(1);
      counts.clear();
      const first = await notes.findById(1, { include: { remarks: true } });
      expect(reads()).toBe(1); // the entity from L1, one query for the remarks
      await storage.repository(RviRemark).insert({ text: "r3", noteId: 1 });
      expect((await notes.findById(1, { include: { remarks: true } }))?.remarks?.map((r) => r.text)).toEqual(["r1", "r3"]);
      expect(first?.remarks?.map((r) => r.text)).toEqual(["r1"]);
      const query = () => writers.findAll({ cache: true, where: { id: "\u00e9" }, include: { notes: { include: { remarks: true } } } });
      expect((await query())[0]?.notes?.[0]?.remarks?.map((r) => r.text)).toEqual(["r1", "r3"]);
      await expect(storage.transaction(async () => {
        await notes.delete(1);
        throw new Error("undo");
      })).rejects.toThrow("undo");
      expect((await query())[0]?.notes?.[0]?.remarks?.map((r) => r.text)).toEqual(["r1", "r3"]);
      await storage.repository(RviRemark).deleteMany({ text: "r3" });
      const saved = await notes.insert({ title: "tmp", writerId: "\u00e9", score: null });
      await storage.repository(RviRemark).insert({ text: "tmp", noteId: saved.id });
      expect((await query())[0]?.notes?.map((n) => n.title)).toEqual(["n0-0", "n0-1", "n0-2", "n0-3", "tmp"]);
      await storage.transaction(() => notes.delete(saved.id));
      expect((await query())[0]?.notes?.map((n) => n.title)).toEqual(["n0-0", "n0-1", "n0-2", "n0-3"]);
      expect(await storage.repository(RviRemark).count({ text: "tmp" })).toBe(0);
    });

    test("iterate and findPage with include inside a transaction see its writes", async () => {
      await expect(storage.transaction(async () => {
        await storage.repository(RviRemark).insert({ text: "in-tx", noteId: 2 });
        const walked: Array<[number, number | undefined]> = [];
        for await (const n of notes.iterate({ where: { id: { $in: [1, 2] } }, include: { remarks: true } }, { pageSize: 1 })) walked.push([n.id, n.remarks?.length]);
        expect(walked).toEqual([[1, 1], [2, 2]]);
        const page = await notes.findPage({ first: 1, where: { id: { $gte: 2 } }, include: { remarks: true, writer: true } });
        expect(data(page.items.map((n) => [n.remarks?.map((r) => r.text), n.writer?.id]))).toEqual([[["r2", "in-tx"], "\u00e9"]]);
        throw new Error("undo");
      })).rejects.toThrow("undo");
      expect((await notes.findById(2, { include: { remarks: true } }))?.remarks).toHaveLength(1);
    });
  });
}

for (const backend of incBackends()) {
  if (backend.skip) describe(`${backend.name}: include under attack`, () => test.skip(backend.skip!, () => {}));
  else reviewCases(backend);
}

for (const backend of incBackends().filter((b) => b.name === "sqlite" || b.name === "postgres")) {
  describe.skipIf(backend.skip !== undefined)(`${backend.name}: include over more parents than SQL binds parameters`, () => {
    let storage: Storage;
    afterAll(async () => {
      await storage?.close();
      await backend.cleanup();
    });

    test("70,000 parents with include: one query per relation, every child paired", async () => {
      const counts = new Map<string, number>();
      storage = await backend.open(RVI_ENTITIES, counts);
      const total = 70_000;
      await storage.repository(RviWriter).saveMany(Array.from({ length: total }, (_, i) => ({ id: `w${i}`, name: "n" })), { chunkSize: 5000 });
      await storage.repository(RviNote).saveMany([{ title: "first", writerId: "w0", score: null }, { title: "last", writerId: `w${total - 1}`, score: null }]);
      counts.clear();
      const found = await storage.repository(RviWriter).findAll({ include: { notes: true } });
      expect(counts.get("find")).toBe(2);
      expect(found).toHaveLength(total);
      expect(found.filter((w) => w.notes!.length > 0).map((w) => [w.id, w.notes!.map((n) => n.title)])).toEqual([["w0", ["first"]], [`w${total - 1}`, ["last"]]]);
    }, 120_000);
  });
}

describe.runIf(redisUrl !== undefined || servicesRequired)("sqlite: a cached include query across processes (Redis bus)", () => {
  const prefix = uniquePrefix();
  // Made when the tests run, not when they are collected: a skipped describe's body still runs.
  let dir = "";
  beforeAll(async () => {
    await assertRedisReachable();
    dir = mkdtempSync(path.join(tmpdir(), "strata-rvi-redis-"));
  });
  const storages: Storage[] = [];
  afterAll(async () => {
    for (const s of storages.splice(0)) await s.close();
    await deletePrefix(prefix);
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  test("a link, an update of a related row and a cascade in one storage reach another's cached include query", async () => {
    const url = `sqlite:${path.join(dir, "shared.db")}`;
    const cache = { l1: {}, l2: { type: "redis" as const, url: redisUrl!, prefix } };
    const writer = await createStorage({ url, entities: RVI_ENTITIES, autoCreate: true, cache });
    storages.push(writer);
    await seed(writer);
    const reader = await createStorage({ url, entities: RVI_ENTITIES, cache });
    storages.push(reader);
    const query = () => reader.repository(RviNote).findAll({ cache: true, where: { id: { $in: [1, 2] } }, include: { marks: true, writer: true, remarks: true } });
    const view = async () => (await query()).map((n) => [n.marks?.map((m) => m.slug), n.writer?.name, n.remarks?.length]);
    expect(await view()).toEqual([[[], "w0", 1], [[], "w0", 1]]);
    await writer.repository(RviNote).link(1, "marks", ["red"]);
    await waitFor(async () => JSON.stringify(await view()) === JSON.stringify([[["red"], "w0", 1], [[], "w0", 1]]), 2000, "the reader saw the link");
    await writer.repository(RviWriter).update("\u00e9", { name: "renamed" });
    await waitFor(async () => (await view())[0]![1] === "renamed", 2000, "the reader saw the rename");
    await writer.repository(RviRemark).insert({ text: "more", noteId: 2 });
    await waitFor(async () => (await view())[1]![2] === 2, 2000, "the reader saw the new remark");
  });
});

describe("tiny (no supportsRelationFilters): relation filters in findOne and in an include's where", () => {
  test("are resolved by the repository as in findAll", async () => {
    const storage = await createStorage({ backend: tinyStore(), entities: RVI_ENTITIES, autoCreate: true });
    try {
      await seed(storage);
      const notes = storage.repository(RviNote);
      expect((await notes.findOne({ where: { writer: { name: "w1" } }, orderBy: { id: "asc" } }))?.title).toBe("n1-0");
      const found = await notes.findAll({ where: { id: { $in: [1, 2] } }, include: { remarks: { where: { note: { title: "n0-0" } } } } });
      expect(found.map((n) => n.remarks?.map((r) => r.text))).toEqual([["r1"], []]);
    } finally {
      await storage.close();
    }
  });
});
