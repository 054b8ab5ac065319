/**
 * Review of limit and offset written as digits in SQL finds (issue 11), and of PostgreSQL's select list
 * collating the sorted string columns: hostile limits, offsets and page sizes are a QueryError (or
 * for iterate's pageSize a ValidationError) before any SQL runs, on every backend; projections, reserved and quoted column names,
 * includes and every walk (findAll, iterate, findPage) answer as the memory backend does.
 */
import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Column, Entity, Index, JoinColumn, ManyToOne, OneToMany, PrimaryColumn } from "typeorm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createStorage, QueryError } from "../../src/index.js";
import type { Storage } from "../../src/index.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "../postgres/pg-test-database.js";

@Entity("rv_shelves")
class RvShelf {
  @PrimaryColumn({ type: "string" }) id: string;
  @Column({ type: "string", nullable: true }) name: string | null;
  @OneToMany(() => RvBook, (b) => b.shelf) books?: RvBook[];
}

@Entity("rv_books")
@Index(["order"])
class RvBook {
  @PrimaryColumn({ type: "string" }) id: string;
  @Column({ type: "string", nullable: true, name: "select" }) order: string | null;
  @Column({ type: "string", nullable: true, name: 'ti"tle' }) title: string | null;
  @Column({ type: "integer", nullable: true }) rank: number | null;
  @ManyToOne(() => RvShelf, (s) => s.books, { nullable: true }) @JoinColumn({ name: "shelfId" }) shelf?: RvShelf;
  @Column({ type: "string", nullable: true }) shelfId: string | null;
}

const TITLES = ["b", "B", "a", null, "\u{1F600}", "\uFFFF", "é", "a b"];
const books: RvBook[] = Array.from({ length: 40 }, (_, k) =>
  Object.assign(new RvBook(), {
    id: `k${String((k * 17) % 40).padStart(2, "0")}`,
    order: TITLES[k % TITLES.length]!,
    title: TITLES[(k * 3) % TITLES.length]!,
    rank: k % 5 === 0 ? null : k % 4,
    shelfId: k % 3 === 0 ? null : `s${k % 3}`,
  }),
);
const shelves = [Object.assign(new RvShelf(), { id: "s1", name: "one" }), Object.assign(new RvShelf(), { id: "s2", name: null })];

const dir = mkdtempSync(path.join(tmpdir(), "strata-rv-paging-"));
let pg: PgTestDatabase | undefined;
const pgSkip = pgSkipReason();
beforeAll(async () => {
  if (!pgSkip) pg = await PgTestDatabase.create(PG_URL!);
});
afterAll(async () => {
  await pg?.drop();
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
const backends: { name: string; skip?: string | undefined; url: () => Promise<string> }[] = [
  { name: "memory", url: async () => "memory:" },
  { name: "file", url: async () => `file:${path.join(dir, `f${++n}`)}` },
  { name: "sqlite", url: async () => `sqlite:${path.join(dir, `s${++n}.db`)}` },
  { name: "postgres", skip: pgSkip, url: () => pg!.freshSchemaUrl() },
];

const ids = (rows: readonly { id: string }[]) => rows.map((r) => r.id);

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(`${backend.name}: paging values and sorted string columns`, () => {
    let storage: Storage;
    let memory: Storage;
    beforeAll(async () => {
      storage = await createStorage({ url: await backend.url(), entities: [RvShelf, RvBook], autoCreate: true, cache: false });
      memory = await createStorage({ url: "memory:", entities: [RvShelf, RvBook], autoCreate: true, cache: false });
      for (const s of [storage, memory]) {
        await s.repository(RvShelf).saveMany(shelves);
        await s.repository(RvBook).saveMany(books);
      }
    });
    afterAll(async () => {
      await storage?.close();
      await memory?.close();
    });

    test("a limit or offset that is not a non-negative safe integer is a QueryError naming it; 0 and large ones answer", async () => {
      const repo = storage.repository(RvBook);
      for (const bad of [-1, Number.NaN, Infinity, 1.5, 2 ** 53, "10; drop table rv_books", "10", 10n, null, {}]) {
        await expect(repo.findAll({ limit: bad } as never), `limit ${String(bad)}`).rejects.toThrow(QueryError);
        await expect(repo.findAll({ limit: bad } as never)).rejects.toThrow(/limit/);
        await expect(repo.findAll({ offset: bad } as never), `offset ${String(bad)}`).rejects.toThrow(QueryError);
        await expect(repo.findPage({ first: bad } as never), `first ${String(bad)}`).rejects.toThrow(QueryError);
        await expect(repo.findOne({ where: {}, offset: bad } as never), `findOne offset ${String(bad)}`).rejects.toThrow(QueryError);
      }
      expect(await repo.count()).toBe(books.length);
      expect(await repo.findAll({ limit: 0 })).toEqual([]);
      expect(await repo.findAll({ limit: 0, offset: 3 })).toEqual([]);
      const all = ids(await memory.repository(RvBook).findAll({ orderBy: { title: "desc" } }));
      expect(ids(await repo.findAll({ orderBy: { title: "desc" }, offset: 0 }))).toEqual(all);
      expect(ids(await repo.findAll({ orderBy: { title: "desc" }, limit: Number.MAX_SAFE_INTEGER, offset: 5 }))).toEqual(all.slice(5));
      expect(ids(await repo.findAll({ orderBy: { title: "desc" }, offset: Number.MAX_SAFE_INTEGER }))).toEqual([]);
      expect(ids(await repo.findAll({ orderBy: { title: "desc" }, limit: 3, offset: Number.MAX_SAFE_INTEGER }))).toEqual([]);
      const rows: string[] = [];
      for await (const b of repo.iterate({ orderBy: { title: "desc" }, limit: Number.MAX_SAFE_INTEGER, offset: 38 }, { pageSize: 1 })) rows.push(b.id);
      expect(rows).toEqual(all.slice(38));
      // findPage asks for first + 1 rows: 2^53, past the safe integers, limits as the largest one.
      const whole = await repo.findPage({ orderBy: { title: "desc" }, first: Number.MAX_SAFE_INTEGER });
      expect([ids(whole.items), whole.nextCursor]).toEqual([all, null]);
      const split = await repo.findPage({ orderBy: { rank: "desc" }, first: 2 });
      const rest = await repo.findPage({ orderBy: { rank: "desc" }, first: Number.MAX_SAFE_INTEGER, after: split.nextCursor! });
      expect(ids([...split.items, ...rest.items])).toEqual(ids(await memory.repository(RvBook).findAll({ orderBy: { rank: "desc" } })));
    });

    test("iterate with a page size past 2^31 (PostgreSQL's FETCH takes a 32-bit count) walks every row in one page", async () => {
      const repo = storage.repository(RvBook);
      const expected = ids(await memory.repository(RvBook).findAll({ orderBy: { rank: "desc" } }));
      for (const pageSize of [2 ** 31 - 1, 2 ** 31, Number.MAX_SAFE_INTEGER]) {
        const walked: string[] = [];
        for await (const b of repo.iterate({ orderBy: { rank: "desc" } }, { pageSize })) walked.push(b.id);
        expect(walked, `pageSize ${pageSize}`).toEqual(expected);
      }
    });

    test("a projection ordered by string columns (reserved and quoted names, in it or not) answers as memory does", async () => {
      const repo = storage.repository(RvBook);
      const mem = memory.repository(RvBook);
      const cases = [
        { select: ["rank"], orderBy: { title: "asc", order: "desc" } },
        { select: ["title"], orderBy: { title: "desc" } },
        { select: ["order", "title"], orderBy: { order: "asc", rank: "desc", id: "desc" } },
        { select: ["id"], orderBy: { order: "desc" }, where: { order: { $gte: "a" } } },
        { select: ["title", "rank"], orderBy: { rank: "desc", title: "asc" }, where: { title: { $ne: "B" } } },
      ] as const;
      for (const c of cases) {
        for (const [limit, offset] of [[undefined, undefined], [3, 0], [1, 7], [50, 2]] as const) {
          const query = { ...c, ...(limit === undefined ? {} : { limit }), ...(offset === undefined ? {} : { offset }) } as never;
          expect(await repo.findAll(query), JSON.stringify(query)).toEqual(await mem.findAll(query));
          const walked: unknown[] = [];
          for await (const row of repo.iterate(query, { pageSize: 2 })) walked.push(row);
          expect(walked, `iterate ${JSON.stringify(query)}`).toEqual(await mem.findAll(query));
        }
      }
    });

    test("findPage by reserved and quoted string columns, with an include, walks memory's order page by page", async () => {
      const repo = storage.repository(RvBook);
      const mem = memory.repository(RvBook);
      for (const orderBy of [{ order: "desc" }, { title: "asc", order: "asc" }, { title: "desc", id: "desc" }, { rank: "desc", order: "desc" }] as const) {
        for (const first of [1, 3, 100]) {
          const walk = async (r: typeof repo) => {
            const out: unknown[] = [];
            let after: string | null = null;
            do {
              const page: { items: RvBook[]; nextCursor: string | null } = await r.findPage({ orderBy, first, include: { shelf: true }, ...(after ? { after } : {}) } as never);
              out.push(...page.items);
              after = page.nextCursor;
            } while (after);
            return out;
          };
          expect(await walk(repo), `${JSON.stringify(orderBy)} first ${first}`).toEqual(await walk(mem));
        }
      }
      const shelvesWithBooks = { orderBy: { name: "desc" }, include: { books: { orderBy: { title: "desc" }, limit: 2 } } } as never;
      expect(await storage.repository(RvShelf).findAll(shelvesWithBooks)).toEqual(await memory.repository(RvShelf).findAll(shelvesWithBooks));
    });

    test("inside a transaction: pages by a string column with a limit and an offset see the transaction's writes", async () => {
      const repo = storage.repository(RvBook);
      await storage
        .transaction(async () => {
          await repo.save(Object.assign(new RvBook(), { id: "zz", order: "a", title: "a", rank: 1, shelfId: null }));
          const page = await repo.findAll({ orderBy: { title: "asc", order: "desc" }, select: ["title"], limit: 4, offset: 1 });
          const expected = await memory.transaction(async () => {
            await memory.repository(RvBook).save(Object.assign(new RvBook(), { id: "zz", order: "a", title: "a", rank: 1, shelfId: null }));
            const m = await memory.repository(RvBook).findAll({ orderBy: { title: "asc", order: "desc" }, select: ["title"], limit: 4, offset: 1 });
            throw Object.assign(new Error("undo"), { m });
          }).catch((e: { m: unknown }) => e.m);
          expect(page).toEqual(expected);
          throw new Error("undo");
        })
        .catch((e: Error) => {
          if (e.message !== "undo") throw e;
        });
      expect(await repo.count()).toBe(books.length);
    });
  });
}

test("a cursor of another query, or altered, is a QueryError naming after", async () => {
  const storage = await createStorage({ url: "memory:", entities: [RvShelf, RvBook], autoCreate: true, cache: false });
  try {
    const repo = storage.repository(RvBook);
    await storage.repository(RvShelf).saveMany(shelves);
    await repo.saveMany(books);
    const page = await repo.findPage({ orderBy: { title: "asc" }, first: 2 });
    const cursor = page.nextCursor!;
    await expect(repo.findPage({ orderBy: { title: "desc" }, first: 2, after: cursor })).rejects.toThrow(QueryError);
    await expect(repo.findPage({ orderBy: { title: "asc" }, where: { rank: 1 }, first: 2, after: cursor })).rejects.toThrow(/another query/);
    await expect(repo.findPage({ orderBy: { order: "asc" }, first: 2, after: cursor })).rejects.toThrow(QueryError);
    const json = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as { k: unknown[] };
    json.k[0] = "zzz";
    await expect(repo.findPage({ orderBy: { title: "asc" }, first: 2, after: Buffer.from(JSON.stringify(json)).toString("base64url") })).rejects.toThrow(/altered/);
    for (const bad of ["", "!!", cursor.slice(0, -3), 42, {}, cursor + "="]) {
      await expect(repo.findPage({ orderBy: { title: "asc" }, first: 2, after: bad } as never), String(bad)).rejects.toThrow(QueryError);
    }
    expect((await repo.findPage({ orderBy: { title: "asc" }, first: 2, after: cursor })).items).toHaveLength(2);
  } finally {
    await storage.close();
  }
});
