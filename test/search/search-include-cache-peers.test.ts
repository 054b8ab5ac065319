/**
 * A cached `repo.search` with `include` in one storage, and the related rows written elsewhere: by another
 * storage on the same SQLite file sharing the Redis L2 (its bus), by `storage.sql` in either, and by a
 * transaction that rolls back. The entry must never outlive the related row it holds, nor keep a row that
 * was rolled back.
 */
import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { Column, Entity, Index, JoinColumn, ManyToOne, OneToMany, PrimaryColumn } from "typeorm";
import type { Storage } from "../../src/index.js";
import { createStorage } from "../../src/index.js";
import { waitFor } from "../cache/cache-test-kit.js";
import { assertRedisReachable, deletePrefix, redisUrl, servicesRequired, uniquePrefix } from "../cache/redis-service.js";

@Entity("sicp_authors")
class SicpAuthor {
  @PrimaryColumn() id!: string;
  @Column() name!: string;
  @OneToMany(() => SicpPost, (p) => p.author) posts?: SicpPost[];
}

@Entity("sicp_posts")
@Index(["title"], { fulltext: true })
class SicpPost {
  @PrimaryColumn({ type: "integer" }) id!: number;
  @Column() title!: string;
  @ManyToOne(() => SicpAuthor, (a) => a.posts, { nullable: false }) @JoinColumn({ name: "authorId" }) author?: SicpAuthor;
  @Column() authorId!: string;
}

const ENTITIES = [SicpAuthor, SicpPost];

describe.runIf(redisUrl !== undefined || servicesRequired)("sqlite: cached search with include, related rows written by a peer (Redis bus)", () => {
  const prefix = uniquePrefix();
  // Made when the tests run, not when they are collected: a skipped describe's body still runs.
  let dir = "";
  const storages: Storage[] = [];
  beforeAll(async () => {
    await assertRedisReachable();
    dir = mkdtempSync(path.join(tmpdir(), "strata-search-peers-"));
  });
  afterEach(async () => {
    for (const s of storages.splice(0)) await s.close();
    await deletePrefix(prefix);
  });
  afterAll(() => {
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  test("a peer's update and storage.sql, this storage's storage.sql, and a rolled-back one", async () => {
    const url = `sqlite:${path.join(dir, "shared.db")}`;
    const cache = { l1: {}, l2: { type: "redis" as const, url: redisUrl!, prefix } };
    const writer = await createStorage({ url, entities: ENTITIES, autoCreate: true, cache });
    storages.push(writer);
    await writer.repository(SicpAuthor).save({ id: "a1", name: "Ada" });
    await writer.repository(SicpPost).save({ id: 1, title: "Rhine cruise", authorId: "a1" });
    const reader = await createStorage({ url, entities: ENTITIES, cache });
    storages.push(reader);
    const authorName = async () => {
      const [hit] = await reader.repository(SicpPost).search("rhine", { cache: true, select: ["title"], include: { author: { select: ["name"] } } });
      return hit!.entity.author?.name;
    };

    expect(await authorName()).toBe("Ada");
    await writer.repository(SicpAuthor).update("a1", { name: "Adele" });
    await waitFor(async () => (await authorName()) === "Adele", 3000, "the reader dropped its cached search after the peer's update");
    await writer.sql`update sicp_authors set name = ${"Ida"} where id = ${"a1"}`;
    await waitFor(async () => (await authorName()) === "Ida", 3000, "the reader dropped its cached search after the peer's storage.sql");

    await reader.sql`update sicp_authors set name = ${"Own"} where id = ${"a1"}`;
    expect(await authorName()).toBe("Own");
    await expect(
      reader.transaction(async () => {
        await reader.sql`update sicp_authors set name = ${"Rolled back"} where id = ${"a1"}`;
        await reader.repository(SicpAuthor).update("a1", { name: "Rolled back too" });
        throw new Error("roll back");
      }),
    ).rejects.toThrow("roll back");
    expect(await authorName()).toBe("Own");
  });
});
