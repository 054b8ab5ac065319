/**
 * Review of the engine's keyset seek (issue 11): findPage walks over ordered indexes (single and
 * composite, orders in either direction, mixed, with and without the key), checked against the whole
 * table sorted here, with many ties and nulls, string keys in code-point order, rows inserted and deleted
 * between pages, and walks inside a transaction (own writes, a rolled-back savepoint). SQLite and
 * PostgreSQL run the same walks (their keyset SQL over the database's own indexes).
 */
import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createStorage } from "../../src/index.js";
import type { Repository } from "../../src/index.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "../postgres/pg-test-database.js";

@Entity("rv_pages")
@Index(["s"])
@Index(["i"])
@Index(["s", "i"])
@Index(["i", "d"])
@Index(["d"])
class PageRow {
  @PrimaryColumn({ type: "string" }) id: string;
  @Column({ type: "string", nullable: true }) s: string | null;
  @Column({ type: "integer", nullable: true }) i: number | null;
  @Column({ type: "datetime", nullable: true }) d: Date | null;
}

type Field = "s" | "i" | "d" | "id";
type Direction = "asc" | "desc";
interface Plain {
  id: string;
  s: string | null;
  i: number | null;
  d: number | null;
}

// Keys and values that differ between UTF-16 and code-point order, and few values, so runs are long.
const KEYS = ["a", "B", "b", "\u{1F600}", "\uFFFF", "\uFF21", "é", "az", "aa", "Z", "0", "~", "\u00E9x", "zz", "m", ...Array.from({ length: 45 }, (_, k) => `k${k}`)];
const STRINGS = ["a", "B", "\u{1F600}", "\uFFFF", "ab"];
const INTS = [-1, 0, 3];
const DATES = [0, 86_400_000];

function cmpCodePoints(a: string, b: string): number {
  const x = [...a].map((c) => c.codePointAt(0)!);
  const y = [...b].map((c) => c.codePointAt(0)!);
  for (let k = 0; k < Math.min(x.length, y.length); k++) if (x[k] !== y[k]) return x[k]! - y[k]!;
  return x.length - y.length;
}

/** The contract's order: nulls first ascending and last descending, strings by code point, then the id ascending unless ordered. */
function sorter(orderBy: Record<string, Direction>): (a: Plain, b: Plain) => number {
  const terms = Object.entries(orderBy) as [Field, Direction][];
  if (!("id" in orderBy)) terms.push(["id", "asc"]);
  return (x, y) => {
    for (const [f, dir] of terms) {
      const a = x[f];
      const b = y[f];
      if (a === b) continue;
      const sign = dir === "asc" ? 1 : -1;
      if (a === null) return -sign;
      if (b === null) return sign;
      const r = typeof a === "string" ? cmpCodePoints(a, b as string) : (a as number) - (b as number);
      if (r !== 0) return r * sign;
    }
    return 0;
  };
}

type Where = { kind: "none" } | { kind: "eq"; field: "s" | "i"; value: unknown } | { kind: "gte"; field: "i" | "s"; value: unknown } | { kind: "in"; value: number[] } | { kind: "like"; value: string };

function matches(row: Plain, w: Where): boolean {
  switch (w.kind) {
    case "none":
      return true;
    case "eq":
      return row[w.field] === w.value;
    case "gte": {
      const v = row[w.field];
      if (v === null) return false;
      return typeof v === "string" ? cmpCodePoints(v, w.value as string) >= 0 : v >= (w.value as number);
    }
    case "in":
      return row.i !== null && w.value.includes(row.i);
    case "like":
      return row.s !== null && row.s.startsWith(w.value);
  }
}

function toWhere(w: Where): Record<string, unknown> {
  switch (w.kind) {
    case "none":
      return {};
    case "eq":
      return { [w.field]: w.value };
    case "gte":
      return { [w.field]: { $gte: w.value } };
    case "in":
      return { i: { $in: w.value } };
    case "like":
      return { s: { $like: `${w.value}%` } };
  }
}

const plain = (r: PageRow): Plain => ({ id: r.id, s: r.s, i: r.i, d: r.d === null ? null : r.d.getTime() });
const entity = (p: Plain): PageRow => Object.assign(new PageRow(), { ...p, d: p.d === null ? null : new Date(p.d) });

const rowArb = (id: string) =>
  fc.record({
    id: fc.constant(id),
    s: fc.option(fc.constantFrom(...STRINGS), { nil: null, freq: 3 }),
    i: fc.option(fc.constantFrom(...INTS), { nil: null, freq: 3 }),
    d: fc.option(fc.constantFrom(...DATES), { nil: null, freq: 3 }),
  });
const tableArb = fc.subarray(KEYS, { minLength: 0 }).chain((ids) => fc.tuple(...ids.map(rowArb)));
const whereArb: fc.Arbitrary<Where> = fc.oneof(
  fc.constant({ kind: "none" as const }),
  fc.record({ kind: fc.constant("eq" as const), field: fc.constant("s" as const), value: fc.constantFrom(...STRINGS) }),
  fc.record({ kind: fc.constant("eq" as const), field: fc.constant("i" as const), value: fc.constantFrom(...INTS) }),
  fc.record({ kind: fc.constant("gte" as const), field: fc.constant("i" as const), value: fc.constantFrom(...INTS) }),
  fc.record({ kind: fc.constant("gte" as const), field: fc.constant("s" as const), value: fc.constantFrom(...STRINGS) }),
  fc.record({ kind: fc.constant("in" as const), value: fc.subarray(INTS, { minLength: 1 }) }),
  fc.record({ kind: fc.constant("like" as const), value: fc.constantFrom("a", "\u{1F600}", "\uFFFF") }),
);
const orderArb = fc
  .array(fc.record({ field: fc.constantFrom<Field>("s", "i", "d", "id"), dir: fc.constantFrom<Direction>("asc", "desc") }), { minLength: 1, maxLength: 3 })
  .map((terms) => {
    const orderBy: Record<string, Direction> = {};
    for (const t of terms) if (!(t.field in orderBy)) orderBy[t.field] = t.dir;
    return orderBy;
  });

async function walk(repo: Repository<PageRow, string>, where: Where, orderBy: Record<string, Direction>, first: number, between?: (page: number) => Promise<void>): Promise<Plain[]> {
  const out: Plain[] = [];
  let after: string | null = null;
  let pages = 0;
  do {
    const page: { items: PageRow[]; nextCursor: string | null } = await repo.findPage({ where: toWhere(where), orderBy, first, ...(after ? { after } : {}) } as never);
    out.push(...page.items.map(plain));
    after = page.nextCursor;
    if (++pages > 100) throw new Error("the walk does not end");
    if (after && between) await between(pages);
  } while (after !== null);
  return out;
}

const dir = mkdtempSync(path.join(tmpdir(), "strata-rv-pages-"));
const pgSkip = pgSkipReason();
let pg: PgTestDatabase | undefined;
beforeAll(async () => {
  if (!pgSkip) pg = await PgTestDatabase.create(PG_URL!);
});
afterAll(async () => {
  await pg?.drop();
  rmSync(dir, { recursive: true, force: true });
});
let n = 0;
// The SQL backends walk the same data as a check of the reference (their indexes are the database's own).
const backends = [
  ["memory", async () => "memory:"],
  ["file", async () => `file:${path.join(dir, `f${++n}`)}`],
  ["sqlite", async () => `sqlite:${path.join(dir, `s${++n}.db`)}`],
  ["postgres", () => pg!.freshSchemaUrl()],
] as const;

for (const [label, url] of backends) {
  describe.skipIf(label === "postgres" && pgSkip !== undefined)(`${label}: keyset pages over indexed columns against a sort of the whole table`, () => {
    test("every walk is the table filtered and sorted, whatever the page size", async () => {
      const storage = await createStorage({ url: await url(), entities: [PageRow], autoCreate: true, cache: false });
      const repo = storage.repository(PageRow);
      try {
        await fc.assert(
          fc.asyncProperty(tableArb, whereArb, orderArb, fc.integer({ min: 1, max: 4 }), async (table, where, orderBy, first) => {
            await repo.deleteMany({});
            await repo.saveMany(table.map(entity));
            const expected = table.filter((r) => matches(r, where)).sort(sorter(orderBy));
            expect(await walk(repo, where, orderBy, first)).toEqual(expected);
            const all = await repo.findAll({ where: toWhere(where), orderBy, limit: first, offset: 1 } as never);
            expect(all.map(plain)).toEqual(expected.slice(1, 1 + first));
          }),
          { numRuns: label === "memory" ? 400 : label === "file" ? 60 : 25 },
        );
      } finally {
        await storage.close();
      }
    });

    test("rows inserted and deleted between pages make no row present throughout repeat or vanish", async () => {
      const storage = await createStorage({ url: await url(), entities: [PageRow], autoCreate: true, cache: false });
      const repo = storage.repository(PageRow);
      try {
        await fc.assert(
          fc.asyncProperty(
            tableArb,
            whereArb,
            orderArb,
            fc.integer({ min: 1, max: 3 }),
            fc.array(fc.tuple(fc.constantFrom(...KEYS), rowArb("")), { maxLength: 8 }),
            async (table, where, orderBy, first, changes) => {
              await repo.deleteMany({});
              await repo.saveMany(table.map(entity));
              const live = new Map(table.map((r) => [r.id, r]));
              const touched = new Set<string>();
              const walked = await walk(repo, where, orderBy, first, async (page) => {
                // A change per page: the key is deleted when present, inserted (new values) otherwise.
                const change = changes[page - 1];
                if (!change) return;
                const [id, values] = change;
                touched.add(id);
                if (live.has(id)) {
                  await repo.delete(id);
                  live.delete(id);
                } else {
                  const row = { ...values, id };
                  await repo.insert(entity(row));
                  live.set(id, row);
                }
              });
              const order = sorter(orderBy);
              for (let k = 1; k < walked.length; k++) expect(order(walked[k - 1]!, walked[k]!), `${walked[k - 1]!.id} then ${walked[k]!.id}`).toBeLessThan(0);
              const throughout = table.filter((r) => !touched.has(r.id) && matches(r, where)).map((r) => r.id);
              const seen = walked.map((r) => r.id);
              for (const id of throughout) expect(seen.filter((s) => s === id), `row ${id}`).toHaveLength(1);
            },
          ),
          { numRuns: label === "memory" ? 300 : label === "file" ? 40 : 15 },
        );
      } finally {
        await storage.close();
      }
    });

    test("inside a transaction: its own rows, and a rolled-back savepoint's rows gone, paged in their places", async () => {
      const storage = await createStorage({ url: await url(), entities: [PageRow], autoCreate: true, cache: false });
      const repo = storage.repository(PageRow);
      try {
        await fc.assert(
          fc.asyncProperty(tableArb, fc.subarray(KEYS), whereArb, orderArb, fc.integer({ min: 1, max: 4 }), async (table, mine, where, orderBy, first) => {
            await repo.deleteMany({});
            const committed = table.filter((r) => !mine.includes(r.id));
            await repo.saveMany(committed.map(entity));
            const own = table.filter((r) => mine.includes(r.id));
            const rolledBack = class extends Error {};
            await storage.transaction(async () => {
              await repo.saveMany(own.map(entity));
              // A savepoint that deletes and changes rows, then is rolled back: the walk must see none of it.
              await storage
                .transaction(async () => {
                  for (const r of table.slice(0, 3)) await repo.delete(r.id);
                  for (const r of table.slice(3, 6)) await repo.save(entity({ ...r, s: "a", i: 0 }));
                  throw new rolledBack();
                })
                .catch((e: unknown) => {
                  if (!(e instanceof rolledBack)) throw e;
                });
              const expected = table.filter((r) => matches(r, where)).sort(sorter(orderBy));
              expect(await walk(repo, where, orderBy, first)).toEqual(expected);
            });
          }),
          { numRuns: label === "memory" ? 200 : label === "file" ? 30 : 15 },
        );
      } finally {
        await storage.close();
      }
    });
  });
}
