/**
 * Review of the one-snapshot search: the common path's plan, the row of nulls an empty answer carries, the
 * client a snapshot checks out (released on every error path), and how often a search runs again.
 */
import "reflect-metadata";
import pg from "pg";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from "vitest";
import { createStorage } from "../../src/index.js";
import { PostgresRunner } from "../../src/backends/postgres/postgres-connection.js";
import { backendSelected } from "../sql/sql-backend-cases.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "./pg-test-database.js";

@Entity("race_docs")
@Index(["body"], { fulltext: true })
class Doc {
  @PrimaryColumn({ type: "string" }) id!: string;
  @Column({ type: "string" }) body!: string;
  @Column({ type: "integer" }) n!: number;
}

@Entity("odd_docs")
@Index(["body", "title"], { fulltext: true })
class Odd2 {
  @PrimaryColumn({ type: "integer", name: "key" }) key!: number;
  @Column({ type: "string", nullable: true, name: "version" }) body!: string | null;
  @Column({ type: "string", nullable: true, name: "doc" }) title!: string | null;
}

const skip = backendSelected("postgres") ? pgSkipReason() : "postgres not selected";
const SEARCH = /^WITH .*AS __strata_waiting/;

describe.skipIf(skip !== undefined)("postgres: review of the one-snapshot search", () => {
  let db: PgTestDatabase;
  beforeAll(async () => {
    db = await PgTestDatabase.create(PG_URL!);
  });
  afterAll(async () => {
    await db?.drop();
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  async function withHeldWaitingRow(poolSize: number | { poolSize: number; timeoutMs: number }, body: (storage: import("../../src/index.js").Storage, url: string, holderPid: number) => Promise<void>): Promise<void> {
    const url = await db.freshSchemaUrl();
    const setup = await createStorage({ url, entities: [Doc], autoCreate: true });
    try {
      await setup.repository(Doc).saveMany([
        { id: "held", body: "a wombat in a burrow", n: 1 },
        { id: "b", body: "a night owl", n: 2 },
        { id: "c", body: "wombat owl", n: 3 },
      ]);
      await setup.sql`UPDATE race_docs SET __strata_fts_doc = NULL WHERE id = ${"held"}`;
    } finally {
      await setup.close();
    }
    const storage = await createStorage({ url, entities: [Doc], ...(typeof poolSize === "number" ? { poolSize } : poolSize) });
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query("BEGIN");
      await holder.query("SELECT * FROM race_docs WHERE id = 'held' FOR UPDATE");
      const pid = (await holder.query("SELECT pg_backend_pid() AS pid")).rows[0].pid as number;
      await body(storage, url, pid);
    } finally {
      await holder.end();
      await storage.close();
    }
  }

  function countSearches(): { n: number } {
    const count = { n: 0 };
    const all = PostgresRunner.prototype.all;
    vi.spyOn(PostgresRunner.prototype, "all").mockImplementation(async function (this: PostgresRunner, text, params, prepared) {
      if (SEARCH.test(text)) count.n++;
      return all.call(this, text, params, prepared);
    });
    return count;
  }

  test("empty answers with a waiting row never carry the row of nulls", async () => {
    await withHeldWaitingRow(1, async (storage) => {
      const repo = storage.repository(Doc);
      expect((await repo.search("wombat", { limit: 10 })).map((h) => h.entity.id)).toEqual(["c", "held"]);
      expect(await repo.search("platypus")).toEqual([]);
      expect(await repo.search("wombat", { offset: 50 })).toEqual([]);
      expect(await repo.search("wombat", { where: { n: 99 } })).toEqual([]);
      expect(await repo.search("wombat", { limit: 0 })).toEqual([]);
    });
  });

  test("a long-open transaction holding a waiting row: each search runs its statement once", async () => {
    await withHeldWaitingRow(2, async (storage) => {
      const count = countSearches();
      for (let i = 0; i < 3; i++) await storage.repository(Doc).search("wombat");
      expect(count.n).toBe(3);
      count.n = 0;
      await storage.transaction(async () => {
        for (let i = 0; i < 3; i++) await storage.repository(Doc).search("wombat");
      });
      expect(count.n).toBe(3);
    });
  });

  test("poolSize 1: a failure inside the snapshot gives its client back (error thrown, backend killed)", async () => {
    await withHeldWaitingRow(1, async (storage, url, holderPid) => {
      const repo = storage.repository(Doc);
      const killer = new pg.Client({ connectionString: url });
      await killer.connect();
      try {
        const all = PostgresRunner.prototype.all;
        let mode: "throw" | "kill" | "none" = "throw";
        vi.spyOn(PostgresRunner.prototype, "all").mockImplementation(async function (this: PostgresRunner, text, params, prepared) {
          const rows = await all.call(this, text, params, prepared);
          if (/^SELECT xmin::text/.test(text)) {
            const now = mode;
            mode = "none";
            if (now === "throw") throw new Error("injected");
            if (now === "kill") {
              await killer.query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%' AND pid NOT IN (pg_backend_pid(), $1)",
                [holderPid],
              );
            }
          }
          return rows;
        });
        await expect(repo.search("wombat")).rejects.toThrow();
        for (let i = 0; i < 5; i++) expect((await repo.search("wombat")).length).toBe(2);
        mode = "kill";
        await expect(repo.search("wombat")).rejects.toThrow();
        for (let i = 0; i < 5; i++) expect((await repo.search("wombat")).length).toBe(2);
        await expect(repo.search("wombat", { where: { n: "x" as unknown as number } })).rejects.toThrow();
        for (let i = 0; i < 5; i++) expect((await repo.search("wombat")).length).toBe(2);
        const open = await killer.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%' AND pid NOT IN (pg_backend_pid(), $1)", [holderPid]);
        expect(open.rows[0].n).toBe(0);
      } finally {
        await killer.end();
      }
    });
  }, 60000);

  test("columns named key, version and doc, all nullable, a held waiting row", async () => {
    const table = "odd_docs";
    const E = Odd2;
    const url = await db.freshSchemaUrl();
    const storage = await createStorage({ url, entities: [E], autoCreate: true });
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      const repo = storage.repository(E);
      await repo.saveMany([
        { key: 1, body: "a wombat", title: null },
        { key: 2, body: null, title: null },
        { key: 3, body: null, title: "wombat owl" },
      ]);
      await holder.query(`UPDATE "${table}" SET __strata_fts_doc = NULL WHERE key = 1`);
      await holder.query("BEGIN");
      await holder.query(`SELECT * FROM "${table}" WHERE key = 1 FOR UPDATE`);
      expect((await repo.search("wombat")).map((h) => h.entity.key).sort()).toEqual([1, 3]);
      expect(await repo.search("platypus")).toEqual([]);
      expect((await storage.transaction(async () => repo.search("wombat"))).map((h) => h.entity.key).sort()).toEqual([1, 3]);
    } finally {
      await holder.end();
      await storage.close();
    }
  });

  test("poolSize 1: eight concurrent searches over a held waiting row, then a transaction's search, all answer", async () => {
    await withHeldWaitingRow(1, async (storage) => {
      const repo = storage.repository(Doc);
      const answers = await Promise.all(Array.from({ length: 8 }, () => repo.search("wombat")));
      for (const hits of answers) expect(hits.map((h) => h.entity.id)).toEqual(["c", "held"]);
      expect((await storage.transaction(async () => repo.search("wombat"))).map((h) => h.entity.id)).toEqual(["c", "held"]);
    });
  }, 60000);

  test("poolSize 1: a lock not granted inside the snapshot (lock_timeout) fails that search only", async () => {
    await withHeldWaitingRow({ poolSize: 1, timeoutMs: 300 }, async (storage, url) => {
      const repo = storage.repository(Doc);
      const locker = new pg.Client({ connectionString: url });
      await locker.connect();
      try {
        const all = PostgresRunner.prototype.all;
        let armed = true;
        vi.spyOn(PostgresRunner.prototype, "all").mockImplementation(async function (this: PostgresRunner, text, params, prepared) {
          const rows = await all.call(this, text, params, prepared);
          if (armed && /^SELECT xmin::text/.test(text)) {
            armed = false;
            // The search statement reads the table of totals, which the snapshot has not locked yet.
            await locker.query("BEGIN");
            await locker.query("LOCK TABLE race_docs__strata_fts_totals IN ACCESS EXCLUSIVE MODE");
          }
          return rows;
        });
        await expect(repo.search("wombat")).rejects.toThrow(/lock/i);
        await locker.query("COMMIT");
        for (let i = 0; i < 3; i++) expect((await repo.search("wombat")).map((h) => h.entity.id)).toEqual(["c", "held"]);
      } finally {
        await locker.end();
      }
    });
  }, 60000);
});
