/**
 * `repo.search` with `select` and `include` on every backend (memory, file, SQLite, PostgreSQL), as a user
 * sees it: projections (with and without snippets), relations loaded for the whole page in one query each
 * (counted through test/fixtures/counting-backend.ts), both together, the cache (keyed by the include,
 * dropped by writes to the included tables, copies handed out), transactions, and bad input.
 *
 * PostgreSQL may order ties of score differently (README, "Full-text search"), so several-hit results are
 * compared by primary key.
 */
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, expectTypeOf, test } from "vitest";
import { Column, Entity, Index, JoinColumn, JoinTable, ManyToMany, ManyToOne, OneToMany, PrimaryColumn } from "typeorm";
import type { Repository, SearchResult, Storage } from "../../src/index.js";
import { QueryError } from "../../src/index.js";
import type { IncBackend } from "../fixtures/inc-backends.js";
import { incBackends } from "../fixtures/inc-backends.js";

@Entity("sinc_authors")
class SincAuthor {
  @PrimaryColumn() id!: string;
  @Column() name!: string;
  @OneToMany(() => SincPost, (p) => p.author) posts?: SincPost[];
}

@Entity("sinc_tags")
class SincTag {
  @PrimaryColumn() slug!: string;
  @Column({ type: "integer" }) weight!: number;
}

@Entity("sinc_posts")
@Index(["title", "body"], { fulltext: true })
class SincPost {
  @PrimaryColumn({ type: "integer" }) id!: number;
  @Column() title!: string;
  @Column() body!: string;
  @Column({ type: "integer" }) year!: number;
  @ManyToOne(() => SincAuthor, (a) => a.posts, { nullable: false, onDelete: "CASCADE" }) @JoinColumn({ name: "authorId" }) author?: SincAuthor;
  @Column() authorId!: string;
  @ManyToOne(() => SincAuthor, { onDelete: "SET NULL" }) @JoinColumn({ name: "editorId" }) editor?: SincAuthor | null;
  @Column({ type: "string", nullable: true }) editorId!: string | null;
  @OneToMany(() => SincComment, (c) => c.post) comments?: SincComment[];
  @ManyToMany(() => SincTag) @JoinTable({ name: "sinc_post_tags" }) tags?: SincTag[];
}

@Entity("sinc_comments")
class SincComment {
  @PrimaryColumn({ type: "integer" }) id!: number;
  @Column() text!: string;
  @Column({ type: "boolean" }) approved!: boolean;
  @ManyToOne(() => SincPost, (p) => p.comments, { nullable: false, onDelete: "CASCADE" }) @JoinColumn({ name: "postId" }) post?: SincPost;
  @Column({ type: "integer" }) postId!: number;
  @ManyToOne(() => SincAuthor, { nullable: false }) @JoinColumn({ name: "authorId" }) author?: SincAuthor;
  @Column() authorId!: string;
}

const ENTITIES = [SincAuthor, SincTag, SincPost, SincComment];

/** Ada wrote posts 1 and 2, Bob post 3; only post 1 has an editor; post 2 has no comment and no tag. */
async function seed(storage: Storage): Promise<void> {
  await storage.repository(SincAuthor).saveMany([{ id: "a1", name: "Ada" }, { id: "a2", name: "Bob" }, { id: "a3", name: "Cy" }]);
  await storage.repository(SincTag).saveMany([{ slug: "ts", weight: 2 }, { slug: "db", weight: 1 }, { slug: "js", weight: 3 }]);
  await storage.repository(SincPost).saveMany([
    { id: 1, title: "Rhine cruise", body: "A boat trip down the Rhine past Köln.", year: 2020, authorId: "a1", editorId: "a2" },
    { id: 2, title: "Bonn", body: "A city on the Rhine.", year: 2021, authorId: "a1", editorId: null },
    { id: 3, title: "York", body: "A walled city in England.", year: 2019, authorId: "a2", editorId: null },
  ]);
  await storage.repository(SincComment).saveMany([
    { id: 1, text: "great", approved: true, postId: 1, authorId: "a2" },
    { id: 2, text: "meh", approved: false, postId: 1, authorId: "a3" },
    { id: 3, text: "nice", approved: true, postId: 1, authorId: "a1" },
    { id: 4, text: "ok", approved: true, postId: 3, authorId: "a1" },
  ]);
  const posts = storage.repository(SincPost);
  await posts.link(1, "tags", ["ts", "db"]);
  await posts.link(3, "tags", ["db"]);
}

/** Results by their entity's id: PostgreSQL may break ties of score in another order. */
function byId<R extends { entity: { id: number } }>(results: readonly R[]): R[] {
  return [...results].sort((a, b) => a.entity.id - b.entity.id);
}

/** A plain copy of what a result holds (no prototypes), for `toEqual` against literals. */
const data = (value: unknown) => JSON.parse(JSON.stringify(value)) as unknown;

function searchIncludeCases(backend: IncBackend): void {
  describe.skipIf(backend.skip !== undefined)(`${backend.name}: search with select and include`, () => {
    const counts = new Map<string, number>();
    let storage: Storage;
    let posts: Repository<SincPost, number>;
    const finds = () => counts.get("find") ?? 0;

    beforeAll(async () => {
      storage = await backend.open(ENTITIES, counts);
      await seed(storage);
      posts = storage.repository(SincPost) as Repository<SincPost, number>;
    });
    afterAll(async () => {
      await storage?.close();
      await backend.cleanup();
    });

    test("select: each entity holds exactly the listed fields; the score is the same; a snippet comes from the indexed text even when it is not selected", async () => {
      const whole = byId(await posts.search("rhine"));
      const picked = byId(await posts.search("rhine", { select: ["id", "title"] }));
      expectTypeOf(picked).toEqualTypeOf<SearchResult<Pick<SincPost, "id" | "title">>[]>();
      expect(picked.map((r) => r.entity)).toEqual([{ id: 1, title: "Rhine cruise" }, { id: 2, title: "Bonn" }]);
      expect(picked.map((r) => Object.keys(r.entity).sort())).toEqual([["id", "title"], ["id", "title"]]);
      expect(picked[0]!.entity).not.toBeInstanceOf(SincPost);
      expect(picked.map((r) => r.score)).toEqual(whole.map((r) => r.score));
      expect(picked.some((r) => "snippet" in r)).toBe(false);

      // Neither the key nor the indexed columns are selected: the snippet is still built from the body.
      const [york] = await posts.search("walled", { select: ["year"], snippet: true });
      expect(york!.entity).toEqual({ year: 2019 });
      expect(Object.keys(york!.entity)).toEqual(["year"]);
      expect(york!.snippet).toBe("A <b>walled</b> city in England.");
      expectTypeOf(york!.entity).toEqualTypeOf<Pick<SincPost, "year">>();
    });

    test("include: to-one (a missing one null), to-many ([] when empty) with where/orderBy/limit, many-to-many; one query per relation for the page", async () => {
      counts.clear();
      const found = byId(
        await posts.search("rhine OR city", {
          include: { author: true, editor: true, comments: { where: { approved: true }, orderBy: { id: "desc" }, limit: 1 }, tags: { orderBy: { weight: "desc" } } },
        }),
      );
      // One search, then one find per relation for the three posts (two for the many-to-many: links, tags).
      expect(counts.get("search")).toBe(1);
      expect(finds()).toBe(5);
      expect(found.map((r) => [r.entity.id, r.entity.author?.name, r.entity.editor?.name ?? null, r.entity.comments?.map((c) => c.text), r.entity.tags?.map((t) => t.slug)])).toEqual([
        [1, "Ada", "Bob", ["nice"], ["ts", "db"]],
        [2, "Ada", null, [], []],
        [3, "Bob", null, ["ok"], ["db"]],
      ]);
      expect(found[0]!.entity).toBeInstanceOf(SincPost);
      expect(found[0]!.entity.author).toBeInstanceOf(SincAuthor);
      // Posts 1 and 2 share an author row, never an author object.
      expect(found[0]!.entity.author).not.toBe(found[1]!.entity.author);
      // Scores are the search's, whatever is included.
      expect(found.map((r) => r.score)).toEqual(byId(await posts.search("rhine OR city")).map((r) => r.score));
    });

    test("a relation filter in where and an include of the same relation compose", async () => {
      const found = await posts.search("rhine OR city", { where: { author: { name: "Bob" } }, include: { author: { select: ["name"] } } });
      expect(found.map((r) => [r.entity.id, data(r.entity.author)])).toEqual([[3, { name: "Bob" }]]);
    });

    test("a nested include loads level by level", async () => {
      counts.clear();
      const [york] = await posts.search("walled", { include: { comments: { include: { author: true } } } });
      expect(finds()).toBe(2);
      expect(york!.entity.comments?.map((c) => [c.text, c.author?.name])).toEqual([["ok", "Ada"]]);
    });

    test("select and include compose: the selected fields and the relations, paired by columns not selected", async () => {
      const found = await posts.search("rhine", {
        select: ["title"],
        include: { author: { select: ["name"] }, comments: { select: ["text"] } },
        snippet: { maxTokens: 4 },
      });
      expectTypeOf(found).toEqualTypeOf<SearchResult<Pick<SincPost, "title" | "author" | "comments">>[]>();
      const sorted = [...found].sort((a, b) => a.entity.title.localeCompare(b.entity.title));
      expect(data(sorted.map((r) => r.entity))).toEqual([
        { title: "Bonn", author: { name: "Ada" }, comments: [] },
        { title: "Rhine cruise", author: { name: "Ada" }, comments: [{ text: "great" }, { text: "meh" }, { text: "nice" }] },
      ]);
      expect(Object.keys(sorted[1]!.entity).sort()).toEqual(["author", "comments", "title"]);
      expect(sorted.map((r) => r.snippet)).toEqual(["…city on the <b>Rhine</b>.", "<b>Rhine</b> cruise"]);
    });

    test("inside a transaction: the search and its relations read through it, its own uncommitted rows included", async () => {
      await expect(
        storage.transaction(async () => {
          await storage.repository(SincAuthor).save({ id: "a4", name: "Dee" });
          await posts.save({ id: 4, title: "Zürich", body: "A city by a lake.", year: 2024, authorId: "a4", editorId: null });
          await storage.repository(SincComment).save({ id: 10, text: "fresh", approved: true, postId: 3, authorId: "a3" });
          const found = byId(await posts.search("walled OR zurich", { include: { author: true, comments: { include: { author: true } } } }));
          expect(found.map((r) => [r.entity.id, r.entity.author?.name, r.entity.comments?.map((c) => [c.text, c.author?.name])])).toEqual([
            [3, "Bob", [["ok", "Ada"], ["fresh", "Cy"]]],
            [4, "Dee", []],
          ]);
          throw new Error("roll back");
        }),
      ).rejects.toThrow("roll back");
      const after = await posts.search("walled OR zurich", { include: { comments: true } });
      expect(after.map((r) => [r.entity.id, r.entity.comments?.map((c) => c.text)])).toEqual([[3, ["ok"]]]);
    });

    test("an unknown relation in include or field in select is a QueryError naming it, as findAll's", async () => {
      const failure = (promise: Promise<unknown>) => promise.then(() => expect.unreachable("it resolved"), (error: unknown) => error as QueryError);
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ include: { nope: true } }, "nope"],
        [{ include: { author: { select: ["missing"] } } }, "missing"],
        [{ include: { author: { limit: 1 } } }, "author"],
        [{ select: ["nope"] }, "nope"],
      ];
      for (const [options, field] of cases) {
        const viaSearch = await failure(posts.search("rhine", options as never));
        const viaFindAll = await failure(posts.findAll(options as never));
        expect(viaSearch).toBeInstanceOf(QueryError);
        expect(viaSearch.message).toBe(viaFindAll.message);
        expect(viaSearch.message).toContain(field);
        expect(viaSearch.field).toBe(field);
      }
      await expect(posts.search("rhine", { select: [] as never })).rejects.toThrow(/select must name at least one field/);
      await expect(posts.search("rhine", { order: "x" } as never)).rejects.toThrow(/search order is not a search option \(expected where, limit, offset, snippet, cache, select, include\)/);
    });
  });

  describe.skipIf(backend.skip !== undefined)(`${backend.name}: cached search with select and include`, () => {
    const counts = new Map<string, number>();
    let storage: Storage;
    let posts: Repository<SincPost, number>;
    const searches = () => counts.get("search") ?? 0;

    beforeAll(async () => {
      storage = await backend.open(ENTITIES, counts, { cache: true });
      await seed(storage);
      posts = storage.repository(SincPost) as Repository<SincPost, number>;
    });
    afterAll(async () => {
      await storage?.close();
      await backend.cleanup();
    });

    test("keyed by the include, dropped by a write to an included table; every hit a copy", async () => {
      counts.clear();
      const first = await posts.search("walled", { cache: true, include: { author: true, tags: true } });
      expect(first.map((r) => [r.entity.author?.name, r.entity.tags?.map((t) => t.slug)])).toEqual([["Bob", ["db"]]]);
      expect(searches()).toBe(1);
      // A hit: no backend call, and a copy sharing nothing with the entry (nor with the caller's first result).
      first[0]!.entity.author!.name = "changed";
      first[0]!.entity.tags!.push(first[0]!.entity.tags![0]!);
      const again = await posts.search("walled", { cache: true, include: { author: true, tags: true } });
      expect(again.map((r) => [r.entity.author?.name, r.entity.tags?.map((t) => t.slug)])).toEqual([["Bob", ["db"]]]);
      expect(searches()).toBe(1);
      // Another include (or none) is another entry.
      const plain = await posts.search("walled", { cache: true });
      expect(plain[0]!.entity.author).toBeUndefined();
      expect(searches()).toBe(2);
      const names = await posts.search("walled", { cache: true, include: { author: { select: ["name"] } } });
      expect(data(names[0]!.entity.author)).toEqual({ name: "Bob" });
      expect(searches()).toBe(3);

      // A write to the related table drops the entries that included it.
      await storage.repository(SincAuthor).update("a2", { name: "Robert" });
      const renamed = await posts.search("walled", { cache: true, include: { author: true, tags: true } });
      expect(renamed[0]!.entity.author?.name).toBe("Robert");
      expect(searches()).toBe(4);
      // So does a link (a write to the join table).
      await posts.link(3, "tags", ["js"]);
      const linked = await posts.search("walled", { cache: true, include: { author: true, tags: true } });
      expect(linked[0]!.entity.tags?.map((t) => t.slug)).toEqual(["db", "js"]);
      expect(searches()).toBe(5);
    });

    test("select with a cached include: the selected fields, the relations and a snippet of the unselected text", async () => {
      for (let i = 0; i < 2; i++) {
        const [york] = await posts.search("walled", { cache: true, select: ["title"], include: { comments: { select: ["text"] } }, snippet: { maxTokens: 3 } });
        expect(data(york!.entity)).toEqual({ title: "York", comments: [{ text: "ok" }] });
        expect(york!.snippet).toBe("…<b>walled</b> city in…");
      }
    });

    test("inside a transaction, cache: true reads through the transaction, its own related rows included", async () => {
      await posts.search("walled", { cache: true, include: { comments: true } });
      await expect(
        storage.transaction(async () => {
          await storage.repository(SincComment).save({ id: 11, text: "unsaved", approved: true, postId: 3, authorId: "a3" });
          const [york] = await posts.search("walled", { cache: true, include: { comments: true } });
          expect(york!.entity.comments?.map((c) => c.text)).toEqual(["ok", "unsaved"]);
          throw new Error("roll back");
        }),
      ).rejects.toThrow("roll back");
      const [york] = await posts.search("walled", { cache: true, include: { comments: true } });
      expect(york!.entity.comments?.map((c) => c.text)).toEqual(["ok"]);
    });
  });
}

for (const backend of incBackends()) searchIncludeCases(backend);
