/**
 * A search over waiting documents sees one snapshot (postgres-full-text.ts, "A search never waits for a lock"):
 * the read of the rows the refresh could not write and the search statement run in one read-only REPEATABLE
 * READ transaction, so that another client's commit between them neither hides a row whose document it nulled
 * nor scores a waiting row on a text the search no longer reads. The commit is made deterministic by running it
 * right after the read of the waiting rows.
 */
import "reflect-metadata";
import pg from "pg";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from "vitest";
import { createStorage } from "../../src/index.js";
import type { Storage } from "../../src/index.js";
import { PostgresRunner } from "../../src/backends/postgres/postgres-connection.js";
import { parseSearchQuery } from "../../src/search/search-parser.js";
import { searchReference } from "../support/search-reference.js";
import { backendSelected } from "../sql/sql-backend-cases.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "./pg-test-database.js";

@Entity("snapshot_docs")
@Index(["body"], { fulltext: true })
class Doc {
  @PrimaryColumn({ type: "string" }) id!: string;
  @Column({ type: "string" }) body!: string;
}

const skip = backendSelected("postgres") ? pgSkipReason() : "postgres not selected";

type Hit = { id: string; score: number };

async function ask(storage: Storage, text: string): Promise<Hit[]> {
  return (await storage.repository(Doc).search(text, { limit: 100 })).map((h) => ({ id: h.entity.id, score: h.score }));
}

function reference(rows: readonly { id: string; body: string }[], text: string): Hit[] {
  return searchReference(parseSearchQuery(text), rows.map((r) => ({ key: r.id, columns: [r.body] })), { limit: 100, offset: 0 }).map((h) => ({ id: h.key as string, score: h.score }));
}

function expectSame(got: Hit[], want: Hit[]): void {
  expect(got.map((h) => h.id)).toEqual(want.map((h) => h.id));
  got.forEach((h, i) => expect(h.score).toBeCloseTo(want[i]!.score, 10));
}

/** The read of the waiting rows a search builds itself, and the search's first question (are rows waiting?). */
const WAITING_READ = /^SELECT xmin::text, .* WHERE "__strata_fts_doc" IS NULL$/;
const WAITING_CHECK = /^SELECT EXISTS \(SELECT 1 FROM "snapshot_docs" WHERE "__strata_fts_doc" IS NULL\), /;

/** Runs `between` once, right after the next statement matching `after` answers (by default the read of the waiting rows). */
function afterWaitingRead(between: () => Promise<void>, after = WAITING_READ): void {
  const all = PostgresRunner.prototype.all;
  let armed = true;
  vi.spyOn(PostgresRunner.prototype, "all").mockImplementation(async function (this: PostgresRunner, text, params, prepared) {
    const rows = await all.call(this, text, params, prepared);
    if (armed && after.test(text)) {
      armed = false;
      await between();
    }
    return rows;
  });
}

describe.skipIf(skip !== undefined)("postgres: a search over waiting documents sees one snapshot", () => {
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

  test.each([1, 4])("commits between the read of the waiting rows and the search do not change its answer (poolSize %i)", async (poolSize) => {
    const url = await db.freshSchemaUrl();
    const rows = [
      { id: "held", body: "a wombat in a burrow" },
      { id: "indexed", body: "wombat wombat and a bilby" },
      { id: "other", body: "a night owl" },
    ];
    const setup = await createStorage({ url, entities: [Doc], autoCreate: true });
    try {
      await setup.repository(Doc).saveMany(rows);
      // "held" waits for its document, and another transaction holds it: the search reads it and builds it itself.
      await setup.sql`UPDATE snapshot_docs SET body = ${"a wombat in a burrow"} || '' WHERE id = ${"held"}`;
      await setup.sql`UPDATE snapshot_docs SET __strata_fts_doc = NULL WHERE id = ${"held"}`;
    } finally {
      await setup.close();
    }
    const storage = await createStorage({ url, entities: [Doc], poolSize });
    const holder = new pg.Client({ connectionString: url });
    const writer = new pg.Client({ connectionString: url });
    await holder.connect();
    await writer.connect();
    try {
      await holder.query("BEGIN");
      await holder.query("SELECT * FROM snapshot_docs WHERE id = 'held' FOR UPDATE");
      const want = reference(rows, "wombat OR owl");
      expectSame(await ask(storage, "wombat OR owl"), want);
      afterWaitingRead(async () => {
        // An indexed row's text changed by a statement of the user's (its document nulled), a new row inserted
        // without a document, and the held row changed: all committed after the search read the waiting rows.
        await writer.query("UPDATE snapshot_docs SET body = 'an owl only' WHERE id = 'indexed'");
        await writer.query("INSERT INTO snapshot_docs (id, body) VALUES ('late', 'wombat owl')");
        await holder.query("UPDATE snapshot_docs SET body = 'owl owl owl' WHERE id = 'held'");
        await holder.query("COMMIT");
      });
      expectSame(await ask(storage, "wombat OR owl"), want);
      // The next search sees the commits, and builds every document.
      const now = [
        { id: "held", body: "owl owl owl" },
        { id: "indexed", body: "an owl only" },
        { id: "other", body: "a night owl" },
        { id: "late", body: "wombat owl" },
      ];
      expectSame(await ask(storage, "wombat OR owl"), reference(now, "wombat OR owl"));
      expect(await storage.sql`SELECT count(*)::int AS n FROM snapshot_docs WHERE __strata_fts_doc IS NULL`).toEqual([{ n: 0 }]);
    } finally {
      await holder.end();
      await writer.end();
      await storage.close();
    }
  });

  test("a search that found nothing waiting finds a row whose document a commit nulled before its select", async () => {
    const url = await db.freshSchemaUrl();
    const storage = await createStorage({ url, entities: [Doc], autoCreate: true, poolSize: 1 });
    const writer = new pg.Client({ connectionString: url });
    await writer.connect();
    try {
      await storage.repository(Doc).saveMany([
        { id: "a", body: "a wombat in a burrow" },
        { id: "b", body: "a night owl" },
      ]);
      let armed = false;
      afterWaitingRead(async () => {
        armed = true;
        await writer.query("UPDATE snapshot_docs SET body = 'wombat wombat' WHERE id = 'b'");
      }, WAITING_CHECK);
      const got = await ask(storage, "wombat");
      expect(armed).toBe(true);
      expectSame(got, reference([{ id: "a", body: "a wombat in a burrow" }, { id: "b", body: "wombat wombat" }], "wombat"));
    } finally {
      await writer.end();
      await storage.close();
    }
  });

  test("in a READ COMMITTED transaction, a commit between the read of the waiting rows and the select: the search runs again on what is committed", async () => {
    const url = await db.freshSchemaUrl();
    const rows = [
      { id: "held", body: "a wombat in a burrow" },
      { id: "indexed", body: "wombat wombat and a bilby" },
      { id: "other", body: "a night owl" },
    ];
    const storage = await createStorage({ url, entities: [Doc], autoCreate: true, poolSize: 2 });
    const holder = new pg.Client({ connectionString: url });
    const writer = new pg.Client({ connectionString: url });
    await holder.connect();
    await writer.connect();
    try {
      await storage.repository(Doc).saveMany(rows);
      await storage.sql`UPDATE snapshot_docs SET __strata_fts_doc = NULL WHERE id = ${"held"}`;
      await holder.query("BEGIN");
      await holder.query("SELECT * FROM snapshot_docs WHERE id = 'held' FOR UPDATE");
      afterWaitingRead(async () => {
        await writer.query("UPDATE snapshot_docs SET body = 'an owl only' WHERE id = 'indexed'");
        await writer.query("INSERT INTO snapshot_docs (id, body) VALUES ('late', 'wombat owl')");
        await holder.query("UPDATE snapshot_docs SET body = 'owl owl owl' WHERE id = 'held'");
        await holder.query("COMMIT");
      });
      const inside = await storage.transaction(async () => ask(storage, "wombat OR owl"));
      const now = [
        { id: "held", body: "owl owl owl" },
        { id: "indexed", body: "an owl only" },
        { id: "other", body: "a night owl" },
        { id: "late", body: "wombat owl" },
      ];
      expectSame(inside, reference(now, "wombat OR owl"));
    } finally {
      await holder.end();
      await writer.end();
      await storage.close();
    }
  });
});
