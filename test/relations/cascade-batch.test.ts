/**
 * Cascading deletes and deleteMany of thousands of rows on the engine's backends (memory, file), which write
 * them as one batch (one undo entry per table, one pass per index): a savepoint rolled back restores every
 * row and what the indexes find, rows the transaction changed before the cascade come back as it left them,
 * unique values held by those rows stay held, and a file directory reopened shows exactly the rows left.
 */
import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from "typeorm";
import { afterAll, afterEach, describe, expect, test } from "vitest";
import type { Storage } from "../../src/index.js";
import { createStorage, IntegrityError } from "../../src/index.js";

@Entity("cb_parents")
class CbParent {
  @PrimaryColumn({ type: "integer" }) id!: number;
  @Column() name!: string;
}

@Entity("cb_children")
class CbChild {
  @PrimaryColumn({ type: "integer" }) id!: number;
  @Index({ unique: true }) @Column() code!: string;
  @Column({ type: "integer" }) rank!: number;
  @Column({ type: "integer" }) parentId!: number;
  @ManyToOne(() => CbParent, { nullable: false, onDelete: "CASCADE" }) @JoinColumn({ name: "parentId" }) parent?: CbParent;
}

/** Grandchildren: a second level reached through the children. */
@Entity("cb_toys")
class CbToy {
  @PrimaryColumn({ type: "integer" }) id!: number;
  @Column({ type: "integer" }) childId!: number;
  @ManyToOne(() => CbChild, { nullable: false, onDelete: "CASCADE" }) @JoinColumn({ name: "childId" }) child?: CbChild;
}

const ENTITIES = [CbParent, CbChild, CbToy];
const CHILDREN = 3000;

const dir = mkdtempSync(path.join(tmpdir(), "strata-cascade-batch-"));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const backends = [
  { name: "memory", url: () => "memory:" },
  { name: "file", url: () => `file:${path.join(dir, `f${++n}`)}` },
];

/** Parents 1 and 2, each with CHILDREN children (codes c<id>, ranks id % 10) and one toy per child. */
async function fill(storage: Storage): Promise<void> {
  await storage.repository(CbParent).saveMany([
    { id: 1, name: "one" },
    { id: 2, name: "two" },
  ]);
  const children = Array.from({ length: 2 * CHILDREN }, (_, id) => ({ id, code: `c${id}`, rank: id % 10, parentId: id < CHILDREN ? 1 : 2 }));
  await storage.repository(CbChild).saveMany(children);
  await storage.repository(CbToy).saveMany(children.map((c) => ({ id: c.id, childId: c.id })));
}

/** What a reader sees of the children and toys: counts by scan and through the indexes. */
async function seen(storage: Storage) {
  const children = storage.repository(CbChild);
  return {
    children: await children.count({}),
    ofParent1: await children.count({ parentId: 1 }),
    ofParent2: await children.count({ parentId: 2 }),
    rank3: (await children.findAll({ where: { rank: 3 }, orderBy: { id: "asc" } })).map((c) => c.id),
    toys: await storage.repository(CbToy).count({}),
    toysOfChild5: await storage.repository(CbToy).count({ childId: 5 }),
  };
}

for (const backend of backends) {
  describe(`${backend.name}: batched cascading deletes`, () => {
    let storage: Storage;
    afterEach(async () => {
      await storage?.close();
    });
    const open = async (url = backend.url()) => {
      storage = await createStorage({ url, entities: ENTITIES, autoCreate: true, cache: false });
      return storage;
    };

    test("a cascade of thousands rolled back to its savepoint restores every child, toy and index entry", async () => {
      await open();
      await fill(storage);
      const before = await seen(storage);
      expect(before.ofParent1).toBe(CHILDREN);
      await storage.transaction(async (tx) => {
        // Changed before the cascade: it must come back changed, not as committed.
        await tx.repository(CbChild).update(7, { rank: 3 });
        await tx.repository(CbChild).insert({ id: 9_999_999, code: "fresh", rank: 3, parentId: 1 });
        const changed = await seen(storage);
        await storage.transaction(async (inner) => {
          expect(await inner.repository(CbParent).delete(1)).toBe(true);
          const during = await seen(storage);
          expect(during.ofParent1).toBe(0);
          expect(during.children).toBe(CHILDREN);
          expect(during.toys).toBe(CHILDREN);
          expect(during.toysOfChild5).toBe(0);
          throw new Error("roll back");
        }).catch((error: Error) => expect(error.message).toBe("roll back"));
        expect(await seen(storage)).toEqual(changed);
        expect((await tx.repository(CbChild).findById(7))?.rank).toBe(3);
        // The unique value of the row inserted before the cascade is still held.
        await expect(tx.repository(CbChild).insert({ id: 9_999_998, code: "fresh", rank: 0, parentId: 2 })).rejects.toBeInstanceOf(IntegrityError);
        // And the codes of the rows the cascade deleted then gave back are held again too.
        await expect(tx.repository(CbChild).insert({ id: 9_999_997, code: "c10", rank: 0, parentId: 2 })).rejects.toBeInstanceOf(IntegrityError);
      });
      const after = await seen(storage);
      expect(after.ofParent1).toBe(CHILDREN + 1);
      expect(after.rank3).toEqual([...before.rank3, 7, 9_999_999].sort((a, b) => a - b));
    });

    test("a committed cascade leaves exactly the other parent's rows, and their unique values free", async () => {
      await open();
      await fill(storage);
      await storage.transaction(async (tx) => {
        await tx.repository(CbChild).update(8, { rank: 4 });
        expect(await tx.repository(CbParent).delete(1)).toBe(true);
      });
      const after = await seen(storage);
      expect(after).toEqual({
        children: CHILDREN,
        ofParent1: 0,
        ofParent2: CHILDREN,
        rank3: Array.from({ length: CHILDREN }, (_, i) => CHILDREN + i).filter((id) => id % 10 === 3),
        toys: CHILDREN,
        toysOfChild5: 0,
      });
      // The deleted children's codes are free again.
      await storage.repository(CbParent).insert({ id: 1, name: "again" });
      await storage.repository(CbChild).insert({ id: 5, code: "c5", rank: 0, parentId: 1 });
      expect(await storage.repository(CbChild).count({ parentId: 1 })).toBe(1);
    });

    test("deleteMany of thousands rolled back to its savepoint restores them; committed, leaves the rest", async () => {
      await open();
      await fill(storage);
      await storage.transaction(async () => {
        await storage
          .transaction(async (inner) => {
            expect(await inner.repository(CbToy).deleteMany({})).toBe(2 * CHILDREN);
            expect(await inner.repository(CbChild).deleteMany({ rank: 3 })).toBe((2 * CHILDREN) / 10);
            expect(await inner.repository(CbChild).count({ rank: 3 })).toBe(0);
            throw new Error("roll back");
          })
          .catch(() => {});
        expect(await storage.repository(CbToy).count({ childId: 13 })).toBe(1);
        expect(await storage.repository(CbChild).count({ rank: 3 })).toBe((2 * CHILDREN) / 10);
      });
      expect(await storage.repository(CbChild).deleteMany({ rank: 3 })).toBe((2 * CHILDREN) / 10);
      expect(await storage.repository(CbChild).count({ rank: 3 })).toBe(0);
      expect(await storage.repository(CbChild).count({ rank: 4 })).toBe((2 * CHILDREN) / 10);
      expect(await storage.repository(CbToy).count({})).toBe(2 * CHILDREN - (2 * CHILDREN) / 10);
    });

    test.skipIf(backend.name !== "file")("reopened after a batched cascade, the directory shows exactly the rows left", async () => {
      const url = backend.url();
      await open(url);
      await fill(storage);
      expect(await storage.repository(CbParent).delete(2)).toBe(true);
      await storage.repository(CbChild).deleteMany({ rank: 9 });
      const expected = await seen(storage);
      const ids = (await storage.repository(CbChild).findAll({ orderBy: { id: "asc" } })).map((c) => c.id);
      await storage.close();
      await open(url);
      expect(await seen(storage)).toEqual(expected);
      expect((await storage.repository(CbChild).findAll({ orderBy: { id: "asc" } })).map((c) => c.id)).toEqual(ids);
      expect(ids).toEqual(Array.from({ length: CHILDREN }, (_, i) => i).filter((id) => id % 10 !== 9));
    });
  });
}
