/**
 * The types of projections (`select`): checked by `tsc -p tsconfig.json` (which includes test/), run by
 * vitest so that the calls also run. A wrong type here fails the typecheck, not the test run.
 */
import "reflect-metadata";
import { Column, Entity, PrimaryColumn } from "typeorm";
import { afterAll, beforeAll, describe, expect, expectTypeOf, test } from "vitest";
import type { Query, SelectQuery, Storage } from "../../src/index.js";
import { Repository, createStorage } from "../../src/index.js";

@Entity("select_type_posts")
class Post {
  @PrimaryColumn({ type: "string" }) id: string;
  @Column({ type: "string" }) title: string;
  @Column({ type: "string" }) body: string;
  @Column({ type: "datetime" }) publishedAt: Date;
  /** A method: not a field, so not selectable. */
  summary(): string {
    return this.title;
  }
}

class PostRepository extends Repository<Post, string> {
  constructor(storage: Storage) {
    super(storage, Post);
  }
  /** A repository method returning a projection needs no cast. */
  titles() {
    return this.findAll({ select: ["id", "title"], orderBy: { publishedAt: "desc" } });
  }
}

describe("select types", () => {
  let storage: Storage;
  let posts: PostRepository;
  beforeAll(async () => {
    storage = await createStorage({ url: "memory:", entities: [Post] });
    posts = storage.repository(PostRepository);
    await posts.save(Object.assign(new Post(), { id: "p1", title: "Hello", body: "...", publishedAt: new Date(0) }));
  });
  afterAll(() => storage.close());

  test("findAll, findOne and iterate with select return Pick<T, the selected fields>", async () => {
    const listed = await posts.findAll({ select: ["id", "title"] });
    expectTypeOf(listed).toEqualTypeOf<Pick<Post, "id" | "title">[]>();
    expect(listed).toEqual([{ id: "p1", title: "Hello" }]);

    expectTypeOf(await posts.titles()).toEqualTypeOf<Pick<Post, "id" | "title">[]>();

    const one = await posts.findOne({ where: { id: "p1" }, select: ["publishedAt"] });
    expectTypeOf(one).toEqualTypeOf<Pick<Post, "publishedAt"> | null>();
    expect(one?.publishedAt).toEqual(new Date(0));

    for await (const row of posts.iterate({ select: ["body"] })) {
      expectTypeOf(row).toEqualTypeOf<Pick<Post, "body">>();
      expect(row).toEqual({ body: "..." });
    }

    // A projection kept in a variable: typed SelectQuery.
    const query: SelectQuery<Post, "title"> = { select: ["title"] };
    expectTypeOf(await posts.findAll(query)).toEqualTypeOf<Pick<Post, "title">[]>();
  });

  test("without select, whole entities; a Query<T> variable holds no select", async () => {
    expectTypeOf(await posts.findAll()).toEqualTypeOf<Post[]>();
    expectTypeOf(await posts.findAll({ where: { title: "Hello" } })).toEqualTypeOf<Post[]>();
    const query: Query<Post> = { where: { title: "Hello" } };
    const found = await posts.findAll(query);
    expectTypeOf(found).toEqualTypeOf<Post[]>();
    expect(found[0]?.summary()).toBe("Hello");
    // @ts-expect-error a Query<T> is a query for whole entities: a projection is typed SelectQuery<T, ...>
    const withSelect: Query<Post> = { select: ["title"] };
    expect(withSelect).toBeDefined();
  });

  test("a name that is not a field is a compile error (and a QueryError at run time)", async () => {
    // @ts-expect-error "nope" is not a field of Post
    await expect(posts.findAll({ select: ["id", "nope"] })).rejects.toThrow(/"nope" is not a column/);
    // @ts-expect-error a method is not a field
    await expect(posts.findAll({ select: ["summary"] })).rejects.toThrow(/"summary" is not a column/);
    // @ts-expect-error an unselected field is not on the result
    expect((await posts.findOne({ select: ["title"] }))?.body).toBeUndefined();
  });
});
