/**
 * Attacks on issue 11's changes that found nothing broken, kept so that they keep holding: a streamed walk
 * with a relation filter, include, offset and limit against findAll, many walks at once, property names
 * that could break generated source (quotes, backslashes, U+2028/U+2029, Object.prototype's names) through
 * the SQL row decoder and the engine's compiled AND-groups, and `$like`/`$ilike` on an indexed column (the
 * engine settles short `$ilike` prefixes by index ranges) answering as SQLite does.
 */
import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Column, Entity, Index, JoinColumn, ManyToOne, OneToMany, PrimaryColumn } from "typeorm";
import { afterAll, describe, expect, test } from "vitest";
import { createStorage } from "../../src/index.js";

@Entity("rv_authors")
class Author {
  @PrimaryColumn({ type: "integer" }) id: number;
  @Column({ type: "string" }) name: string;
  @OneToMany(() => Book, (b) => b.author) books?: Book[];
}
@Entity("rv_books")
class Book {
  @PrimaryColumn({ type: "integer" }) id: number;
  @Index() @Column({ type: "string" }) title: string;
  @Column({ type: "integer" }) rank: number;
  @ManyToOne(() => Author, (a) => a.books, { nullable: false }) @JoinColumn({ name: "authorId" }) author?: Author;
  @Column({ type: "integer" }) authorId: number;
}

@Entity("rv_odd")
class Odd {
  @PrimaryColumn({ type: "string" }) id: string;
  @Column({ type: "string", nullable: true }) ["a\"b\\c"]: string | null;
  @Column({ type: "integer", nullable: true }) ["x\u2028y\u2029z"]: number | null;
  @Column({ type: "string", nullable: true }) ["__lookupGetter__"]: string | null;
  @Column({ type: "number", nullable: true }) ["__defineSetter__"]: number | null;
}

const dir = mkdtempSync(path.join(tmpdir(), "strata-rv-"));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));
async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
const urls = [["sqlite", () => `sqlite:${path.join(dir, `a${++n}.db`)}`], ["memory", () => "memory:"], ["file", () => `file:${path.join(dir, `f${++n}`)}`]] as const;

for (const [label, url] of urls) {
  describe(label, () => {
    test("stream path: relation filter + include + offset/limit equals findAll; 20 concurrent walks", async () => {
      const storage = await createStorage({ url: url(), entities: [Author, Book], autoCreate: true, cache: false });
      try {
        const authors = storage.repository(Author);
        const books = storage.repository(Book);
        await authors.saveMany([1, 2, 3].map((id) => ({ id, name: `a${id}` })));
        await books.saveMany(Array.from({ length: 60 }, (_, k) => ({ id: k + 1, title: k % 3 === 0 ? "\u{1F600}x" : `T${k}`, rank: (k * 7) % 5, authorId: (k % 3) + 1 })));
        const q = { where: { author: { name: { $ne: "a2" } } }, include: { author: true }, orderBy: { rank: "desc" }, offset: 3, limit: 25 } as const;
        const expected = await books.findAll(q as never);
        expect(expected.length).toBe(25);
        for (const pageSize of [1, 4, 100]) expect(await collect(books.iterate(q as never, { pageSize }))).toEqual(expected);
        const all = await books.findAll({ orderBy: { rank: "asc" } });
        const walks = await Promise.all(Array.from({ length: 20 }, () => collect(books.iterate({ orderBy: { rank: "asc" } }, { pageSize: 3 }))));
        for (const w of walks) expect(w).toEqual(all);
        // A lone surrogate as an $ilike / $like prefix: the index range must agree with the pattern.
        for (const where of [{ title: { $ilike: "t1%" } }, { title: { $ilike: "\u{1F600}X%" } }]) {
          const viaIndex = (await books.findAll({ where } as never)).map((b) => b.id);
          const scanned = (await books.findAll({ where: [where, { id: -1 }] } as never)).map((b) => b.id);
          expect(viaIndex, JSON.stringify(where)).toEqual(scanned);
        }
      } finally {
        await storage.close();
      }
    });

    test("odd property names round-trip through the generated decoder and compiled where", async () => {
      const storage = await createStorage({ url: url(), entities: [Odd], autoCreate: true, cache: false });
      try {
        const repo = storage.repository(Odd);
        const rows = Array.from({ length: 12 }, (_, k) => Object.assign(new Odd(), { id: `o${k}`, ['a"b\\c']: k % 2 ? `v${k}` : null, ["x\u2028y\u2029z"]: k % 3 ? k : null, __lookupGetter__: `h${k % 4}`, __defineSetter__: k / 2 }));
        await repo.saveMany(rows);
        const got = await repo.findAll({ where: { ['a"b\\c']: { $ne: "v3" }, ["x\u2028y\u2029z"]: { $gt: 1 }, __lookupGetter__: { $ne: "h0" }, __defineSetter__: { $lt: 5 } }, orderBy: { __defineSetter__: "desc" } } as never);
        const expected = rows.filter((r) => r['a"b\\c'] !== "v3" && (r["x\u2028y\u2029z"] ?? 0) > 1 && r.__lookupGetter__ !== "h0" && (r.__defineSetter__ as unknown as number) < 5).map((r) => r.id).reverse();
        expect(got.map((r) => r.id)).toEqual(expected);
        const walked = await collect(repo.iterate({ orderBy: { ["x\u2028y\u2029z"]: "desc" }, select: ["id", "x\u2028y\u2029z", 'a"b\\c'] } as never, { pageSize: 5 }));
        expect(walked).toEqual(await repo.findAll({ orderBy: { ["x\u2028y\u2029z"]: "desc" }, select: ["id", "x\u2028y\u2029z", 'a"b\\c'] } as never));
        expect((await repo.findById("o3")) as unknown).toEqual({ ...rows[3] });
      } finally {
        await storage.close();
      }
    });
  });
}

test("$ilike / $like on an indexed column: memory, file and sqlite agree", async () => {
  const words = ["abc", "ABC", "aBcDeF", "abcdefg", "ABCDEFG", "abcdeFGH", "ab_c", "ab%c", "Ab", "a", "", "é", "É", "éa", "Éa", "ß", "SS", "straße", "STRASSE", "k", "K", "\u212A", "ab\u{1F600}c", "AB\u{1F600}C", "a\nb", "A\nB", "zz", "[a]", "a.b", "a-b"];
  const patterns = ["ab%", "AB%", "abcde%", "ABCDEF%", "abcdefg%", "a_c", "ab\\_%", "%b%", "É%", "é%", "k%", "K", "ab\u{1F600}%", "ab_c", "a%b", "a_b", "[a]%", "a.%", "a-%", "_", "%", "straSSe%"];
  const results: Record<string, unknown> = {};
  for (const [label, url] of urls) {
    const storage = await createStorage({ url: url(), entities: [Author, Book], autoCreate: true, cache: false });
    try {
      await storage.repository(Author).insert({ id: 1, name: "x" });
      const books = storage.repository(Book);
      await books.saveMany(words.map((title, k) => ({ id: k + 1, title, rank: k, authorId: 1 })));
      const out: Record<string, number[]> = {};
      for (const p of patterns) for (const op of ["$ilike", "$like"]) out[`${op} ${p}`] = (await books.findAll({ where: { title: { [op]: p } }, orderBy: { id: "asc" } } as never)).map((b) => b.id);
      results[label] = out;
    } finally {
      await storage.close();
    }
  }
  expect(results.memory).toEqual(results.sqlite);
  expect(results.file).toEqual(results.sqlite);
});
