/**
 * Keyset pages served by an ordered index (memory and file backends, one engine): the walk seeks to the
 * page's position instead of reading from the start, and where the index is in the order's key order
 * inside a run of equal values it starts right after the position, in both directions and with the key
 * running with the walk or against it (`rank desc, id asc` walked backwards over the index `rank, id`).
 * Every page of every walk is checked against the order computed here, with many ties and nulls, so that
 * page boundaries fall inside runs. The conformance suite's entities have no such index.
 */
import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { afterAll, describe, expect, test } from "vitest";
import { createStorage } from "../../src/index.js";
import type { Repository, Storage } from "../../src/index.js";

@Entity("seek_rows")
@Index(["rank"])
@Index(["team", "rank"])
class SeekRow {
  @PrimaryColumn({ type: "integer" }) id: number;
  @Column({ type: "string" }) team: string;
  @Column({ type: "integer", nullable: true }) rank: number | null;
}

/** 240 rows: rank null every 6th row, else one of 5 values (runs of about 40), teams a, b and c. */
const rows: SeekRow[] = Array.from({ length: 240 }, (_, k) => ({ id: (k * 37) % 241, team: "abc"[k % 3]!, rank: k % 6 === 0 ? null : k % 5 }));

type Direction = "asc" | "desc";
type Where = { team?: string; rank?: { $in: number[] } | { $gte: number } };

/** The contract's order: nulls first ascending and last descending, then the id (ascending unless given). */
function expected(all: readonly SeekRow[], where: Where, rank: Direction, id: Direction, byTeam = false): number[] {
  const matches = all.filter((r) => {
    if (where.team !== undefined && r.team !== where.team) return false;
    const on = where.rank;
    if (on && "$in" in on) return r.rank !== null && on.$in.includes(r.rank);
    if (on && "$gte" in on) return r.rank !== null && r.rank >= on.$gte;
    return true;
  });
  const nullsFirst = (a: number | null, b: number | null) => (a === b ? 0 : a === null ? -1 : b === null ? 1 : a - b);
  return matches
    .slice()
    .sort((a, b) => {
      if (byTeam && a.team !== b.team) return a.team < b.team ? -1 : 1;
      const r = byTeam ? 0 : nullsFirst(a.rank, b.rank) * (rank === "asc" ? 1 : -1);
      return r !== 0 ? r : (a.id - b.id) * (id === "asc" ? 1 : -1);
    })
    .map((r) => r.id);
}

async function walk(repo: Repository<SeekRow, number>, where: Where, orderBy: Record<string, Direction>, first: number): Promise<number[]> {
  const ids: number[] = [];
  let after: string | null = null;
  do {
    const page: { items: SeekRow[]; nextCursor: string | null } = await repo.findPage({ where, orderBy, first, ...(after ? { after } : {}) } as never);
    ids.push(...page.items.map((r) => r.id));
    after = page.nextCursor;
  } while (after !== null);
  return ids;
}

const dir = mkdtempSync(path.join(tmpdir(), "strata-seek-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

const backends = [
  ["memory", () => "memory:"],
  ["file", () => `file:${path.join(dir, `f${++n}`)}`],
] as const;

const wheres: Where[] = [{}, { team: "b" }, { rank: { $in: [3, 1] } }, { rank: { $gte: 2 } }, { team: "c", rank: { $gte: 1 } }];

for (const [label, url] of backends) {
  describe(`${label}: keyset pages over an ordered index`, () => {
    async function seeded(): Promise<Storage> {
      const storage = await createStorage({ url: url(), entities: [SeekRow], autoCreate: true, cache: false });
      await storage.repository(SeekRow).saveMany(rows);
      return storage;
    }

    test("every page of rank asc/desc, with the id asc/desc, is the next rows of the order: none repeated or skipped", async () => {
      const storage = await seeded();
      try {
        const repo = storage.repository(SeekRow);
        for (const where of wheres) {
          for (const [rank, id] of [["asc", "asc"], ["desc", "asc"], ["asc", "desc"], ["desc", "desc"]] as const) {
            for (const first of [1, 7, 40]) {
              const orderBy: Record<string, Direction> = id === "asc" ? { rank } : { rank, id };
              expect(await walk(repo, where, orderBy, first), `${JSON.stringify({ where, orderBy, first })}`).toEqual(expected(rows, where, rank, id));
            }
          }
        }
      } finally {
        await storage.close();
      }
    });

    test("an index with columns past the order's (team of team, rank) pages by team runs", async () => {
      const storage = await seeded();
      try {
        const repo = storage.repository(SeekRow);
        for (const id of ["asc", "desc"] as const) {
          expect(await walk(repo, {}, id === "asc" ? { team: "asc" } : { team: "asc", id }, 9)).toEqual(expected(rows, {}, "asc", id, true));
        }
      } finally {
        await storage.close();
      }
    });

    test("inside a transaction, its own rows and changes are paged in their places", async () => {
      const storage = await seeded();
      try {
        const repo = storage.repository(SeekRow);
        await storage.transaction(async () => {
          const added = [
            { id: 500, team: "b", rank: 2 },
            { id: 1, team: "b", rank: null },
            { id: 501, team: "a", rank: 4 },
          ];
          await repo.saveMany(added);
          await repo.delete(rows[10]!.id);
          const now = [...rows.filter((r) => r.id !== rows[10]!.id && r.id !== 1), ...added];
          for (const where of [{}, { team: "b" }]) {
            for (const [rank, id] of [["desc", "asc"], ["asc", "desc"]] as const) {
              const orderBy: Record<string, Direction> = id === "asc" ? { rank } : { rank, id };
              expect(await walk(repo, where, orderBy, 6), `${JSON.stringify({ where, orderBy })}`).toEqual(expected(now, where, rank, id));
            }
          }
        });
      } finally {
        await storage.close();
      }
    });
  });
}
