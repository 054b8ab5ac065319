/**
 * A cached search fills the cache as every cached read does: through the backend's fresh session (on
 * PostgreSQL with replicas, the primary), never through a session that may read a lagging replica, whose
 * stale answer would then stay cached after the replica caught up.
 */
import "reflect-metadata";
import { describe, expect, test } from "vitest";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { createStorage } from "../../src/index.js";
import type { DataSession } from "../../src/spi/index.js";
import { coreOf } from "../../src/storage-core.js";

@Entity("cache_fill_notes")
@Index(["body"], { fulltext: true })
class Note {
  @PrimaryColumn() id!: string;
  @Column({ type: "string" }) body!: string;
}

describe("search: the cache fills from the fresh session", () => {
  test("a cached search is answered by the backend's freshSession", async () => {
    const storage = await createStorage({ url: "memory:", entities: [Note], cache: { l1: {} } });
    try {
      await storage.repository(Note).save({ id: "a", body: "hello world" });
      const backend = coreOf(storage).backend as { session: DataSession; freshSession?: DataSession };
      const session = backend.session;
      let fresh = 0;
      (backend as { freshSession?: DataSession }).freshSession = {
        ...session,
        search: (schema, request) => {
          fresh++;
          return session.search!(schema, request);
        },
      } as DataSession;
      const found = await storage.repository(Note).search("hello", { cache: true });
      expect(found.map((r) => r.entity.id)).toEqual(["a"]);
      expect(fresh).toBe(1);
    } finally {
      await storage.close();
    }
  });
});
