/**
 * The types of `include`, `EntityInput` and `link`: checked by `tsc -p tsconfig.json` (which includes test/),
 * run by vitest so that the calls also run. A wrong type here fails the typecheck, not the test run.
 */
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, expectTypeOf, test } from "vitest";
import type { EntityInput, Include, Repository, Storage } from "../../src/index.js";
import { createStorage } from "../../src/index.js";
import { IncAuthor, IncComment, INC_ENTITIES, IncPost } from "../fixtures/inc-entities.js";

describe("include types", () => {
  let storage: Storage;
  let posts: Repository<IncPost, number>;
  beforeAll(async () => {
    storage = await createStorage({ url: "memory:", entities: INC_ENTITIES });
    posts = storage.repository(IncPost) as Repository<IncPost, number>;
    await storage.repository(IncAuthor).save({ id: "a1", name: "Ada" });
  });
  afterAll(async () => {
    await storage?.close();
  });

  test("include takes relation properties, nested with options typed by the related entity, and results keep T", async () => {
    const include: Include<IncPost> = { author: true, comments: { where: { approved: true }, orderBy: { at: "desc" }, limit: 2, select: ["body"], include: { author: true } } };
    const found = await posts.findAll({ include });
    expectTypeOf(found).toEqualTypeOf<IncPost[]>();
    // @ts-expect-error: title is a column, not a relation
    const notRelation: Include<IncPost> = { title: true };
    // @ts-expect-error: the comments' options are typed by IncComment, which has no field "nope"
    const wrongField: Include<IncPost> = { comments: { where: { nope: 1 } } };
    expect([notRelation, wrongField]).toHaveLength(2);
    const one = await posts.findById(1, { include: { tags: true } });
    expectTypeOf(one).toEqualTypeOf<IncPost | null>();
  });

  test("EntityInput leaves generated and defaulted fields out, and takes an entity read with its relations", async () => {
    const input: EntityInput<IncPost> = { title: "t", authorId: "a1" };
    const saved = await posts.save(input);
    expectTypeOf(saved).toEqualTypeOf<IncPost>();
    const read = (await posts.findById(saved.id, { include: { author: true, comments: true } }))!;
    await posts.save(read);
    const comment: EntityInput<IncComment> = { body: "b", at: new Date(0), postId: saved.id, authorId: "a1" };
    await storage.repository(IncComment).insert(comment);
    // @ts-expect-error: link names a relation property
    await expect(posts.link(saved.id, "title", [])).rejects.toThrow(/"title" is not a relation/);
  });
});
