/**
 * A hostile review of relation filters (issue 12), on every backend: self-references five levels deep (SQL
 * aliases of the outer and inner table), deleteMany of leaves, cursors of other relation filters, cached
 * queries after link/unlink and cascades, and malformed filters. Tables `rvf_*` and the include fixtures.
 */
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Column, Entity, JoinColumn, ManyToOne, OneToMany, PrimaryColumn } from "typeorm";
import type { Storage } from "../../src/index.js";
import { QueryError } from "../../src/index.js";
import { IncAuthor, IncComment, INC_ENTITIES, IncPost, IncTag } from "../fixtures/inc-entities.js";
import { incBackends } from "../fixtures/inc-backends.js";

@Entity("rvf_nodes")
class RvfNode {
  @PrimaryColumn({ type: "integer" }) id!: number;
  @Column({ type: "string", nullable: true }) name!: string | null;
  @ManyToOne(() => RvfNode, (n) => n.children, { onDelete: "CASCADE" }) @JoinColumn({ name: "parentId" }) parent?: RvfNode | null;
  @Column({ type: "integer", nullable: true }) parentId!: number | null;
  @OneToMany(() => RvfNode, (n) => n.parent) children?: RvfNode[];
}

for (const backend of incBackends()) {
  describe.skipIf(backend.skip !== undefined)(`${backend.name}: attacks`, () => {
    let storage: Storage;
    const counts = new Map<string, number>();
    beforeAll(async () => {
      storage = await backend.open([...INC_ENTITIES, RvfNode], counts, { cache: true });
      await storage.repository(IncAuthor).saveMany([{ id: "a1", name: "Ada" }, { id: "a2", name: "Bob" }, { id: "a3", name: "Cy" }]);
      await storage.repository(IncTag).saveMany([{ slug: "ts", weight: 2 }, { slug: "db", weight: 1 }]);
      const posts = storage.repository(IncPost);
      await posts.insert({ title: "one", authorId: "a1" });
      await posts.insert({ title: "two", authorId: "a1" });
      await posts.insert({ title: "three", authorId: "a2" });
      await storage.repository(IncComment).saveMany([
        { body: "x", approved: true, at: new Date(0), postId: 1, authorId: "a2" },
        { body: "y", approved: false, at: new Date(0), postId: 1, authorId: "a3" },
        { body: "w", approved: true, at: new Date(0), postId: 3, authorId: "a1" },
      ]);
      // 1 -> 2 -> 3 -> 4 -> 5 -> 6, and 1 -> 7
      const nodes = storage.repository(RvfNode);
      for (const [id, parentId] of [[1, null], [2, 1], [3, 2], [4, 3], [5, 4], [6, 5], [7, 1]] as const) {
        await nodes.insert({ id, name: `n${id}`, parentId });
      }
    });
    afterAll(async () => {
      await storage?.close();
      await backend.cleanup();
    });

    test("iterate with a relation filter and an indexed column", async () => {
      const posts = storage.repository(IncPost);
      const got: number[] = [];
      for await (const p of posts.iterate({ where: { authorId: "a1", comments: { $some: {} } } }, { pageSize: 1 })) got.push(p.id);
      expect(got).toEqual([1]);
      const got2: number[] = [];
      for await (const p of posts.iterate({ where: { comments: { $none: {} } }, orderBy: { authorId: "desc" } }, { pageSize: 1 })) got2.push(p.id);
      expect(got2).toEqual([2]);
    });

    test("self-reference, 5 levels deep", async () => {
      const nodes = storage.repository(RvfNode);
      const ids = async (where: object) => (await nodes.findAll({ where: where as never, orderBy: { id: "asc" } })).map((n) => n.id);
      expect(await ids({ parent: { name: "n1" } })).toEqual([2, 7]);
      expect(await ids({ children: { $some: { name: "n3" } } })).toEqual([2]);
      expect(await ids({ children: { $none: {} } })).toEqual([6, 7]);
      expect(await ids({ parent: { parent: { parent: { parent: { parent: { name: "n1" } } } } } })).toEqual([6]);
      expect(await ids({ children: { $some: { children: { $some: { children: { $some: { children: { $some: { children: { $some: {} } } } } } } } } } })).toEqual([1]);
      expect(await ids({ children: { $every: { children: { $none: {} } } } })).toEqual([5, 6, 7]);
      expect(await ids({ parent: { children: { $some: { id: 7 } } } })).toEqual([2, 7]);
      expect(await ids({ parent: { id: { $ne: 1 } } })).toEqual([3, 4, 5, 6]);
      expect(await nodes.count({ children: { $some: { parent: { parent: null } } } })).toBe(1);
    });

    test("deleteMany of leaves deletes only the leaves", async () => {
      const nodes = storage.repository(RvfNode);
      await expect(
        storage.transaction(async () => {
          expect(await nodes.deleteMany({ children: { $none: {} } })).toBe(2);
          expect((await nodes.findAll({ orderBy: { id: "asc" } })).map((n) => n.id)).toEqual([1, 2, 3, 4, 5]);
          throw new Error("rollback");
        }),
      ).rejects.toThrow("rollback");
    });

    test("findPage: a cursor of another relation filter is refused", async () => {
      const posts = storage.repository(IncPost);
      const first = await posts.findPage({ where: { comments: { $some: { approved: true } } }, first: 1 });
      expect(first.nextCursor).not.toBeNull();
      await expect(posts.findPage({ where: { comments: { $some: { approved: false } } }, first: 1, after: first.nextCursor! })).rejects.toThrow(QueryError);
      await expect(posts.findPage({ where: { comments: { $none: { approved: true } } }, first: 1, after: first.nextCursor! })).rejects.toThrow(QueryError);
      await expect(posts.findPage({ where: { tags: { $some: { approved: true } } } as never, first: 1, after: first.nextCursor! })).rejects.toThrow(QueryError);
    });

    test("cached relation filter queries follow link/unlink and cascades", async () => {
      const posts = storage.repository(IncPost);
      const authors = storage.repository(IncAuthor);
      const tagged = async () => (await posts.findAll({ where: { tags: { $some: { slug: "ts" } } }, cache: true })).map((p) => p.id);
      expect(await tagged()).toEqual([]);
      await posts.link(2, "tags", ["ts"]);
      expect(await tagged()).toEqual([2]);
      await posts.unlink(2, "tags", ["ts"]);
      expect(await tagged()).toEqual([]);
      const commented = async () => (await authors.findAll({ where: { posts: { $some: { comments: { $some: { body: "w" } } } } }, orderBy: { id: "asc" }, cache: true })).map((a) => a.id);
      expect(await commented()).toEqual(["a2"]);
      const n = await storage.repository(IncComment).count({ post: { author: { name: "Bob" } } }, { cache: true });
      expect(n).toBe(1);
      await storage.repository(IncComment).deleteMany({ body: "w" });
      expect(await commented()).toEqual([]);
      await posts.delete(3);
      expect(await storage.repository(IncComment).count({ post: { author: { name: "Bob" } } }, { cache: true })).toBe(0);
    });

    test("bad relation filters are QueryErrors naming the field", async () => {
      const posts = storage.repository(IncPost);
      for (const where of [{ author: undefined }, { comments: {} }, { comments: { $some: null } }, { author: { $some: {} } }, { comments: { $some: undefined } }, { comments: [] }, { author: "a1" }, { author: { 'x"; drop table inc_posts; --': 1 } }]) {
        await expect(posts.findAll({ where: where as never }), JSON.stringify(where)).rejects.toThrow(QueryError);
      }
    });
  });
}
