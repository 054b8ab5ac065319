/**
 * The cache and relations: a cached query with an include is dropped by a write to any table it read (the
 * related tables, the join table), and a delete that reaches other tables through CASCADE / SET NULL
 * foreign keys drops those tables' cached entities and queries after commit, in this process and, through
 * the Redis bus, in the others.
 */
import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import type { CommittedWrites, Repository, Storage } from "../../src/index.js";
import { createStorage } from "../../src/index.js";
import { coreOf } from "../../src/storage-core.js";
import { IncAuthor, IncComment, INC_ENTITIES, IncPost, IncProfile, IncTag } from "../fixtures/inc-entities.js";
import { counted, incBackends } from "../fixtures/inc-backends.js";
import { waitFor } from "../cache/cache-test-kit.js";
import { assertRedisReachable, deletePrefix, redisUrl, servicesRequired, uniquePrefix } from "../cache/redis-service.js";

const at = new Date(Date.UTC(2026, 0, 1));

async function seed(storage: Storage): Promise<void> {
  await storage.repository(IncAuthor).saveMany([{ id: "a1", name: "Ada" }, { id: "a2", name: "Bob" }, { id: "a5", name: "Eve" }]);
  await storage.repository(IncTag).saveMany([{ slug: "ts", weight: 1 }, { slug: "db", weight: 2 }]);
  const posts = storage.repository(IncPost);
  await posts.insert({ title: "one", authorId: "a1" });
  await posts.insert({ title: "eve's", authorId: "a5", editorId: "a2" } as Partial<IncPost>);
  await storage.repository(IncComment).saveMany([
    { body: "x", at, postId: 1, authorId: "a2" },
    { body: "on eve's", at, postId: 2, authorId: "a2" },
  ]);
  await posts.link(1, "tags", ["ts"]);
  await posts.link(2, "tags", ["db"]);
}

for (const backend of incBackends().filter((b) => b.name === "memory" || b.name === "sqlite")) {
  describe(`${backend.name}: include and the cache`, () => {
    const counts = new Map<string, number>();
    let storage: Storage;
    let posts: Repository<IncPost, number>;
    const reads = () => (counts.get("find") ?? 0) + (counts.get("findById") ?? 0) + (counts.get("findByIds") ?? 0);

    beforeAll(async () => {
      storage = await backend.open(INC_ENTITIES, counts, { cache: true });
      await seed(storage);
      posts = storage.repository(IncPost) as Repository<IncPost, number>;
    });
    afterAll(async () => {
      await storage?.close();
      await backend.cleanup();
    });

    const cachedQuery = () => posts.findAll({ cache: true, include: { author: true, tags: true, comments: { include: { author: true } } } });

    test("a cached query with an include is served from the cache, as copies", async () => {
      const first = await cachedQuery();
      counts.clear();
      const again = await cachedQuery();
      expect(reads()).toBe(0);
      expect(again).toEqual(first);
      again[0]!.comments![0]!.author!.name = "changed";
      expect((await cachedQuery())[0]!.comments![0]!.author!.name).toBe("Bob");
    });

    test("a write to any table the include read drops the cached query", async () => {
      await cachedQuery();
      // The nested relation's table.
      await storage.repository(IncAuthor).update("a2", { name: "Bobby" });
      expect((await cachedQuery())[0]!.comments![0]!.author!.name).toBe("Bobby");
      // A to-many relation's table.
      await storage.repository(IncComment).insert({ body: "new", at, postId: 1, authorId: "a1" });
      expect((await cachedQuery())[0]!.comments!.map((c) => c.body)).toEqual(["x", "new"]);
      // The join table.
      await posts.link(1, "tags", ["db"]);
      expect((await cachedQuery())[0]!.tags!.map((t) => t.slug)).toEqual(["db", "ts"]);
      // A related table's row, read through the join table.
      await storage.repository(IncTag).update("db", { weight: 9 });
      expect((await cachedQuery())[0]!.tags!.find((t) => t.slug === "db")?.weight).toBe(9);
      counts.clear();
      await cachedQuery();
      expect(reads()).toBe(0);
    });

    test("a write inside a transaction drops the cached include query only when it commits", async () => {
      await cachedQuery();
      const stop = new Error("stop");
      await expect(storage.transaction(async () => {
        await storage.repository(IncAuthor).update("a1", { name: "Tx" });
        throw stop;
      })).rejects.toBe(stop);
      counts.clear();
      expect((await cachedQuery())[0]!.author!.name).toBe("Ada");
      expect(reads()).toBe(0);
    });

    test("a delete announces every table its foreign keys reach (CASCADE level after level, SET NULL, join tables)", async () => {
      const announced: CommittedWrites[] = [];
      coreOf(storage).transactions.afterCommit((writes) => announced.push(writes));
      const authors = storage.repository(IncAuthor);
      await authors.insert({ id: "a9", name: "Temp" });
      announced.length = 0;
      expect(await authors.delete("a9")).toBe(true);
      const writes = announced[0]!;
      // Posts (CASCADE, and SET NULL editor), from them comments and post_tags (CASCADE), profiles (CASCADE).
      expect(new Map([...writes].map(([table, keys]) => [table, keys === "all" ? "all" : [...keys]]))).toEqual(
        new Map<string, unknown>([["inc_authors", ["a9"]], ["inc_posts", "all"], ["inc_comments", "all"], ["inc_post_tags", "all"], ["inc_profiles", "all"]]),
      );
      // A table nothing references, or references only with RESTRICT, announces itself alone.
      announced.length = 0;
      await storage.repository(IncComment).deleteMany({ body: "new" });
      expect([...announced[0]!.keys()]).toEqual(["inc_comments"]);
    });

    test("after a parent's delete, cached children are read again (their rows may have cascaded away)", async () => {
      const comments = storage.repository(IncComment);
      const post = await posts.findById(2);
      const comment = (await comments.findAll({ where: { postId: 2 } }))[0]!;
      await comments.findById(comment.id);
      counts.clear();
      await posts.findById(2);
      await comments.findById(comment.id);
      expect(reads()).toBe(0);
      await storage.repository(IncAuthor).delete("a5");
      counts.clear();
      await posts.findById(2);
      await comments.findById(comment.id);
      expect(reads()).toBe(2);
      expect(post?.authorId).toBe("a5");
    });

    test("a cached child is null after its parent's cascading delete", async () => {
      await storage.repository(IncAuthor).insert({ id: "a6", name: "Gone" });
      const child = await posts.insert({ title: "child", authorId: "a6" });
      expect(await posts.findById(child.id)).not.toBeNull();
      await storage.repository(IncAuthor).delete("a6");
      expect(await posts.findById(child.id)).toBeNull();
    });
  });
}

describe.runIf(redisUrl !== undefined || servicesRequired)("sqlite: cascade invalidation across processes (Redis bus)", () => {
  const prefix = uniquePrefix();
  // Made when the tests run, not when they are collected: a skipped describe's body still runs.
  let dir = "";
  beforeAll(async () => {
    await assertRedisReachable();
    dir = mkdtempSync(path.join(tmpdir(), "strata-inc-redis-"));
  });
  const storages: Storage[] = [];
  afterEach(async () => {
    for (const s of storages.splice(0)) await s.close();
    await deletePrefix(prefix);
  });
  afterAll(() => {
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  test("a delete in one storage drops the reached tables' L1 entries in another", async () => {
    const url = `sqlite:${path.join(dir, "shared.db")}`;
    const cache = { l1: {}, l2: { type: "redis" as const, url: redisUrl!, prefix } };
    const counts = new Map<string, number>();
    const writer = await createStorage({ url, entities: INC_ENTITIES, autoCreate: true, cache });
    storages.push(writer);
    await seed(writer);
    const reader = await createStorage({ backend: counted(url, counts, "sqlite"), entities: INC_ENTITIES, cache });
    storages.push(reader);
    const profiles = reader.repository(IncProfile);
    const profile = await writer.repository(IncProfile).insert({ bio: "p", authorId: "a2" } as Partial<IncProfile>);
    // A marker write after the setup's: once the reader has heard it, it has heard every earlier one (the bus
    // keeps their order), so no late invalidation of the setup can drop what the reader caches next.
    const tags = reader.repository(IncTag);
    await tags.findById("db");
    await writer.repository(IncTag).update("db", { weight: 5 });
    await waitFor(async () => (await tags.findById("db"))?.weight === 5, 2000, "the reader heard the marker write");
    await profiles.findById(profile.id);
    const cachedReads = counts.get("findById") ?? 0;
    expect(await profiles.findById(profile.id)).not.toBeNull();
    expect(counts.get("findById")).toBe(cachedReads);
    // a7 is referenced by no profile: deleting it changes none, but profiles are among the tables it reaches.
    await writer.repository(IncAuthor).insert({ id: "a7", name: "Far" });
    await writer.repository(IncAuthor).delete("a7");
    await waitFor(async () => {
      const before = counts.get("findById") ?? 0;
      await profiles.findById(profile.id);
      return (counts.get("findById") ?? 0) > before;
    }, 2000, "the reader dropped its cached profiles after the writer's delete");
  });
});
