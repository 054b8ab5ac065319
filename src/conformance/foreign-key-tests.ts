/**
 * The conformance cases of foreign keys (README, "Relations"): a write naming a missing parent is an
 * `IntegrityError` naming the relation and writes nothing; deleting a referenced row restricts, cascades
 * (level after level, self-references included) or sets null as `onDelete` says, atomically, inside
 * transactions and savepoints too. The entities (tables `efk_*`) are this module's own: authors, whose posts
 * (CASCADE; an editor, SET NULL) have comments (CASCADE) with reactions (CASCADE) and pins (RESTRICT), a
 * self-referencing tree of categories (CASCADE), and tags linked to posts both by a many-to-many relation
 * (its join table's rows written through the backend's session, as `link` would) and through a join entity
 * whose two foreign keys cascade, as the join table's do.
 */
import assert from "node:assert/strict";
import { Column, Entity, JoinColumn, JoinTable, ManyToMany, ManyToOne, PrimaryColumn, PrimaryGeneratedColumn, UpdateDateColumn, VersionColumn } from "typeorm";
import { IntegrityError } from "../errors.js";
import type { StorageError } from "../errors.js";
import { readEntitySchema } from "../schema/read-entity-schema.js";
import type { Storage } from "../storage.js";
import { coreOf } from "../storage-core.js";

type Test = (name: string, fn: () => Promise<void>, timeout?: number) => void;

@Entity("efk_authors")
export class EfkAuthor {
  @PrimaryColumn({ type: "string" }) id: string;
  @Column({ type: "string" }) name: string;
}

@Entity("efk_posts")
export class EfkPost {
  @PrimaryColumn({ type: "string" }) id: string;
  @Column({ type: "string" }) title: string;
  @ManyToOne(() => EfkAuthor, { nullable: false, onDelete: "CASCADE" })
  @JoinColumn({ name: "authorId" })
  author?: EfkAuthor;
  @Column({ type: "string" }) authorId: string;
  @ManyToOne(() => EfkAuthor, { onDelete: "SET NULL" })
  @JoinColumn({ name: "editorId" })
  editor?: EfkAuthor | null;
  @Column({ type: "string", nullable: true }) editorId: string | null;
  @ManyToMany(() => EfkTag)
  @JoinTable({ name: "efk_post_tag_links" })
  tags?: EfkTag[];
  @VersionColumn() version: number;
  @UpdateDateColumn() updatedAt: Date;
}

@Entity("efk_comments")
export class EfkComment {
  @PrimaryColumn({ type: "string" }) id: string;
  @Column({ type: "string" }) body: string;
  @ManyToOne(() => EfkPost, { nullable: false, onDelete: "CASCADE" })
  @JoinColumn({ name: "postId" })
  post?: EfkPost;
  @Column({ type: "string" }) postId: string;
}

@Entity("efk_reactions")
export class EfkReaction {
  @PrimaryColumn({ type: "string" }) id: string;
  @ManyToOne(() => EfkComment, { nullable: false, onDelete: "CASCADE" })
  @JoinColumn({ name: "commentId" })
  comment?: EfkComment;
  @Column({ type: "string" }) commentId: string;
}

/** A comment pinned cannot be deleted (onDelete RESTRICT, the default). */
@Entity("efk_pins")
export class EfkPin {
  @PrimaryColumn({ type: "string" }) id: string;
  @ManyToOne(() => EfkComment, { nullable: false })
  @JoinColumn({ name: "commentId" })
  comment?: EfkComment;
  @Column({ type: "string" }) commentId: string;
}

@Entity("efk_categories")
export class EfkCategory {
  @PrimaryColumn({ type: "string" }) id: string;
  @Column({ type: "string" }) name: string;
  @ManyToOne(() => EfkCategory, { onDelete: "CASCADE" })
  @JoinColumn({ name: "parentId" })
  parent?: EfkCategory | null;
  @Column({ type: "string", nullable: true }) parentId: string | null;
}

@Entity("efk_tags")
export class EfkTag {
  @PrimaryColumn({ type: "string" }) id: string;
}

/** A link of a post and a tag: both foreign keys cascade, as those of a many-to-many join table. */
@Entity("efk_post_tags")
export class EfkPostTag {
  @PrimaryGeneratedColumn("increment") id: number;
  @ManyToOne(() => EfkPost, { nullable: false, onDelete: "CASCADE" })
  @JoinColumn({ name: "postId" })
  post?: EfkPost;
  @Column({ type: "string" }) postId: string;
  @ManyToOne(() => EfkTag, { nullable: false, onDelete: "CASCADE" })
  @JoinColumn({ name: "tagId" })
  tag?: EfkTag;
  @Column({ type: "string" }) tagId: string;
}

/** The entities of these cases, for the target's `open`. */
export const FOREIGN_KEY_ENTITIES: Function[] = [EfkAuthor, EfkPost, EfkComment, EfkReaction, EfkPin, EfkCategory, EfkTag, EfkPostTag];

/** Empties the tables, children first (a pin would refuse its comment's delete). */
export async function resetForeignKeyTables(storage: Storage): Promise<void> {
  for (const entity of [EfkPin, EfkPostTag, EfkReaction, EfkComment, EfkPost, EfkAuthor, EfkTag, EfkCategory]) {
    await storage.repository(entity as typeof EfkTag).deleteMany({});
  }
}

/** A post to write: version and update date are the storage's to set. */
function post(id: string, title: string, authorId: string, editorId: string | null): EfkPost {
  return Object.assign(new EfkPost(), { id, title, authorId, editorId });
}

/** A link row to write: its key is generated. */
function link(postId: string, tagId: string): EfkPostTag {
  return Object.assign(new EfkPostTag(), { postId, tagId });
}

async function rejectsIntegrity(promise: Promise<unknown>, message: string, context: { table: string; field?: string }): Promise<void> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof IntegrityError, `expected IntegrityError, got ${(error as Error)?.constructor?.name}: ${(error as Error)?.message}`);
    assert.ok((error as Error).message.endsWith(message), `expected a message ending with ${JSON.stringify(message)}, got ${JSON.stringify((error as Error).message)}`);
    assert.equal((error as StorageError).table, context.table);
    if (context.field !== undefined) assert.equal((error as StorageError).field, context.field);
    return;
  }
  assert.fail(`expected IntegrityError "${message}", but the call succeeded`);
}

/** What each table holds, as sorted ids: the whole state these cases compare before and after. */
async function snapshot(storage: Storage): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const entity of FOREIGN_KEY_ENTITIES) {
    const rows = await storage.repository(entity as typeof EfkTag).findAll({ orderBy: { id: "asc" } });
    out[entity.name] = rows.map((r) => ({ ...r }));
  }
  return out;
}

/** Registers the foreign key cases; `storage()` is the group's storage, its `efk_*` tables empty before each case. */
export function registerForeignKeyTests(test: Test, storage: () => Storage): void {
  const repos = () => {
    const s = storage();
    return {
      authors: s.repository(EfkAuthor),
      posts: s.repository(EfkPost),
      comments: s.repository(EfkComment),
      reactions: s.repository(EfkReaction),
      pins: s.repository(EfkPin),
      categories: s.repository(EfkCategory),
      tags: s.repository(EfkTag),
      postTags: s.repository(EfkPostTag),
    };
  };
  /** Ada (posts p1, p2; p1 has comments c1, c2, c1 a reaction r1), Bob (post p3, edited by Ada, with comment c3). */
  const seed = async () => {
    const r = repos();
    await r.authors.saveMany([{ id: "ada", name: "Ada" }, { id: "bob", name: "Bob" }]);
    await r.posts.saveMany([
      post("p1", "one", "ada", null),
      post("p2", "two", "ada", "bob"),
      post("p3", "three", "bob", "ada"),
    ]);
    await r.comments.saveMany([{ id: "c1", body: "x", postId: "p1" }, { id: "c2", body: "y", postId: "p1" }, { id: "c3", body: "z", postId: "p3" }]);
    await r.reactions.saveMany([{ id: "r1", commentId: "c1" }, { id: "r3", commentId: "c3" }]);
    return r;
  };
  const ids = (rows: readonly { id: unknown }[]) => rows.map((row) => row.id).sort();

  test("insert with a missing parent is an IntegrityError naming the relation, and writes nothing", async () => {
    const r = repos();
    await r.authors.insert({ id: "ada", name: "Ada" });
    await rejectsIntegrity(r.posts.insert(post("p1", "t", "nobody", null)), `EfkPost.author: no efk_authors row has id "nobody"`, {
      table: "efk_posts",
      field: "authorId",
    });
    await rejectsIntegrity(r.posts.save(post("p1", "t", "ada", "ghost")), `EfkPost.editor: no efk_authors row has id "ghost"`, {
      table: "efk_posts",
      field: "editorId",
    });
    assert.equal(await r.posts.count(), 0);
    assert.equal(await r.posts.findById("p1"), null);
  });

  test("a null foreign key needs no parent", async () => {
    const r = repos();
    await r.authors.insert({ id: "ada", name: "Ada" });
    const written = await r.posts.insert(post("p1", "t", "ada", null));
    assert.equal(written.editorId, null);
    await r.categories.insert({ id: "root", name: "root", parentId: null });
    assert.equal((await r.categories.findById("root"))?.parentId, null);
  });

  test("save and update that point an existing row at a missing parent are refused and change nothing", async () => {
    const r = await seed();
    const before = await r.posts.findById("p1");
    await rejectsIntegrity(r.posts.save({ ...before!, authorId: "nobody" }), `EfkPost.author: no efk_authors row has id "nobody"`, { table: "efk_posts", field: "authorId" });
    await rejectsIntegrity(r.posts.update("p1", { editorId: "nobody" }), `EfkPost.editor: no efk_authors row has id "nobody"`, { table: "efk_posts", field: "editorId" });
    assert.deepEqual({ ...(await r.posts.findById("p1")) }, { ...before });
    // An update that leaves the foreign key alone, and one that points it at an existing parent, pass.
    assert.equal((await r.posts.update("p1", { title: "renamed" })).title, "renamed");
    assert.equal((await r.posts.update("p1", { authorId: "bob", editorId: "ada" })).authorId, "bob");
  });

  test("saveMany with a missing parent: atomic writes nothing, non-atomic writes the others and reports the one", async () => {
    const r = repos();
    await r.authors.insert({ id: "ada", name: "Ada" });
    const batch = [
      post("p1", "a", "ada", null),
      post("p2", "b", "nobody", null),
      post("p3", "c", "ada", null),
    ];
    await rejectsIntegrity(r.posts.saveMany(batch), `EfkPost.author: no efk_authors row has id "nobody"`, { table: "efk_posts", field: "authorId" });
    assert.equal(await r.posts.count(), 0);
    const result = await r.posts.saveMany(batch, { atomic: false });
    assert.equal(result.succeeded, 2);
    assert.equal(result.failed, 1);
    assert.equal(result.errors[0]?.index, 1);
    assert.ok(result.errors[0]?.error instanceof IntegrityError);
    assert.deepEqual(ids(await r.posts.findAll()), ["p1", "p3"]);
  });

  test("a parent written earlier in the same transaction or batch is seen; one deleted earlier is not", async () => {
    const r = repos();
    await storage().transaction(async () => {
      await r.authors.insert({ id: "ada", name: "Ada" });
      await r.posts.insert(post("p1", "t", "ada", null));
    });
    await r.categories.saveMany([
      { id: "root", name: "root", parentId: null },
      { id: "child", name: "child", parentId: "root" },
    ]);
    assert.equal((await r.categories.findById("child"))?.parentId, "root");
    await r.authors.insert({ id: "bob", name: "Bob" });
    await assert.rejects(
      storage().transaction(async () => {
        await r.authors.delete("bob");
        await r.posts.insert(post("p2", "t", "bob", null));
      }),
      (error: unknown) => error instanceof IntegrityError && /no efk_authors row has id "bob"/.test(error.message),
    );
    assert.equal((await r.authors.findById("bob"))?.name, "Bob");
    assert.equal(await r.posts.findById("p2"), null);
  });

  test("RESTRICT refuses the delete of a referenced row and deletes nothing", async () => {
    const r = await seed();
    await r.pins.insert({ id: "pin", commentId: "c1" });
    const before = await snapshot(storage());
    await rejectsIntegrity(r.comments.delete("c1"), `efk_comments row "c1" is still referenced by efk_pins (EfkPin.comment, onDelete RESTRICT)`, { table: "efk_comments" });
    await rejectsIntegrity(r.comments.deleteMany({ postId: "p1" }), `efk_comments row "c1" is still referenced by efk_pins (EfkPin.comment, onDelete RESTRICT)`, { table: "efk_comments" });
    assert.deepEqual(await snapshot(storage()), before);
    // Once the pin is gone, the comment goes, with its reaction.
    await r.pins.delete("pin");
    assert.equal(await r.comments.delete("c1"), true);
    assert.equal(await r.reactions.findById("r1"), null);
  });

  test("CASCADE deletes three levels deep, and only the rows under the deleted one", async () => {
    const r = await seed();
    // Read through the cache first (where there is one): a cascaded row must not be served from it afterwards.
    assert.notEqual(await r.comments.findById("c1"), null);
    assert.notEqual(await r.reactions.findById("r1"), null);
    assert.equal(await r.authors.delete("ada"), true);
    assert.deepEqual(ids(await r.authors.findAll()), ["bob"]);
    assert.deepEqual(ids(await r.posts.findAll()), ["p3"]);
    assert.deepEqual(ids(await r.comments.findAll()), ["c3"]);
    assert.deepEqual(ids(await r.reactions.findAll()), ["r3"]);
    assert.equal(await r.comments.findById("c1"), null);
    assert.equal(await r.reactions.findById("r1"), null);
    assert.equal(await r.comments.count({ postId: "p1" }), 0);
  });

  test("SET NULL empties the foreign key and changes nothing else of the row (version, update date)", async () => {
    const r = await seed();
    const before = await r.posts.findById("p3");
    assert.equal(before?.editorId, "ada");
    // Ada's own posts cascade; Bob's p3, which she edited, stays.
    await r.authors.delete("ada");
    const after = await r.posts.findById("p3");
    assert.equal(after?.editorId, null);
    assert.equal(after?.version, before!.version);
    assert.equal(after?.updatedAt.getTime(), before!.updatedAt.getTime());
    assert.equal(after?.title, "three");
    assert.deepEqual(ids(await r.posts.findAll({ where: { editorId: null } })), ["p3"]);
  });

  test("a cascade that reaches a RESTRICT reference refuses the whole delete and changes nothing", async () => {
    const r = await seed();
    await r.pins.insert({ id: "pin", commentId: "c2" });
    const before = await snapshot(storage());
    await rejectsIntegrity(r.authors.delete("ada"), `efk_comments row "c2" is still referenced by efk_pins (EfkPin.comment, onDelete RESTRICT)`, { table: "efk_comments" });
    await rejectsIntegrity(r.authors.deleteMany({}), `efk_comments row "c2" is still referenced by efk_pins (EfkPin.comment, onDelete RESTRICT)`, { table: "efk_comments" });
    assert.deepEqual(await snapshot(storage()), before);
    // Bob's subtree holds no pin: his delete goes through, and p2 loses its editor (SET NULL).
    await r.authors.delete("bob");
    assert.deepEqual(ids(await r.posts.findAll()), ["p1", "p2"]);
    assert.equal((await r.posts.findById("p2"))?.editorId, null);
    assert.deepEqual(ids(await r.comments.findAll()), ["c1", "c2"]);
  });

  test("deleteMany cascades from every row it deletes", async () => {
    const r = await seed();
    assert.equal(await r.posts.deleteMany({ id: { $in: ["p1", "p3"] } }), 2);
    assert.deepEqual(ids(await r.posts.findAll()), ["p2"]);
    assert.deepEqual(ids(await r.comments.findAll()), []);
    assert.deepEqual(ids(await r.reactions.findAll()), []);
    assert.equal(await r.authors.deleteMany({}), 2);
    assert.equal(await r.posts.count(), 0);
  });

  test("a cascade inside a transaction is private until commit and undone by rollback", async () => {
    const r = await seed();
    const before = await snapshot(storage());
    const failure = new Error("roll back");
    await assert.rejects(
      storage().transaction(async () => {
        await r.authors.delete("ada");
        assert.equal(await r.comments.count({ postId: "p1" }), 0);
        assert.deepEqual(ids(await r.comments.findAll({ where: { postId: { $in: ["p1", "p3"] } } })), ["c3"]);
        assert.equal((await r.posts.findById("p3"))?.editorId, null);
        throw failure;
      }),
      (error) => error === failure,
    );
    assert.deepEqual(await snapshot(storage()), before);
    // The foreign key's index serves the restored rows again.
    assert.deepEqual(ids(await r.comments.findAll({ where: { postId: "p1" }, orderBy: { id: "asc" } })), ["c1", "c2"]);
    assert.equal(await r.comments.count({ postId: "p1" }), 2);
    assert.deepEqual(ids(await r.reactions.findAll({ where: { commentId: "c1" } })), ["r1"]);
    assert.equal((await r.posts.findById("p3"))?.editorId, "ada");
  });

  test("a savepoint rolled back undoes its cascade, and the outer transaction commits the rest", async () => {
    const r = await seed();
    if (!storage().capabilities.supportsSavepoints) return;
    await storage().transaction(async () => {
      await r.comments.delete("c3");
      const failure = new Error("undo the nested delete");
      await assert.rejects(
        storage().transaction(async () => {
          await r.authors.delete("ada");
          assert.equal(await r.posts.count(), 1);
          throw failure;
        }),
        (error) => error === failure,
      );
      assert.deepEqual(ids(await r.posts.findAll()), ["p1", "p2", "p3"]);
      assert.deepEqual(ids(await r.comments.findAll({ where: { postId: "p1" } })), ["c1", "c2"]);
    });
    assert.deepEqual(ids(await r.authors.findAll()), ["ada", "bob"]);
    assert.deepEqual(ids(await r.comments.findAll()), ["c1", "c2"]);
    assert.deepEqual(ids(await r.reactions.findAll()), ["r1"]);
    assert.equal((await r.posts.findById("p3"))?.editorId, "ada");
  });

  test("a self-referencing tree cascades down every level and leaves other branches", async () => {
    const r = repos();
    await r.categories.saveMany([
      { id: "root", name: "root", parentId: null },
      { id: "a", name: "a", parentId: "root" },
      { id: "a1", name: "a1", parentId: "a" },
      { id: "a1x", name: "a1x", parentId: "a1" },
      { id: "a2", name: "a2", parentId: "a" },
      { id: "b", name: "b", parentId: "root" },
      { id: "other", name: "other", parentId: null },
    ]);
    await r.categories.insert({ id: "self", name: "its own parent", parentId: "self" });
    await rejectsIntegrity(r.categories.insert({ id: "x", name: "x", parentId: "nowhere" }), `EfkCategory.parent: no efk_categories row has id "nowhere"`, {
      table: "efk_categories",
      field: "parentId",
    });
    assert.equal(await r.categories.delete("a"), true);
    assert.deepEqual(ids(await r.categories.findAll()), ["b", "other", "root", "self"]);
    assert.equal(await r.categories.delete("self"), true);
    assert.equal(await r.categories.deleteMany({ id: "root" }), 1);
    assert.deepEqual(ids(await r.categories.findAll()), ["other"]);
  });

  test("link rows go when either side is deleted", async () => {
    const r = await seed();
    await r.tags.saveMany([{ id: "red" }, { id: "blue" }]);
    await r.postTags.saveMany([
      link("p1", "red"),
      link("p1", "blue"),
      link("p2", "red"),
      link("p3", "blue"),
    ]);
    await r.posts.delete("p1");
    assert.deepEqual((await r.postTags.findAll({ orderBy: { id: "asc" } })).map((l) => `${l.postId}:${l.tagId}`), ["p2:red", "p3:blue"]);
    await r.tags.delete("red");
    assert.deepEqual((await r.postTags.findAll()).map((l) => `${l.postId}:${l.tagId}`), ["p3:blue"]);
    await rejectsIntegrity(r.postTags.insert(link("p3", "red")), `EfkPostTag.tag: no efk_tags row has id "red"`, { table: "efk_post_tags", field: "tagId" });
  });

  test("many-to-many join table rows go when either side is deleted, and must name both sides", async () => {
    const r = await seed();
    await r.tags.saveMany([{ id: "red" }, { id: "blue" }]);
    const { schema: join, sourceProperty: postColumn, targetProperty: tagColumn } = readEntitySchema(EfkPost).relationsByProperty.get("tags")!.joinTable!;
    const session = coreOf(storage()).backend.session;
    const row = (postId: string, tagId: string) => ({ [postColumn]: postId, [tagColumn]: tagId });
    for (const [postId, tagId] of [["p1", "red"], ["p1", "blue"], ["p2", "red"], ["p3", "blue"]] as const) await session.insert(join, row(postId, tagId));
    const links = async () => (await session.find(join, { where: [[]], orderBy: [{ column: join.primary, direction: "asc" }], offset: 0 })).map((l) => `${l[postColumn]}:${l[tagColumn]}`);
    await r.posts.delete("p1");
    assert.deepEqual(await links(), ["p2:red", "p3:blue"]);
    await r.tags.delete("red");
    assert.deepEqual(await links(), ["p3:blue"]);
    await rejectsIntegrity(session.insert(join, row("p3", "red")), `EfkPost.tags: no efk_tags row has id "red"`, { table: "efk_post_tag_links", field: tagColumn });
    await r.authors.delete("bob");
    assert.deepEqual(await links(), []);
  });
}
