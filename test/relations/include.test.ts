/**
 * Loading relations with `include`, and many-to-many links, on every backend: nested includes, empty and
 * missing relations, per-relation where/orderBy/limit/select, iterate and findPage, transactions, the
 * number of backend queries (one per included relation, whatever the rows), fresh objects, and a property
 * test against a naive per-row reference.
 */
import "reflect-metadata";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, expectTypeOf, test } from "vitest";
import type { Repository, Storage } from "../../src/index.js";
import { IntegrityError, QueryError, ValidationError } from "../../src/index.js";
import { IncAuthor, IncComment, INC_ENTITIES, IncPost, IncProfile, IncTag } from "../fixtures/inc-entities.js";
import type { IncBackend } from "../fixtures/inc-backends.js";
import { incBackends } from "../fixtures/inc-backends.js";

const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 0, minute));

/** The data every group starts from: Cy has no post, post 2 no comment, no editor and no tag. */
async function seed(storage: Storage): Promise<void> {
  await storage.repository(IncAuthor).saveMany([{ id: "a1", name: "Ada" }, { id: "a2", name: "Bob" }, { id: "a3", name: "Cy" }]);
  await storage.repository(IncTag).saveMany([{ slug: "ts", weight: 2 }, { slug: "db", weight: 1 }, { slug: "js", weight: 3 }]);
  const posts = storage.repository(IncPost);
  await posts.insert({ title: "one", authorId: "a1", editorId: "a2" } as Partial<IncPost>);
  await posts.insert({ title: "two", authorId: "a1" });
  await posts.insert({ title: "three", authorId: "a2" });
  await storage.repository(IncComment).saveMany([
    { body: "x", approved: true, at: at(3), postId: 1, authorId: "a2" },
    { body: "y", approved: false, at: at(1), postId: 1, authorId: "a3" },
    { body: "z", approved: true, at: at(2), postId: 1, authorId: "a1" },
    { body: "w", approved: true, at: at(4), postId: 3, authorId: "a1" },
  ]);
  await storage.repository(IncProfile).insert({ bio: "bio1", authorId: "a1" } as Partial<IncProfile>);
  await posts.link(1, "tags", ["ts", "db"]);
  await posts.link(3, "tags", ["db"]);
}

const data = (value: unknown) => JSON.parse(JSON.stringify(value)) as unknown;

function includeCases(backend: IncBackend): void {
  describe.skipIf(backend.skip !== undefined)(`${backend.name}: include`, () => {
    const counts = new Map<string, number>();
    let storage: Storage;
    let posts: Repository<IncPost, number>;
    let authors: Repository<IncAuthor, string>;
    const calls = () => [...counts.entries()].filter(([m]) => ["find", "findById", "findByIds", "count"].includes(m)).reduce((n, [, c]) => n + c, 0);

    beforeAll(async () => {
      storage = await backend.open(INC_ENTITIES, counts);
      await seed(storage);
      posts = storage.repository(IncPost) as Repository<IncPost, number>;
      authors = storage.repository(IncAuthor) as Repository<IncAuthor, string>;
    });
    afterAll(async () => {
      await storage?.close();
      await backend.cleanup();
    });

    test("nested includes load each level, to-many in primary-key order", async () => {
      const found = await posts.findAll({ include: { author: true, comments: { include: { author: true } } }, orderBy: { id: "asc" } });
      expect(found.map((p) => [p.title, p.author?.name, p.comments?.map((c) => [c.body, c.author?.name])])).toEqual([
        ["one", "Ada", [["x", "Bob"], ["y", "Cy"], ["z", "Ada"]]],
        ["two", "Ada", []],
        ["three", "Bob", [["w", "Ada"]]],
      ]);
      expect(found[0]).toBeInstanceOf(IncPost);
      expect(found[0]!.author).toBeInstanceOf(IncAuthor);
      expect(found[0]!.comments![0]!.at).toEqual(at(3));
    });

    test("an empty to-many is [], a missing to-one null, and inverse sides load too", async () => {
      const found = await posts.findAll({ include: { editor: true, comments: true, tags: true } });
      expect(found.map((p) => [p.id, p.editor?.name ?? null, p.comments?.length, p.tags?.map((t) => t.slug)])).toEqual([
        [1, "Bob", 3, ["db", "ts"]],
        [2, null, 0, []],
        [3, null, 1, ["db"]],
      ]);
      const people = await authors.findAll({ include: { posts: true, profile: true } });
      expect(people.map((a) => [a.id, a.posts?.map((p) => p.id), a.profile?.bio ?? null])).toEqual([
        ["a1", [1, 2], "bio1"],
        ["a2", [3], null],
        ["a3", [], null],
      ]);
      const tags = await storage.repository(IncTag).findAll({ include: { posts: { orderBy: { id: "desc" } } }, orderBy: { weight: "asc" } });
      expect(tags.map((t) => [t.slug, t.posts?.map((p) => p.id)])).toEqual([["db", [3, 1]], ["ts", [1]], ["js", []]]);
    });

    test("where, orderBy and limit apply per relation, limit per parent", async () => {
      const found = await posts.findAll({ include: { comments: { where: { approved: true }, orderBy: { at: "desc" }, limit: 1 }, tags: { orderBy: { weight: "desc" }, limit: 1 } } });
      expect(found.map((p) => [p.id, p.comments?.map((c) => c.body), p.tags?.map((t) => t.slug)])).toEqual([
        [1, ["x"], ["ts"]],
        [2, [], []],
        [3, ["w"], ["db"]],
      ]);
      const ordered = await posts.findById(1, { include: { comments: { orderBy: { at: "asc" } } } });
      expect(ordered?.comments?.map((c) => c.body)).toEqual(["y", "z", "x"]);
      // A to-one that does not match its where is null.
      const filtered = await posts.findAll({ include: { author: { where: { name: "Bob" } } } });
      expect(filtered.map((p) => p.author?.id ?? null)).toEqual([null, null, "a2"]);
    });

    test("select inside include returns plain objects of the listed fields, and nested includes still pair", async () => {
      const found = await posts.findOne({ where: { id: 1 }, include: { author: { select: ["name"] }, comments: { select: ["body"], include: { author: { select: ["id"] } } } } });
      expect(data(found?.author)).toEqual({ name: "Ada" });
      expect(Object.getPrototypeOf(found?.author)).toBe(Object.prototype);
      expect(found?.comments?.map((c) => data(c))).toEqual([
        { body: "x", author: { id: "a2" } },
        { body: "y", author: { id: "a3" } },
        { body: "z", author: { id: "a1" } },
      ]);
      // A top-level projection with an include: the foreign key is read for pairing, not handed out.
      const titles = await posts.findAll({ select: ["title"], include: { author: { select: ["name"] } } });
      expectTypeOf(titles).toEqualTypeOf<Pick<IncPost, "title" | "author">[]>();
      expect(data(titles)).toEqual([{ title: "one", author: { name: "Ada" } }, { title: "two", author: { name: "Ada" } }, { title: "three", author: { name: "Bob" } }]);
    });

    test("iterate and findPage load each page's relations", async () => {
      const walked: Array<[number, string | undefined, number | undefined]> = [];
      for await (const p of posts.iterate({ include: { author: true, comments: true }, orderBy: { title: "asc" } }, { pageSize: 2 })) walked.push([p.id, p.author?.id, p.comments?.length]);
      expect(walked).toEqual([[1, "a1", 3], [3, "a2", 1], [2, "a1", 0]]);
      const first = await posts.findPage({ first: 2, include: { tags: true } });
      expect(first.items.map((p) => p.tags?.map((t) => t.slug))).toEqual([["db", "ts"], []]);
      const second = await posts.findPage({ first: 2, include: { tags: true }, after: first.nextCursor });
      expect(second.items.map((p) => [p.id, p.tags?.map((t) => t.slug)])).toEqual([[3, ["db"]]]);
      expect(second.nextCursor).toBeNull();
    });

    test("findByIds with include keeps the order of ids, and a repeated id gets its own relations", async () => {
      const found = await posts.findByIds([3, 1, 3], { include: { author: true, comments: true } });
      expect(found.map((p) => [p.id, p.author?.id, p.comments?.length])).toEqual([[3, "a2", 1], [1, "a1", 3], [3, "a2", 1]]);
      expect(found[0]!.comments![0]).not.toBe(found[2]!.comments![0]);
      expect(await posts.findById(99, { include: { author: true } })).toBeNull();
    });

    test("inside a transaction, include reads through it", async () => {
      const comments = storage.repository(IncComment);
      const rolledBack = new Error("roll back");
      await expect(
        storage.transaction(async () => {
          const added = await comments.insert({ body: "tx", at: at(9), postId: 2, authorId: "a3" });
          const seen = await posts.findById(2, { include: { comments: { include: { author: true } } } });
          expect(seen?.comments?.map((c) => [c.id, c.author?.name])).toEqual([[added.id, "Cy"]]);
          const all = await posts.findAll({ where: { id: 2 }, include: { comments: true } });
          expect(all[0]?.comments).toHaveLength(1);
          throw rolledBack;
        }),
      ).rejects.toBe(rolledBack);
      expect((await posts.findById(2, { include: { comments: true } }))?.comments).toEqual([]);
    });

    test("each included relation costs one query whatever the rows: 1 + relations, a many-to-many two", async () => {
      const extra = Array.from({ length: 40 }, (_, i) => ({ title: `bulk${i}`, authorId: i % 2 ? "a1" : "a2" }));
      await posts.saveMany(extra);
      counts.clear();
      const found = await posts.findAll({ include: { author: true, comments: { include: { author: true } } } });
      expect(found.length).toBe(43);
      expect(calls()).toBe(1 + 3);
      counts.clear();
      await posts.findAll({ include: { author: true, editor: true, tags: true, comments: { include: { author: true, post: true } } } });
      // six relations, tags counting twice (its join table, then the tags)
      expect(calls()).toBe(1 + 6 + 1);
      counts.clear();
      await posts.findAll({ where: { title: "nothing" }, include: { author: true, comments: true } });
      expect(calls()).toBe(1);
      await posts.deleteMany({ title: { $like: "bulk%" } });
    });

    test("returned objects share nothing: a row related to two parents comes as two objects", async () => {
      const [one, two] = await posts.findAll({ where: { authorId: "a1" }, include: { author: { include: { profile: true } } } });
      expect(one!.author).not.toBe(two!.author);
      one!.author!.name = "changed";
      one!.author!.profile!.bio = "changed";
      expect(two!.author!.name).toBe("Ada");
      expect(two!.author!.profile!.bio).toBe("bio1");
      expect((await authors.findById("a1"))?.name).toBe("Ada");
    });

    test("an include naming what is not a relation is a QueryError naming every such name", async () => {
      const bad = posts.findAll({ include: { title: true, nope: true } as never });
      await expect(bad).rejects.toThrow(QueryError);
      await expect(bad).rejects.toThrow(/"title", "nope", which are not relations of IncPost \(its relations: author, editor, comments, tags\)/);
      await expect(posts.findAll({ include: { comments: { include: { bogus: true } } } as never })).rejects.toThrow(/IncComment: include.comments.include names "bogus"/);
      await expect(posts.findAll({ include: { author: { limit: 1 } } as never })).rejects.toThrow(/to-one relation: limit/);
      // An include left undefined loads nothing, as a where left out matches everything.
      expect((await posts.findAll({ include: undefined })).map((p) => p.comments)).toEqual([undefined, undefined, undefined]);
    });

    test("an entity read with its relations saves back: relation properties are not written", async () => {
      const read = (await posts.findById(1, { include: { author: true, comments: true, tags: true } }))!;
      read.title = "one!";
      const saved = await posts.save(read);
      expect(saved.title).toBe("one!");
      expect((await posts.findById(1, { include: { comments: true } }))?.comments).toHaveLength(3);
      // A to-one object disagreeing with the foreign key column would be dropped silently: refused, naming both.
      const other = (await authors.findById("a2"))!;
      const stale = { ...read, author: other } as IncPost;
      await expect(posts.save(stale)).rejects.toThrow(ValidationError);
      await expect(posts.save(stale)).rejects.toThrow(/IncPost.author: holds a IncAuthor whose id is "a2", but authorId is the string "a1"/);
      await posts.update(1, { title: "one" });
    });

    test("link and unlink change the join table; linking twice adds nothing", async () => {
      expect(await posts.link(2, "tags", ["js", "ts", "js"])).toBe(2);
      expect(await posts.link(2, "tags", ["js"])).toBe(0);
      expect((await posts.findById(2, { include: { tags: true } }))?.tags?.map((t) => t.slug)).toEqual(["js", "ts"]);
      expect(await posts.unlink(2, "tags", ["js", "db"])).toBe(1);
      expect((await posts.findById(2, { include: { tags: true } }))?.tags?.map((t) => t.slug)).toEqual(["ts"]);
      expect(await posts.unlink(2, "tags", ["ts"])).toBe(1);
      await expect(posts.link(2, "author" as never, ["a1"])).rejects.toThrow(/link needs a many-to-many relation, and "author" is a many-to-one relation \(many-to-many: tags\)/);
      await expect(posts.link(2, "tags", [7 as never])).rejects.toThrow(ValidationError);
    });

    test("link inside a transaction is undone by its rollback", async () => {
      const stop = new Error("stop");
      await expect(
        storage.transaction(async () => {
          await posts.link(2, "tags", ["db"]);
          expect((await posts.findById(2, { include: { tags: true } }))?.tags).toHaveLength(1);
          throw stop;
        }),
      ).rejects.toBe(stop);
      expect((await posts.findById(2, { include: { tags: true } }))?.tags).toEqual([]);
    });

    test("linking a missing entity on either side is an IntegrityError that links nothing", async () => {
      await expect(posts.link(1, "tags", ["db", "nope"])).rejects.toThrow(IntegrityError);
      await expect(posts.link(99, "tags", ["ts"])).rejects.toThrow(IntegrityError);
      expect((await posts.findById(1, { include: { tags: true } }))?.tags?.map((t) => t.slug)).toEqual(["db", "ts"]);
    });

    test("include matches a naive per-row reference (property test)", async () => {
      const comments = storage.repository(IncComment);
      const authorIds = ["a1", "a2", "a3"];
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.record({ post: fc.constantFrom(1, 2, 3), author: fc.constantFrom(...authorIds), approved: fc.boolean(), minute: fc.integer({ min: 0, max: 30 }) }), { maxLength: 12 }),
          fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }),
          fc.constantFrom<"asc" | "desc">("asc", "desc"),
          fc.boolean(),
          async (rows, limit, direction, onlyApproved) => {
            await comments.deleteMany({ body: { $like: "gen%" } });
            await comments.saveMany(rows.map((r, i) => ({ body: `gen${i}`, approved: r.approved, at: at(r.minute), postId: r.post, authorId: r.author })));
            const where = onlyApproved ? { approved: true } : {};
            const found = await posts.findAll({ include: { author: true, comments: { where, orderBy: { at: direction }, ...(limit !== undefined ? { limit } : {}), include: { author: true } } } });
            // The reference: one query per post and per comment, as N+1 code would do it.
            const expected = [];
            for (const post of await posts.findAll()) {
              const list = await comments.findAll({ where: { ...where, postId: post.id }, orderBy: { at: direction }, ...(limit !== undefined ? { limit } : {}) });
              const withAuthors = [];
              for (const c of list) withAuthors.push({ ...c, author: await authors.findById(c.authorId) });
              expected.push({ ...post, author: await authors.findById(post.authorId), comments: withAuthors });
            }
            expect(data(found)).toEqual(data(expected));
          },
        ),
        { numRuns: 15 },
      );
      await comments.deleteMany({ body: { $like: "gen%" } });
    });
  });
}

for (const backend of incBackends()) {
  if (backend.skip) describe(`${backend.name}: include`, () => test.skip(backend.skip!, () => {}));
  else includeCases(backend);
}
