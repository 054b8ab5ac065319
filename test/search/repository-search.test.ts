/**
 * `repo.search` and `@Index({ fulltext: true })` as a user sees them, on the memory backend given the
 * reference search (test/search/reference-search.ts): options, errors, transactions, the cache, snippets.
 */
import "reflect-metadata";
import { describe, expect, test } from "vitest";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { createStorage, QueryError, readEntitySchema, SchemaError, UnsupportedError, type Storage } from "../../src/index.js";
import { coreOf } from "../../src/storage-core.js";
import { withReferenceSearch } from "./reference-search.js";

@Entity("search_articles")
@Index(["title"], { fulltext: true })
@Index("articles_text", ["body"], { fulltext: true })
@Index(["author"])
class Article {
  @PrimaryColumn({ type: "integer" }) id: number;
  @Column({ type: "string", nullable: true }) body: string | null;
  @Column({ type: "string" }) title: string;
  @Column({ type: "string" }) author: string;
  @Column({ type: "integer" }) year: number;
}

@Entity("search_plain")
class Plain {
  @PrimaryColumn({ type: "integer" }) id: number;
  @Column({ type: "string" }) name: string;
}

const ARTICLES: Article[] = [
  { id: 1, title: "Köln in winter", body: "The cathedral of Cologne stands by the Rhine.", author: "ann", year: 2020 },
  { id: 2, title: "Bonn", body: "A city on the Rhine, south of Köln.", author: "bob", year: 2021 },
  { id: 3, title: "Koln Bonn Koln", body: null, author: "ann", year: 2022 },
  { id: 4, title: "New York", body: "The city that never sleeps; New York, New York.", author: "cid", year: 2020 },
  { id: 5, title: "York", body: "A walled city in England, older than New York.", author: "bob", year: 2019 },
];

async function open(options: { search?: boolean; cache?: boolean } = {}): Promise<Storage> {
  const storage = await createStorage({ url: "memory:", entities: [Article, Plain], cache: options.cache ? { l1: {} } : false });
  if (options.search !== false) withReferenceSearch(storage);
  await storage.repository(Article).saveMany(ARTICLES);
  return storage;
}

describe("@Index({ fulltext: true })", () => {
  test("merges into one full-text index, columns in the entity's order, kept out of the ordinary indexes", () => {
    const schema = readEntitySchema(Article);
    expect(schema.fullText).toEqual({ name: "articles_text", properties: ["body", "title"] });
    expect(schema.indexes.map((i) => i.properties)).toEqual([["author"]]);
    expect(readEntitySchema(Plain).fullText).toBeUndefined();
  });

  test("is named fts_<table> unless named; refuses a non-string column naming it, and two names", () => {
    @Entity("search_unnamed")
    @Index(["a", "b"], { fulltext: true })
    class Unnamed {
      @PrimaryColumn({ type: "integer" }) id: number;
      @Column({ type: "string" }) a: string;
      @Column({ type: "string" }) b: string;
    }
    expect(readEntitySchema(Unnamed).fullText).toEqual({ name: "fts_search_unnamed", properties: ["a", "b"] });

    @Entity("search_bad_column")
    @Index(["name", "count"], { fulltext: true })
    class BadColumn {
      @PrimaryColumn({ type: "integer" }) id: number;
      @Column({ type: "string" }) name: string;
      @Column({ type: "integer" }) count: number;
    }
    expect(() => readEntitySchema(BadColumn)).toThrow(SchemaError);
    expect(() => readEntitySchema(BadColumn)).toThrow(/BadColumn\.count: a fulltext @Index takes string columns only/);

    @Entity("search_two_names")
    @Index("one", ["a"], { fulltext: true })
    @Index("two", ["b"], { fulltext: true })
    class TwoNames {
      @PrimaryColumn({ type: "integer" }) id: number;
      @Column({ type: "string" }) a: string;
      @Column({ type: "string" }) b: string;
    }
    expect(() => readEntitySchema(TwoNames)).toThrow(/one full-text index/);
  });
});

describe("repo.search", () => {
  test("finds across the index's columns, folded, best first, with scores", async () => {
    const storage = await open();
    try {
      const articles = storage.repository(Article);
      const found = await articles.search("KOLN");
      // 3 says it twice; 2 is shorter than 1.
      expect(found.map((r) => r.entity.id)).toEqual([3, 2, 1]);
      expect(found[0]!.entity).toBeInstanceOf(Article);
      expect(found.every((r) => r.score > 0)).toBe(true);
      expect(found[0]!.score).toBeGreaterThan(found[1]!.score);
      expect((await articles.search('"new york" -england')).map((r) => r.entity.id)).toEqual([4]);
      expect((await articles.search("york* (rhine OR england)")).map((r) => r.entity.id)).toEqual([5]);
      expect(await articles.search("paris")).toEqual([]);
    } finally {
      await storage.close();
    }
  });

  test("where, limit (default 20) and offset", async () => {
    const storage = await open();
    try {
      const articles = storage.repository(Article);
      const bobs = (await articles.search("city", { where: { author: "bob" } })).map((r) => r.entity.id);
      expect(bobs.sort()).toEqual([2, 5]);
      const all = (await articles.search("city OR koln")).map((r) => r.entity.id);
      expect(all).toHaveLength(5);
      expect((await articles.search("city OR koln", { limit: 2, offset: 1 })).map((r) => r.entity.id)).toEqual(all.slice(1, 3));
      expect((await articles.search("city", { where: [{ year: { $gte: 2021 } }] })).map((r) => r.entity.id)).toEqual([2]);
      await articles.saveMany(Array.from({ length: 30 }, (_, i) => ({ id: 100 + i, title: `Extra ${i}`, body: "koln", author: "z", year: 2000 })));
      expect(await articles.search("koln")).toHaveLength(20);
    } finally {
      await storage.close();
    }
  });

  test("bad options and queries are QueryErrors naming the entity; no index or no search is an UnsupportedError", async () => {
    const storage = await open();
    try {
      const articles = storage.repository(Article);
      await expect(articles.search('koln "bonn')).rejects.toThrow(QueryError);
      await expect(articles.search('koln "bonn')).rejects.toThrow(/^Article: Search query has a quote that is never closed \(at position 5\)/);
      await expect(articles.search("-koln")).rejects.toThrow(QueryError);
      await expect(articles.search("koln", { limit: -1 })).rejects.toThrow(QueryError);
      await expect(articles.search("koln", { offset: 1.5 })).rejects.toThrow(QueryError);
      await expect(articles.search("koln", { where: { nope: 1 } as never })).rejects.toThrow(QueryError);
      await expect(articles.search("koln", { order: "x" } as never)).rejects.toThrow(/search order is not a search option/);
      await expect(articles.search("koln", { snippet: { maxTokens: 0 } })).rejects.toThrow(/snippet.maxTokens must be an integer from 1 to 64/);
      await expect(articles.search("koln", { snippet: { color: "red" } as never })).rejects.toThrow(/snippet.color/);
      await expect(storage.repository(Plain).search("x")).rejects.toThrow(UnsupportedError);
      await expect(storage.repository(Plain).search("x")).rejects.toThrow(/Plain has no full-text index/);
    } finally {
      await storage.close();
    }
    const without = await open({ search: false });
    try {
      await expect(without.repository(Article).search("koln")).rejects.toThrow(/Article: the memory backend cannot search full text/);
    } finally {
      await without.close();
    }
  });

  test("inside a transaction it sees the transaction's writes; a rolled-back write never shows", async () => {
    const storage = await open();
    try {
      const articles = storage.repository(Article);
      await storage.transaction(async () => {
        await articles.save({ id: 50, title: "Düsseldorf", body: null, author: "x", year: 2024 });
        expect((await articles.search("dusseldorf")).map((r) => r.entity.id)).toEqual([50]);
      });
      await expect(
        storage.transaction(async () => {
          await articles.save({ id: 51, title: "Zürich", body: null, author: "x", year: 2024 });
          expect((await articles.search("zurich")).map((r) => r.entity.id)).toEqual([51]);
          throw new Error("roll back");
        }),
      ).rejects.toThrow("roll back");
      expect(await articles.search("zurich")).toEqual([]);
      expect((await articles.search("dusseldorf")).map((r) => r.entity.id)).toEqual([50]);
    } finally {
      await storage.close();
    }
  });

  test("with cache: true, results are cached until the next write to the table", async () => {
    const storage = await open({ cache: true });
    try {
      const articles = storage.repository(Article);
      const session = coreOf(storage).backend.session;
      const search = session.search!;
      let calls = 0;
      session.search = (schema, request) => {
        calls++;
        return search(schema, request);
      };
      const first = await articles.search("rhine", { cache: true });
      expect(first.map((r) => r.entity.id)).toEqual([2, 1]);
      // A hit hands out copies: changing one changes nothing cached.
      first[0]!.entity.title = "changed";
      const second = await articles.search("rhine", { cache: true });
      expect(second.map((r) => [r.entity.id, r.entity.title])).toEqual([[2, "Bonn"], [1, "Köln in winter"]]);
      expect(second.map((r) => r.score)).toEqual(first.map((r) => r.score));
      // One backend search so far; `Rhine` parses to the same tree, so it is the same entry.
      expect(calls).toBe(1);
      await articles.search("Rhine", { cache: true });
      expect(calls).toBe(1);
      await articles.save({ id: 6, title: "Basel", body: "On the Rhine too.", author: "d", year: 2023 });
      expect((await articles.search("rhine", { cache: true })).map((r) => r.entity.id)).toContain(6);
      expect(calls).toBe(2);
    } finally {
      await storage.close();
    }
  });

  test("snippets: the best window, hits marked, ellipses where cut, options", async () => {
    const storage = await open();
    try {
      const articles = storage.repository(Article);
      const [york] = await articles.search('"new york" sleeps', { snippet: true });
      expect(york!.snippet).toBe("The city that never <b>sleeps</b>; <b>New York</b>, <b>New York</b>.");
      const [short] = await articles.search("walled", { snippet: { before: "[", after: "]", maxTokens: 4, ellipsis: "..." } });
      expect(short!.snippet).toBe("A [walled] city in...");
      const [title] = await articles.search("winter", { snippet: true });
      expect(title!.snippet).toBe("Köln in <b>winter</b>");
      const [excluded] = await articles.search("cathedral -bonn", { snippet: { maxTokens: 3 } });
      expect(excluded!.snippet).toBe("…<b>cathedral</b> of Cologne…");
      expect((await articles.search("rhine"))[0]!.snippet).toBeUndefined();
    } finally {
      await storage.close();
    }
  });
});
