/**
 * Savepoints over batched deletes, against a model: random sequences of inserts, updates, deletes and
 * deleteMany (the same keys deleted, inserted again and deleted again in one transaction), in nested
 * transactions that commit or roll back, on the engine's backends. After each step, what a reader of the
 * transaction sees (rows by scan, by the rank index in both directions, counts, unique codes) matches the
 * model; after the commit, the storage (and a reopened file directory) holds exactly the model's rows.
 */
import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { afterAll, describe, expect, test } from "vitest";
import type { Storage, Transaction } from "../../src/index.js";
import { createStorage, IntegrityError } from "../../src/index.js";

@Entity("rve_sp_rows")
class RveSpRow {
  @PrimaryColumn({ type: "integer" }) id!: number;
  @Index({ unique: true }) @Column({ type: "varchar" }) code!: string;
  @Index() @Column({ type: "integer", nullable: true }) rank!: number | null;
}

interface ModelRow {
  id: number;
  code: string;
  rank: number | null;
}

type Op =
  | { kind: "insert"; id: number; code: string; rank: number | null }
  | { kind: "update"; id: number; code: string; rank: number | null }
  | { kind: "delete"; id: number }
  | { kind: "deleteRank"; rank: number }
  | { kind: "deleteAbove"; rank: number }
  | { kind: "nested"; ops: Op[]; rollback: boolean };

const ID = fc.integer({ min: 0, max: 120 });
const CODE = fc.integer({ min: 0, max: 150 }).map((n) => `c${n}`);
const RANK = fc.option(fc.integer({ min: 0, max: 5 }), { nil: null });
const { op } = fc.letrec<{ op: Op }>((tie) => ({
  op: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.record({ kind: fc.constant("insert" as const), id: ID, code: CODE, rank: RANK }),
    fc.record({ kind: fc.constant("update" as const), id: ID, code: CODE, rank: RANK }),
    fc.record({ kind: fc.constant("delete" as const), id: ID }),
    fc.record({ kind: fc.constant("deleteRank" as const), rank: fc.integer({ min: 0, max: 5 }) }),
    fc.record({ kind: fc.constant("deleteAbove" as const), rank: fc.integer({ min: 0, max: 5 }) }),
    fc.record({ kind: fc.constant("nested" as const), ops: fc.array(tie("op"), { maxLength: 6 }), rollback: fc.boolean() }),
  ),
}));

const ROLLBACK = new Error("roll back");

function codeTaken(model: Map<number, ModelRow>, code: string, except: number): boolean {
  for (const r of model.values()) if (r.code === code && r.id !== except) return true;
  return false;
}

async function run(storage: Storage, tx: Transaction, model: Map<number, ModelRow>, ops: readonly Op[]): Promise<void> {
  const repo = tx.repository(RveSpRow);
  for (const o of ops) {
    switch (o.kind) {
      case "insert": {
        const ok = !model.has(o.id) && !codeTaken(model, o.code, o.id);
        const result = repo.insert({ id: o.id, code: o.code, rank: o.rank });
        if (ok) {
          await result;
          model.set(o.id, { id: o.id, code: o.code, rank: o.rank });
        } else await expect(result).rejects.toBeInstanceOf(IntegrityError);
        break;
      }
      case "update": {
        if (!model.has(o.id)) break;
        const ok = !codeTaken(model, o.code, o.id);
        const result = repo.update(o.id, { code: o.code, rank: o.rank });
        if (ok) {
          await result;
          model.set(o.id, { id: o.id, code: o.code, rank: o.rank });
        } else await expect(result).rejects.toBeInstanceOf(IntegrityError);
        break;
      }
      case "delete":
        expect(await repo.delete(o.id)).toBe(model.delete(o.id));
        break;
      case "deleteRank":
      case "deleteAbove": {
        const hit = [...model.values()].filter((r) => r.rank !== null && (o.kind === "deleteRank" ? r.rank === o.rank : r.rank >= o.rank));
        const where = o.kind === "deleteRank" ? { rank: o.rank } : { rank: { $gte: o.rank } };
        expect(await repo.deleteMany(where)).toBe(hit.length);
        for (const r of hit) model.delete(r.id);
        break;
      }
      case "nested": {
        const inner = new Map([...model].map(([k, v]) => [k, { ...v }]));
        const result = storage.transaction(async (t) => {
          await run(storage, t, inner, o.ops);
          if (o.rollback) throw ROLLBACK;
        });
        if (o.rollback) await expect(result).rejects.toBe(ROLLBACK);
        else {
          await result;
          model.clear();
          for (const [k, v] of inner) model.set(k, v);
        }
        break;
      }
    }
    await expectModel(tx.repository(RveSpRow), model);
  }
}

interface Reader {
  findAll(query: object): Promise<RveSpRow[]>;
  findOne(query: object): Promise<RveSpRow | null>;
  count(where: object): Promise<number>;
}

async function expectModel(r: Reader, model: Map<number, ModelRow>): Promise<void> {
  const rows = [...model.values()].sort((a, b) => a.id - b.id);
  const plain = (xs: RveSpRow[]) => xs.map((x) => ({ id: x.id, code: x.code, rank: x.rank }));
  expect(plain(await r.findAll({ orderBy: { id: "asc" } }))).toEqual(rows);
  const byRankDesc = [...rows].sort((a, b) => (b.rank ?? -1) - (a.rank ?? -1) || b.id - a.id);
  expect(plain(await r.findAll({ orderBy: { rank: "desc", id: "desc" } }))).toEqual(byRankDesc);
  expect(plain(await r.findAll({ where: { rank: { $gte: 2, $lt: 4 } }, orderBy: { rank: "asc", id: "asc" } }))).toEqual(
    rows.filter((x) => x.rank !== null && x.rank >= 2 && x.rank < 4).sort((a, b) => a.rank! - b.rank! || a.id - b.id),
  );
  expect(await r.count({ rank: null })).toBe(rows.filter((x) => x.rank === null).length);
  for (const code of ["c1", "c7", "c40"]) expect((await r.findOne({ where: { code } }))?.id).toBe(rows.find((x) => x.code === code)?.id);
}

const dir = mkdtempSync(path.join(tmpdir(), "rve-savepoint-model-"));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

for (const backend of ["memory", "file"]) {
  describe(`${backend}: savepoints over batched deletes`, () => {
    test("nested transactions of inserts, updates, deletes and deleteMany agree with a model", async () => {
      const initial = Array.from({ length: 100 }, (_, id) => ({ id, code: `c${id}`, rank: id % 7 === 6 ? null : id % 6 }));
      await fc.assert(
        fc.asyncProperty(fc.array(op, { maxLength: 12 }), fc.boolean(), async (ops, rollback) => {
          const url = backend === "memory" ? "memory:" : `file:${path.join(dir, `f${++n}`)}`;
          const storage = await createStorage({ url, entities: [RveSpRow], autoCreate: true, cache: false });
          try {
            await storage.repository(RveSpRow).saveMany(initial);
            const committed = new Map(initial.map((r) => [r.id, { ...r }]));
            const model = new Map(initial.map((r) => [r.id, { ...r }]));
            const result = storage.transaction(async (tx) => {
              await run(storage, tx, model, ops);
              if (rollback) throw ROLLBACK;
            });
            if (rollback) await expect(result).rejects.toBe(ROLLBACK);
            else await result;
            const expected = rollback ? committed : model;
            await expectModel(storage.repository(RveSpRow), expected);
            if (backend === "file") {
              await storage.close();
              const again = await createStorage({ url, entities: [RveSpRow], cache: false });
              try {
                await expectModel(again.repository(RveSpRow), expected);
              } finally {
                await again.close();
              }
            }
          } finally {
            await storage.close();
          }
        }),
        { numRuns: 40 },
      );
    });
  });
}
