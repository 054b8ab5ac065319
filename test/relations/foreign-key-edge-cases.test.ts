/**
 * Review attacks on foreign key enforcement (issue 12), the same sequence of writes on every backend:
 * batches whose children precede their parents, RESTRICT self-references deleted whole, cascades through a
 * cycle, SET NULL beside a CASCADE on one row, caches after SET NULL, concurrent transactions.
 */
import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, describe, expect, test } from "vitest";
import type { Storage } from "../../src/index.js";
import { createStorage, IntegrityError } from "../../src/index.js";
import { RVFK_ENTITIES, RvA, RvB, RvFolder, RvItem, RvNode, RvOwner } from "../fixtures/rvfk-entities.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "../postgres/pg-test-database.js";

const dir = mkdtempSync(path.join(tmpdir(), "strata-rvfk-"));
let n = 0;
let pg: PgTestDatabase | undefined;
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await pg?.drop();
});

const pgSkip = pgSkipReason();
const backends: Array<{ name: string; skip?: string; url: () => Promise<string> }> = [
  { name: "memory", url: async () => "memory:" },
  { name: "file", url: async () => `file:${path.join(dir, `f${++n}`)}` },
  { name: "sqlite", url: async () => `sqlite:${path.join(dir, `s${++n}.db`)}` },
  {
    name: "postgres",
    skip: pgSkip,
    url: async () => {
      pg ??= await PgTestDatabase.create(PG_URL!);
      return pg.freshSchemaUrl();
    },
  },
];

async function rejection(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (error: unknown) => error as Error,
  );
}

const ids = (rows: readonly { id: unknown }[]) => rows.map((r) => r.id).sort();

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(`${backend.name}: foreign key attacks`, () => {
    let storage: Storage;
    const open = async (cache = false) => {
      storage = await createStorage({ url: await backend.url(), entities: RVFK_ENTITIES, autoCreate: true, cache: cache ? { l1: {} } : false });
      return storage;
    };
    afterEach(async () => {
      await storage?.close();
    });

    test("saveMany of a self-referencing tree, children before their parents, is written whole", async () => {
      await open();
      const nodes = storage.repository(RvNode);
      await nodes.saveMany([
        { id: "leaf", parentId: "mid" },
        { id: "mid", parentId: "root" },
        { id: "root", parentId: null },
      ]);
      expect(ids(await nodes.findAll())).toEqual(["leaf", "mid", "root"]);
    });

    // A failed chunk is retried one entity at a time, so there a child before its parent fails too: alike everywhere.
    test("saveMany non-atomic: a child naming a missing parent fails, so does one naming a parent of a later retry", async () => {
      await open();
      const nodes = storage.repository(RvNode);
      const result = await nodes.saveMany(
        [
          { id: "a", parentId: "root" },
          { id: "b", parentId: "ghost" },
          { id: "root", parentId: null },
        ],
        { atomic: false },
      );
      expect(result.errors.map((e) => e.index)).toEqual([0, 1]);
      expect(result.errors[1]!.error).toBeInstanceOf(IntegrityError);
      expect(result.errors[1]!.error.message).toMatch(/RvNode.parent: no rvfk_nodes row has id "ghost"$/);
      expect(ids(await nodes.findAll())).toEqual(["root"]);
    });

    test("deleteMany of a whole RESTRICT self-referencing chain succeeds; of part of it is refused and deletes nothing", async () => {
      await open();
      const nodes = storage.repository(RvNode);
      await nodes.saveMany([
        { id: "n1", parentId: null },
        { id: "n2", parentId: "n1" },
        { id: "n3", parentId: "n2" },
        { id: "n4", parentId: "n3" },
      ]);
      const refused = await rejection(nodes.deleteMany({ id: { $in: ["n1", "n2", "n3"] } }));
      expect(refused).toBeInstanceOf(IntegrityError);
      expect(refused.message).toMatch(/rvfk_nodes row "n3" is still referenced by rvfk_nodes \(RvNode.parent, onDelete RESTRICT\)$/);
      expect((refused as IntegrityError).table).toBe("rvfk_nodes");
      expect(await nodes.count()).toBe(4);
      expect(await nodes.deleteMany({})).toBe(4);
      expect(await nodes.count()).toBe(0);
    });

    test("a cascading self-reference deletes a chain of 300 levels", async () => {
      await open();
      const folders = storage.repository(RvFolder);
      const chain = Array.from({ length: 300 }, (_, i) => ({ id: `f${String(i).padStart(3, "0")}`, parentId: i === 0 ? null : `f${String(i - 1).padStart(3, "0")}` }));
      await folders.saveMany(chain);
      await folders.saveMany([{ id: "other", parentId: null }]);
      expect(await folders.delete("f000")).toBe(true);
      expect(ids(await folders.findAll())).toEqual(["other"]);
    });

    test("a cycle of CASCADE foreign keys (A -> B -> A) deletes both rows and stops", async () => {
      await open();
      const as = storage.repository(RvA);
      const bs = storage.repository(RvB);
      await as.save({ id: "a1", bId: null });
      await bs.save({ id: "b1", aId: "a1" });
      await as.update("a1", { bId: "b1" });
      await as.save({ id: "a2", bId: null });
      expect(await as.delete("a1")).toBe(true);
      expect(ids(await as.findAll())).toEqual(["a2"]);
      expect(await bs.count()).toBe(0);
    });

    test("a row both cascaded and set null by one delete is deleted", async () => {
      await open();
      const owners = storage.repository(RvOwner);
      const items = storage.repository(RvItem);
      await owners.saveMany([{ id: "o1" }, { id: "o2" }]);
      await items.saveMany([
        { id: "both", name: "x", ownerId: "o1", keeperId: "o1" },
        { id: "owned", name: "y", ownerId: "o1", keeperId: "o2" },
      ]);
      expect(await owners.delete("o1")).toBe(true);
      expect(ids(await items.findAll())).toEqual(["owned"]);
      expect((await items.findById("owned"))?.ownerId).toBeNull();
    });

    test("SET NULL through a cached entity and a cached query: neither serves the old foreign key, the version stays", async () => {
      await open(true);
      const owners = storage.repository(RvOwner);
      const items = storage.repository(RvItem);
      await owners.save({ id: "o1" });
      await items.save({ id: "i1", name: "x", ownerId: "o1", keeperId: null });
      const before = await items.findById("i1");
      expect((await items.findAll({ where: { ownerId: "o1" }, cache: true })).length).toBe(1);
      expect(await items.count({ ownerId: null })).toBe(0);
      await owners.deleteMany({ id: "o1" });
      const after = await items.findById("i1");
      expect(after?.ownerId).toBeNull();
      expect(after?.version).toBe(before!.version);
      expect(after?.updatedAt.getTime()).toBe(before!.updatedAt.getTime());
      expect(await items.findAll({ where: { ownerId: "o1" }, cache: true })).toEqual([]);
      // A save of the stale entity (version unchanged) is not a conflict, and writes its owner back only if it exists.
      const stale = await rejection(items.save({ ...before! }));
      expect(stale).toBeInstanceOf(IntegrityError);
      expect(stale.message).toMatch(/RvItem.owner: no rvfk_owners row has id "o1"$/);
    });

    test("update pointing a row at a missing parent is refused with the agreed error and changes nothing", async () => {
      await open();
      const items = storage.repository(RvItem);
      await storage.repository(RvOwner).save({ id: "o1" });
      await items.save({ id: "i1", name: "x", ownerId: "o1", keeperId: null });
      const error = await rejection(items.update("i1", { keeperId: "nobody", name: "changed" }));
      expect(error).toBeInstanceOf(IntegrityError);
      expect(error.message).toMatch(/RvItem.keeper: no rvfk_owners row has id "nobody"$/);
      expect((error as IntegrityError).table).toBe("rvfk_items");
      expect((error as IntegrityError).field).toBe("keeperId");
      expect((await items.findById("i1"))?.name).toBe("x");
    });

    test("two concurrent transactions: one deletes the parent, the other inserts a child; no orphan is left", async () => {
      await open();
      const owners = storage.repository(RvOwner);
      const nodes = storage.repository(RvNode);
      await nodes.save({ id: "p", parentId: null });
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const deleting = storage.transaction(async () => {
        await nodes.delete("p");
        await gate;
      });
      const inserting = storage.transaction(async () => {
        await nodes.insert({ id: "c", parentId: "p" });
      });
      setTimeout(release, 50);
      const outcomes = await Promise.allSettled([deleting, inserting]);
      const failed = outcomes.filter((o) => o.status === "rejected") as PromiseRejectedResult[];
      expect(failed.length).toBeLessThanOrEqual(1);
      for (const f of failed) expect(f.reason).toBeInstanceOf(IntegrityError);
      const left = await nodes.findAll();
      for (const row of left) if (row.parentId !== null) expect(ids(left)).toContain(row.parentId);
      void owners;
    });
  });
}
