/**
 * Conformance: relation filters in `where` (README, "Relations"), on one backend. A to-one relation is
 * filtered by conditions on the related row (`null`: no related row), a to-many or many-to-many one by
 * `$some`, `$none` and `$every`; inner conditions keep the two-valued semantics of a top-level where (`$ne`
 * matches null, `$like` never does), so `$every` fails on a related row whose field is null. The data is
 * written once, parents first; tests that write do so in a transaction they roll back.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { Column, Entity, JoinColumn, JoinTable, ManyToMany, ManyToOne, OneToMany, PrimaryColumn } from "typeorm";
import { QueryError } from "../errors.js";
import type { Where } from "../query/query.js";
import type { Row } from "../schema/entity-schema.js";
import { readEntitySchema } from "../schema/read-entity-schema.js";
import { coreOf } from "../storage-core.js";
import type { Storage } from "../storage.js";

@Entity("rf_authors")
export class RfAuthor {
  @PrimaryColumn({ type: "string" }) id: string;
  @Column({ type: "string" }) name: string;
  @Column({ type: "integer", nullable: true }) rank: number | null;
  @OneToMany(() => RfPost, (p) => p.author) posts?: RfPost[];
  @OneToMany(() => RfComment, (c) => c.author) comments?: RfComment[];
}

@Entity("rf_tags")
export class RfTag {
  @PrimaryColumn({ type: "string" }) slug: string;
  @Column({ type: "string", nullable: true }) color: string | null;
  @ManyToMany(() => RfPost, (p) => p.tags) posts?: RfPost[];
}

@Entity("rf_posts")
export class RfPost {
  @PrimaryColumn({ type: "integer" }) id: number;
  @Column({ type: "string" }) title: string;
  @ManyToOne(() => RfAuthor, (a) => a.posts) @JoinColumn({ name: "authorId" }) author?: RfAuthor | null;
  @Column({ type: "string", nullable: true }) authorId: string | null;
  @OneToMany(() => RfComment, (c) => c.post) comments?: RfComment[];
  @ManyToMany(() => RfTag, (t) => t.posts) @JoinTable({ name: "rf_post_tags", joinColumn: { name: "postId" }, inverseJoinColumn: { name: "tagId" } }) tags?: RfTag[];
}

@Entity("rf_comments")
export class RfComment {
  @PrimaryColumn({ type: "integer" }) id: number;
  @Column({ type: "string", nullable: true }) body: string | null;
  @Column({ type: "boolean", nullable: true }) approved: boolean | null;
  @ManyToOne(() => RfPost, (p) => p.comments, { nullable: false, onDelete: "CASCADE" }) @JoinColumn({ name: "postId" }) post?: RfPost;
  @Column({ type: "integer" }) postId: number;
  @ManyToOne(() => RfAuthor, (a) => a.comments) @JoinColumn({ name: "authorId" }) author?: RfAuthor | null;
  @Column({ type: "string", nullable: true }) authorId: string | null;
}

/** The entities of the relation filter group. */
export const RELATION_FILTER_ENTITIES: Function[] = [RfAuthor, RfTag, RfPost, RfComment];

type Test = (name: string, fn: () => Promise<void>, timeout?: number) => void;
type Hook = (fn: () => Promise<void> | void, timeout?: number) => void;

/** What the group needs of the suite's `TestApi` (declared here: the suite imports this module). */
interface GroupApi {
  describe(name: string, fn: () => void): void;
  test: Test;
  beforeAll: Hook;
  afterAll: Hook;
}

/** What the group needs of the suite's `ConformanceTarget`. */
interface GroupTarget {
  readonly name: string;
  open(entities: Function[]): Promise<Storage>;
  cleanup?(): Promise<void>;
}

const AUTHORS: Partial<RfAuthor>[] = [
  { id: "a1", name: "Ada", rank: 1 },
  { id: "a2", name: "Bob", rank: null },
  { id: "a3", name: "Cy", rank: 3 },
];
const TAGS: Partial<RfTag>[] = [
  { slug: "red", color: "red" },
  { slug: "blue", color: null },
  { slug: "green", color: "green" },
];
const POSTS: Partial<RfPost>[] = [
  { id: 1, title: "Intro", authorId: "a1" },
  { id: 2, title: "Deep", authorId: "a2" },
  { id: 3, title: "Orphan", authorId: null },
  { id: 4, title: "Empty", authorId: "a1" },
];
const COMMENTS: Partial<RfComment>[] = [
  { id: 10, postId: 1, approved: true, authorId: "a2", body: "ok" },
  { id: 11, postId: 1, approved: null, authorId: null, body: null },
  { id: 12, postId: 2, approved: true, authorId: "a1", body: "great" },
  { id: 13, postId: 2, approved: true, authorId: "a3", body: "fine" },
  { id: 14, postId: 3, approved: false, authorId: "a1", body: "no" },
];
const LINKS: [number, string][] = [
  [1, "red"],
  [1, "blue"],
  [2, "red"],
  [3, "blue"],
];

const joinSchema = () => readEntitySchema(RfPost).relationsByProperty.get("tags")!.joinTable!.schema;

/**
 * Links a post to tags by writing join rows through the storage's data session (the ambient transaction's,
 * inside one): the many-to-many's link API is not this group's subject.
 */
async function link(storage: Storage, pairs: readonly [number, string][]): Promise<void> {
  const core = coreOf(storage);
  const session = core.transactions.current()?.session ?? core.backend.session;
  for (const [postId, tagId] of pairs) await session.insert(joinSchema(), { id: null, postId, tagId });
  core.transactions.noteWrite(joinSchema().table);
}

/** Deletes every join row, through the session as {@link link} writes them. */
async function unlinkAll(storage: Storage): Promise<void> {
  const core = coreOf(storage);
  const session = core.transactions.current()?.session ?? core.backend.session;
  await session.deleteMany(joinSchema(), [[]]);
  core.transactions.noteWrite(joinSchema().table);
}

/** Every join row, as the session sees them. */
async function links(storage: Storage): Promise<Row[]> {
  const core = coreOf(storage);
  const session = core.transactions.current()?.session ?? core.backend.session;
  const schema = joinSchema();
  return session.find(schema, { where: [[]], orderBy: [{ column: schema.primary, direction: "asc" }], offset: 0 });
}

/** Thrown to roll a test's transaction back. */
class Rollback extends Error {}

/** Runs `fn` in a transaction that is rolled back after it. */
async function inRolledBack(storage: Storage, fn: () => Promise<void>): Promise<void> {
  await assert.rejects(
    storage.transaction(async () => {
      await fn();
      throw new Rollback("rollback");
    }),
    Rollback,
  );
}

/** Registers the relation filter group for `target`, on its own storage of the rf_ entities. */
export function registerRelationFilterTests(api: GroupApi, target: GroupTarget, runs: number): void {
  api.describe(`${target.name}: relation filters`, () => {
    let storage!: Storage;
    api.beforeAll(async () => {
      storage = await target.open(RELATION_FILTER_ENTITIES);
      // Parents first: the data is consistent whether foreign keys are enforced or not.
      await storage.repository(RfAuthor).saveMany(AUTHORS.map((a) => Object.assign(new RfAuthor(), a)));
      await storage.repository(RfTag).saveMany(TAGS.map((t) => Object.assign(new RfTag(), t)));
      await storage.repository(RfPost).saveMany(POSTS.map((p) => Object.assign(new RfPost(), p)));
      await storage.repository(RfComment).saveMany(COMMENTS.map((c) => Object.assign(new RfComment(), c)));
      await link(storage, LINKS);
    });
    api.afterAll(async () => {
      await storage?.close();
      await target.cleanup?.();
    });
    relationFilterTests(api.test, () => storage, runs);
  });
}

const postIds = async (storage: Storage, where: Where<RfPost> | Where<RfPost>[]) =>
  (await storage.repository(RfPost).findAll({ where, orderBy: { id: "asc" } })).map((p) => p.id);

async function rejectsQuery(promise: Promise<unknown>, mentions: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof QueryError, `expected QueryError, got ${(error as Error)?.constructor?.name}: ${(error as Error)?.message}`);
    assert.ok(error.message.includes(mentions), `"${error.message}" should mention ${mentions}`);
    return true;
  });
}

function relationFilterTests(test: Test, s: () => Storage, runs: number): void {
  test("to-one: the related row exists and matches; null: there is none", async () => {
    assert.deepEqual(await postIds(s(), { author: { name: "Ada" } }), [1, 4]);
    assert.deepEqual(await postIds(s(), { author: null }), [3]);
    assert.deepEqual(await postIds(s(), { author: {} }), [1, 2, 4]);
    assert.deepEqual(await postIds(s(), { author: { name: "Nobody" } }), []);
    // $ne matches a null rank inside a relation, as at the top level.
    assert.deepEqual(await postIds(s(), { author: { rank: { $ne: 1 } } }), [2]);
    assert.deepEqual(await postIds(s(), { author: [{ name: "Bob" }, { rank: 1 }] }), [1, 2, 4]);
    assert.deepEqual(await postIds(s(), { author: { name: "Ada" }, title: "Empty" }), [4]);
    const comments = await s().repository(RfComment).findAll({ where: { post: { title: "Deep" } }, orderBy: { id: "asc" } });
    assert.deepEqual(comments.map((c) => c.id), [12, 13]);
  });

  test("to-many: $some, $none and $every, with nulls in the inner fields", async () => {
    assert.deepEqual(await postIds(s(), { comments: { $some: { approved: true } } }), [1, 2]);
    assert.deepEqual(await postIds(s(), { comments: { $some: { approved: { $ne: true } } } }), [1, 3]);
    assert.deepEqual(await postIds(s(), { comments: { $none: { approved: true } } }), [3, 4]);
    assert.deepEqual(await postIds(s(), { comments: { $some: {} } }), [1, 2, 3]);
    assert.deepEqual(await postIds(s(), { comments: { $none: {} } }), [4]);
    // Every comment approved: post 1's null approval fails, post 4 (no comment) passes vacuously.
    assert.deepEqual(await postIds(s(), { comments: { $every: { approved: true } } }), [2, 4]);
    assert.deepEqual(await postIds(s(), { comments: { $every: { approved: { $ne: false } } } }), [1, 2, 4]);
    // $like never matches null: post 1's comment without a body fails $every.
    assert.deepEqual(await postIds(s(), { comments: { $every: { body: { $like: "%" } } } }), [2, 3, 4]);
    assert.deepEqual(await postIds(s(), { comments: { $every: { body: { $ne: "ok" } } } }), [2, 3, 4]);
    assert.deepEqual(await postIds(s(), { comments: { $some: { approved: true }, $none: { body: null } } }), [2]);
    const authors = await s().repository(RfAuthor).findAll({ where: { posts: { $none: {} } }, orderBy: { id: "asc" } });
    assert.deepEqual(authors.map((a) => a.id), ["a3"]);
  });

  test("many-to-many through the join table, from both sides", async () => {
    assert.deepEqual(await postIds(s(), { tags: { $some: { color: "red" } } }), [1, 2]);
    assert.deepEqual(await postIds(s(), { tags: { $none: { color: "red" } } }), [3, 4]);
    assert.deepEqual(await postIds(s(), { tags: { $every: { color: "red" } } }), [2, 4]);
    assert.deepEqual(await postIds(s(), { tags: { $every: { color: { $ne: "red" } } } }), [3, 4]);
    assert.deepEqual(await postIds(s(), { tags: { $some: { color: null } } }), [1, 3]);
    const tags = await s().repository(RfTag).findAll({ where: { posts: { $some: { title: "Intro" } } }, orderBy: { slug: "asc" } });
    assert.deepEqual(tags.map((t) => t.slug), ["blue", "red"]);
    const unused = await s().repository(RfTag).findAll({ where: { posts: { $none: {} } } });
    assert.deepEqual(unused.map((t) => t.slug), ["green"]);
  });

  test("nested relation filters, and relation filters inside OR arrays", async () => {
    assert.deepEqual(await postIds(s(), { comments: { $some: { author: { name: "Ada" } } } }), [2, 3]);
    assert.deepEqual(await postIds(s(), { comments: { $every: { author: { rank: { $ne: 3 } } } } }), [3, 4]);
    const authors = s().repository(RfAuthor);
    const ids = async (where: Where<RfAuthor>) => (await authors.findAll({ where, orderBy: { id: "asc" } })).map((a) => a.id);
    assert.deepEqual(await ids({ posts: { $some: { comments: { $some: { approved: true } } } } }), ["a1", "a2"]);
    assert.deepEqual(await ids({ posts: { $every: { comments: { $some: { approved: true } } } } }), ["a2", "a3"]);
    assert.deepEqual(await ids({ posts: { $some: { tags: { $some: { slug: "blue" } } } } }), ["a1"]);
    assert.deepEqual(await postIds(s(), [{ title: "Empty" }, { comments: { $some: { body: "no" } } }]), [3, 4]);
    assert.deepEqual(await postIds(s(), { title: { $ne: "Intro" }, tags: { $some: [{ color: "red" }, { color: null }] } }), [2, 3]);
    assert.deepEqual(await postIds(s(), [{ author: null }, { author: { name: "Bob" } }]), [2, 3]);
  });

  test("count, findOne, select, iterate and findPage take relation filters", async () => {
    const posts = s().repository(RfPost);
    assert.equal(await posts.count({ comments: { $some: { approved: true } } }), 2);
    assert.equal(await posts.count([{ author: null }, { tags: { $every: { color: "red" } } }]), 3);
    assert.equal((await posts.findOne({ where: { author: { name: "Bob" } } }))?.id, 2);
    const titles = await posts.findAll({ select: ["title"], where: { tags: { $some: { slug: "red" } } }, orderBy: { title: "asc" } });
    assert.deepEqual(titles, [{ title: "Deep" }, { title: "Intro" }]);
    const walked: number[] = [];
    for await (const post of posts.iterate({ where: { comments: { $some: {} } }, orderBy: { title: "desc" } }, { pageSize: 1 })) walked.push(post.id);
    assert.deepEqual(walked, [3, 1, 2]);
    // With an equality on an indexed column (the foreign key's index) and in the index's order: a walk the
    // index may serve, the relation filter tested on each row it visits.
    for (const orderBy of [{ id: "asc" as const }, { authorId: "desc" as const }]) {
      const served: number[] = [];
      for await (const post of posts.iterate({ where: { authorId: "a1", comments: { $some: {} } }, orderBy }, { pageSize: 1 })) served.push(post.id);
      assert.deepEqual(served, [1], `iterate ordered by ${JSON.stringify(orderBy)}`);
    }
    const ordered: number[] = [];
    for await (const post of posts.iterate({ where: { comments: { $none: {} } }, orderBy: { authorId: "asc" } })) ordered.push(post.id);
    assert.deepEqual(ordered, [4]);
    const paged: number[] = [];
    let page = await posts.findPage({ where: { author: {} }, orderBy: { title: "asc" }, first: 2 });
    paged.push(...page.items.map((p) => p.id));
    while (page.nextCursor) {
      page = await posts.findPage({ where: { author: {} }, orderBy: { title: "asc" }, first: 2, after: page.nextCursor });
      paged.push(...page.items.map((p) => p.id));
    }
    assert.deepEqual(paged, [2, 4, 1]);
    // A cursor belongs to its relation filter: another one's is refused.
    const first = await posts.findPage({ where: { author: { name: "Ada" } }, first: 1 });
    await rejectsQuery(posts.findPage({ where: { author: { name: "Bob" } }, first: 1, after: first.nextCursor }), "another query");
  });

  test("deleteMany with relation filters deletes exactly the matching rows", async () => {
    await inRolledBack(s(), async () => {
      const comments = s().repository(RfComment);
      assert.equal(await comments.deleteMany({ post: { author: { name: "Ada" } } }), 2);
      assert.deepEqual((await comments.findAll({ orderBy: { id: "asc" } })).map((c) => c.id), [12, 13, 14]);
      assert.equal(await comments.deleteMany({ post: { tags: { $none: {} } }, approved: true }), 0);
      assert.equal(await comments.deleteMany([{ approved: false }, { author: { rank: 3 } }]), 2);
      assert.deepEqual((await comments.findAll()).map((c) => c.id), [12]);
      // Post 4 has no comment left to restrict its delete, and no tag.
      assert.equal(await s().repository(RfPost).deleteMany({ comments: { $none: {} }, author: { name: "Ada" } }), 2);
      assert.deepEqual(await postIds(s(), {}), [2, 3]);
    });
    assert.deepEqual(await postIds(s(), {}), [1, 2, 3, 4]);
  });

  test("inside a transaction, relation filters see its own writes to the related tables", async () => {
    await inRolledBack(s(), async () => {
      const comments = s().repository(RfComment);
      await comments.insert(Object.assign(new RfComment(), { id: 15, postId: 4, approved: true, authorId: null, body: "new" }));
      await comments.update(11, { approved: true });
      await comments.delete(14);
      assert.deepEqual(await postIds(s(), { comments: { $some: { approved: true } } }), [1, 2, 4]);
      assert.deepEqual(await postIds(s(), { comments: { $every: { approved: true } } }), [1, 2, 3, 4]);
      assert.deepEqual(await postIds(s(), { comments: { $none: {} } }), [3]);
      await s().repository(RfAuthor).insert(Object.assign(new RfAuthor(), { id: "a4", name: "Dee", rank: null }));
      await s().repository(RfPost).update(3, { authorId: "a4" });
      assert.deepEqual(await postIds(s(), { author: { name: "Dee" } }), [3]);
      assert.deepEqual(await postIds(s(), { author: null }), []);
      await link(s(), [[4, "green"]]);
      assert.deepEqual(await postIds(s(), { tags: { $some: { color: "green" } } }), [4]);
      assert.equal(await s().repository(RfPost).count({ tags: { $every: { color: { $ne: null } } } }), 2);
    });
    assert.deepEqual(await postIds(s(), { comments: { $some: { approved: true } } }), [1, 2]);
    assert.deepEqual(await postIds(s(), { tags: { $some: { color: "green" } } }), []);
  });

  test("a cached query with a relation filter is invalidated by writes to the related table", async () => {
    const posts = s().repository(RfPost);
    const cached = () => posts.findAll({ where: { comments: { $some: { approved: false } } }, cache: true }).then((rows) => rows.map((p) => p.id));
    const byAuthor = () => posts.findAll({ where: { author: { name: "Ada" } }, orderBy: { id: "asc" }, cache: true }).then((rows) => rows.map((p) => p.id));
    assert.deepEqual(await cached(), [3]);
    assert.deepEqual(await byAuthor(), [1, 4]);
    await s().repository(RfComment).update(14, { approved: true });
    await s().repository(RfAuthor).update("a1", { name: "Ada L." });
    try {
      assert.deepEqual(await cached(), []);
      assert.deepEqual(await byAuthor(), []);
      assert.equal(await posts.count({ author: { name: "Ada L." } }, { cache: true }), 2);
    } finally {
      await s().repository(RfComment).update(14, { approved: false });
      await s().repository(RfAuthor).update("a1", { name: "Ada" });
    }
    assert.deepEqual(await cached(), [3]);
    assert.equal(await posts.count({ author: { name: "Ada L." } }, { cache: true }), 0);
  });

  test("an include's where may name a relation, and a cached include follows writes to the tables that where reads", async () => {
    const posts = s().repository(RfPost);
    const load = async (cache: boolean) =>
      (await posts.findAll({ where: { id: { $in: [1, 2] } }, include: { comments: { where: { author: { name: "Ada" } } } }, orderBy: { id: "asc" }, cache })).map((p) => [
        p.id,
        p.comments!.map((c) => c.id),
      ]);
    assert.deepEqual(await load(false), [[1, []], [2, [12]]]);
    assert.deepEqual(await load(true), [[1, []], [2, [12]]]);
    await s().repository(RfAuthor).update("a1", { name: "Ada L." });
    try {
      assert.deepEqual(await load(true), [[1, []], [2, []]]);
    } finally {
      await s().repository(RfAuthor).update("a1", { name: "Ada" });
    }
    assert.deepEqual(await load(true), [[1, []], [2, [12]]]);
  });

  test("an unknown relation, operator or field is a QueryError naming it", async () => {
    const posts = s().repository(RfPost);
    await rejectsQuery(posts.findAll({ where: { nope: 1 } as never }), "nope");
    await rejectsQuery(posts.findAll({ where: { comments: { $any: {} } } as never }), "$any");
    await rejectsQuery(posts.findAll({ where: { comments: { approved: true } } as never }), "$some");
    await rejectsQuery(posts.findAll({ where: { author: { $some: {} } } as never }), "$some");
    await rejectsQuery(posts.findAll({ where: { comments: { $some: { nope: 1 } } } as never }), "nope");
    await rejectsQuery(posts.count({ author: { name: { $bad: 1 } } } as never), "$bad");
    await rejectsQuery(posts.deleteMany({ tags: 3 } as never), "tags");
  });

  test("property: random relation filters agree with a naive evaluation of the rows", async () => {
    await fc.assert(
      fc.asyncProperty(dataArb, fc.array(filterArb, { minLength: 1, maxLength: 6 }), async (data, filters) => {
        await inRolledBack(s(), async () => {
          await s().repository(RfComment).deleteMany({});
          await unlinkAll(s());
          await s().repository(RfPost).deleteMany({});
          await s().repository(RfTag).deleteMany({});
          await s().repository(RfAuthor).deleteMany({});
          // One insert at a time: saveMany inside a transaction needs savepoints, which a backend may not have.
          for (const a of data.authors) await s().repository(RfAuthor).insert(Object.assign(new RfAuthor(), a));
          for (const t of data.tags) await s().repository(RfTag).insert(Object.assign(new RfTag(), t));
          for (const p of data.posts) await s().repository(RfPost).insert(Object.assign(new RfPost(), p));
          for (const c of data.comments) await s().repository(RfComment).insert(Object.assign(new RfComment(), c));
          await link(s(), data.links);
          const model = await readModel(s());
          for (const filter of filters) {
            const expected = model.posts.filter((p) => evalPost(model, p, filter.ast)).map((p) => p["id"]);
            assert.deepEqual(await postIds(s(), filter.where), expected, `where ${JSON.stringify(filter.where)}`);
            assert.equal(await s().repository(RfPost).count(filter.where), expected.length, `count ${JSON.stringify(filter.where)}`);
          }
        });
      }),
      { numRuns: runs },
    );
  }, 120_000);
}

// --- the property test's data, filters and reference evaluation

const AUTHOR_IDS = ["x1", "x2", "x3"];
const TAG_SLUGS = ["t1", "t2", "t3"];
const nameArb = fc.constantFrom("Ada", "Bob");
const rankArb = fc.constantFrom(1, 2, null);
const dataArb = fc
  .record({
    authors: fc.subarray(AUTHOR_IDS).chain((ids) => fc.tuple(...ids.map((id) => fc.record({ id: fc.constant(id), name: nameArb, rank: rankArb })))),
    tags: fc.subarray(TAG_SLUGS).chain((slugs) => fc.tuple(...slugs.map((slug) => fc.record({ slug: fc.constant(slug), color: fc.constantFrom("red", null) })))),
    posts: fc.array(fc.record({ author: fc.nat(3), title: fc.constantFrom("a", "b") }), { maxLength: 5 }),
    comments: fc.array(fc.record({ post: fc.nat(9), author: fc.nat(3), approved: fc.constantFrom(true, false, null), body: fc.constantFrom("x", "y", null) }), { maxLength: 8 }),
    links: fc.array(fc.tuple(fc.nat(9), fc.nat(2)), { maxLength: 6 }),
  })
  .map(({ authors, tags, posts, comments, links }) => {
    const authorIds = authors.map((a) => a.id);
    const postRows = posts.map((p, i) => ({ id: i + 1, title: p.title, authorId: authorIds[p.author] ?? null }));
    const commentRows = postRows.length === 0 ? [] : comments.map((c, i) => ({ id: 100 + i, postId: postRows[c.post % postRows.length]!.id, authorId: authorIds[c.author] ?? null, approved: c.approved, body: c.body }));
    const pairs = new Map<string, [number, string]>();
    if (postRows.length > 0 && tags.length > 0) {
      for (const [p, t] of links) {
        const pair: [number, string] = [postRows[p % postRows.length]!.id, tags[t % tags.length]!.slug];
        pairs.set(pair.join("|"), pair);
      }
    }
    return { authors, tags, posts: postRows, comments: commentRows, links: [...pairs.values()] };
  });

/** A filter as a tree the reference evaluates, beside the where it is written as. */
type Ast =
  | { kind: "field"; field: string; test: FieldTest; value: unknown }
  | { kind: "rel"; relation: string; quantifier: "some" | "none" | "every" | "toOne" | "toNull"; where: Ast[][] };

interface Filter {
  readonly ast: Ast[][];
  readonly where: Where<RfPost>[];
}

/**
 * The tests a field term makes: `in`/`nin` with a one-value list, `inNull`/`ninNull` with null in it too,
 * `like` a pattern on a string (`%` plus the value's last character), `gt` on a number (its value's own type decides).
 */
type FieldTest = "eq" | "ne" | "null" | "in" | "nin" | "inNull" | "ninNull" | "like" | "gt";
const FIELD_TESTS: FieldTest[] = ["eq", "ne", "null", "in", "nin", "inNull", "ninNull", "like", "gt"];
const fieldArb = (fields: Record<string, unknown[]>): fc.Arbitrary<Ast> =>
  fc.constantFrom(...Object.keys(fields)).chain((field) =>
    fc.record({ kind: fc.constant("field" as const), field: fc.constant(field), test: fc.constantFrom(...FIELD_TESTS), value: fc.constantFrom(...fields[field]!) }),
  );
const FIELDS: Record<string, Record<string, unknown[]>> = {
  post: { title: ["a", "b"] },
  author: { name: ["Ada", "Bob"], rank: [1, 2] },
  tag: { color: ["red"] },
  comment: { approved: [true, false], body: ["x"] },
};
/** The relations of each entity the filters follow: [property, target entity, to-many]. */
const RELATIONS: Record<string, [string, string, boolean][]> = {
  post: [["author", "author", false], ["comments", "comment", true], ["tags", "tag", true]],
  comment: [["author", "author", false], ["post", "post", false]],
  author: [["posts", "post", true]],
  tag: [["posts", "post", true]],
};

function whereArb(entity: string, depth: number, nested = false): fc.Arbitrary<Ast[][]> {
  const term: fc.Arbitrary<Ast> =
    depth <= 0
      ? fieldArb(FIELDS[entity]!)
      : fc.oneof(
          fieldArb(FIELDS[entity]!),
          fc.constantFrom(...RELATIONS[entity]!).chain(([relation, target, toMany]) =>
            fc.record({
              kind: fc.constant("rel" as const),
              relation: fc.constant(relation),
              quantifier: toMany ? fc.constantFrom("some" as const, "none" as const, "every" as const) : fc.constantFrom("toOne" as const, "toNull" as const),
              where: whereArb(target, depth - 1, true),
            }),
          ),
        );
  // Inside a relation an empty OR (matching no related row) may come up too; at the top it would match nothing.
  return fc.array(fc.array(term, { maxLength: 2 }), { minLength: nested ? 0 : 1, maxLength: 2 });
}

const filterArb: fc.Arbitrary<Filter> = whereArb("post", 3).map((ast) => ({ ast, where: toWhere(ast) as Where<RfPost>[] }));

/** The where an AST stands for: each group an object (two tests of one key: the later wins, as the reference takes it). */
function toWhere(groups: Ast[][]): Record<string, unknown>[] {
  return groups.map((group) => {
    const out: Record<string, unknown> = {};
    for (const term of group) {
      if (term.kind === "field") out[term.field] = fieldWhere(term.test, term.value);
      else if (term.quantifier === "toNull") out[term.relation] = null;
      else if (term.quantifier === "toOne") out[term.relation] = toWhere(term.where);
      else out[term.relation] = { [`$${term.quantifier}`]: toWhere(term.where) };
    }
    return out;
  });
}

/** The where of one field test (see {@link FieldTest}). */
function fieldWhere(test: FieldTest, value: unknown): unknown {
  switch (test) {
    case "eq":
      return value;
    case "ne":
      return { $ne: value };
    case "null":
      return null;
    case "in":
      return { $in: [value] };
    case "nin":
      return { $nin: [value] };
    case "inNull":
      return { $in: [value, null] };
    case "ninNull":
      return { $nin: [value, null] };
    case "like":
      return typeof value === "string" ? { $like: `%${value.slice(-1)}` } : { $gte: value };
    case "gt":
      return typeof value === "number" ? { $gt: value } : { $lte: value };
  }
}

/** What the reference makes of a field test on `actual` (null when missing). */
function fieldMatches(test: FieldTest, value: unknown, actual: unknown): boolean {
  switch (test) {
    case "eq":
    case "in":
      return actual === value;
    case "ne":
    case "nin":
      return actual !== value;
    case "null":
      return actual === null;
    case "inNull":
      return actual === null || actual === value;
    case "ninNull":
      return actual !== null && actual !== value;
    case "like":
      if (actual === null) return false;
      return typeof value === "string" ? (actual as string).endsWith(value.slice(-1)) : (actual as number) >= (value as number);
    case "gt":
      if (actual === null) return false;
      return typeof value === "number" ? (actual as number) > value : (actual as string | boolean) <= (value as string | boolean);
  }
}

/** What the reference reads: every row of every table, as the storage holds them. */
interface Model {
  readonly authors: Row[];
  readonly tags: Row[];
  readonly posts: Row[];
  readonly comments: Row[];
  readonly links: Row[];
}

async function readModel(storage: Storage): Promise<Model> {
  const all = async (entity: Function, key: string) => (await storage.repository(entity as typeof RfPost).findAll({ orderBy: { [key]: "asc" } as never })) as unknown as Row[];
  return {
    authors: await all(RfAuthor, "id"),
    tags: await all(RfTag, "slug"),
    posts: await all(RfPost, "id"),
    comments: await all(RfComment, "id"),
    links: await links(storage),
  };
}

/** The rows related to `row` (of `entity`) by `relation`, found by scanning the model. */
function relatedRows(model: Model, entity: string, row: Row, relation: string): [string, Row[]] {
  switch (`${entity}.${relation}`) {
    case "post.author":
    case "comment.author":
      return ["author", model.authors.filter((a) => row["authorId"] !== null && a["id"] === row["authorId"])];
    case "comment.post":
      return ["post", model.posts.filter((p) => p["id"] === row["postId"])];
    case "post.comments":
      return ["comment", model.comments.filter((c) => c["postId"] === row["id"])];
    case "post.tags":
      return ["tag", model.tags.filter((t) => model.links.some((l) => l["postId"] === row["id"] && l["tagId"] === t["slug"]))];
    case "author.posts":
      return ["post", model.posts.filter((p) => p["authorId"] === row["id"])];
    default: // tag.posts
      return ["post", model.posts.filter((p) => model.links.some((l) => l["tagId"] === row["slug"] && l["postId"] === p["id"]))];
  }
}

function evalWhere(model: Model, entity: string, row: Row, groups: Ast[][]): boolean {
  return groups.some((group) => {
    // As toWhere: the later test of one key wins.
    const byKey = new Map<string, Ast>();
    for (const term of group) byKey.set(term.kind === "field" ? term.field : term.relation, term);
    return [...byKey.values()].every((term) => evalTerm(model, entity, row, term));
  });
}

function evalTerm(model: Model, entity: string, row: Row, term: Ast): boolean {
  if (term.kind === "field") {
    return fieldMatches(term.test, term.value, row[term.field] ?? null);
  }
  const [target, rows] = relatedRows(model, entity, row, term.relation);
  const matches = (r: Row) => evalWhere(model, target, r, term.where);
  switch (term.quantifier) {
    case "toNull":
      return rows.length === 0;
    case "toOne":
    case "some":
      return rows.some(matches);
    case "none":
      return !rows.some(matches);
    case "every":
      return rows.every(matches);
  }
}

function evalPost(model: Model, post: Row, groups: Ast[][]): boolean {
  return evalWhere(model, "post", post, groups);
}
