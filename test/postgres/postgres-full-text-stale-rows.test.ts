/**
 * Rows whose document is stale (a statement of the user's wrote them) and which the search cannot index
 * first: another transaction holds them locked, or the search's own transaction (or server) is read-only.
 * Every search must still find them as committed, with the scores it gives once their documents are built.
 */
import "reflect-metadata";
import pg from "pg";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createStorage } from "../../src/index.js";
import type { Storage } from "../../src/index.js";
import { backendSelected } from "../sql/sql-backend-cases.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "./pg-test-database.js";

@Entity("stale_docs")
@Index(["title", "body"], { fulltext: true })
class Doc {
  @PrimaryColumn({ type: "string" }) id!: string;
  @Column({ type: "string" }) title!: string;
  @Column({ type: "string" }) body!: string;
}

const skip = backendSelected("postgres") ? pgSkipReason() : "postgres not selected";

/** The url with `settings` added to its connections' startup options. */
function withOptions(url: string, settings: string): string {
  const u = new URL(url);
  u.searchParams.set("options", `${u.searchParams.get("options") ?? ""} ${settings}`.trim());
  return u.href;
}

type Hits = { id: string; score: number }[];

async function hits(storage: Storage, text: string): Promise<Hits> {
  return (await storage.repository(Doc).search(text, { limit: 100 })).map((h) => ({ id: h.entity.id, score: h.score }));
}

const QUERIES = ["bilby", "wombat", "burrow OR night", "\"night owl\"", "bil*"];

describe.skipIf(skip !== undefined)("postgres: full-text search over stale rows it cannot index", () => {
  let db: PgTestDatabase;
  beforeAll(async () => {
    db = await PgTestDatabase.create(PG_URL!);
  });
  afterAll(async () => {
    await db?.drop();
  });

  /** A schema with rows, two of them stale (an update and an insert by statements of the user's), committed. */
  async function staleTable(): Promise<string> {
    const url = await db.freshSchemaUrl();
    const storage = await createStorage({ url, entities: [Doc], autoCreate: true });
    try {
      await storage.repository(Doc).saveMany([
        { id: "a", title: "Wombat", body: "a wombat digs a burrow" },
        { id: "b", title: "Owl", body: "the night owl hunts at night" },
        { id: "c", title: "Quoll", body: "quoll and wombat share the burrow" },
        { id: "d", title: "Bandicoot", body: "short" },
      ]);
      await storage.sql`UPDATE stale_docs SET body = ${"a bilby burrow, bilby night owl and more words than before"} WHERE id = ${"d"}`;
      await storage.sql`INSERT INTO stale_docs (id, title, body) VALUES (${"e"}, ${"Bilby"}, ${"bilby wombat"})`;
    } finally {
      await storage.close();
    }
    return url;
  }

  /** Every query's hits once the stale rows are indexed (a search from a writable storage, nothing locked). */
  async function indexedHits(url: string): Promise<Hits[]> {
    const storage = await createStorage({ url, entities: [Doc] });
    try {
      const out: Hits[] = [];
      for (const q of QUERIES) out.push(await hits(storage, q));
      return out;
    } finally {
      await storage.close();
    }
  }

  test("rows another transaction holds locked are found with their committed text and the indexed scores (poolSize 1)", async () => {
    const url = await staleTable();
    // A lock_timeout: a search that waited for the lock would fail rather than hang.
    const storage = await createStorage({ url: withOptions(url, "-c lock_timeout=1000"), entities: [Doc], poolSize: 1 });
    const other = new pg.Client({ connectionString: url });
    await other.connect();
    let seen: Hits[];
    try {
      await other.query("BEGIN");
      // One row updated again and not committed, one only read for update: both are seen as committed.
      await other.query("UPDATE stale_docs SET body = 'nothing to find' WHERE id = 'd'");
      await other.query("SELECT * FROM stale_docs WHERE id = 'e' FOR UPDATE");
      seen = [];
      for (const q of QUERIES) seen.push(await hits(storage, q));
      const filtered = await storage.repository(Doc).search("bilby OR wombat", { where: { title: "Bilby" }, limit: 1, offset: 0 });
      expect(filtered.map((h) => h.entity.id)).toEqual(["e"]);
      // In a transaction of the storage's own too.
      const inside = await storage.transaction(async () => hits(storage, "bilby"));
      expect(inside).toEqual(seen[0]);
      await other.query("ROLLBACK");
    } finally {
      await other.end();
      await storage.close();
    }
    expect(seen[0]!.map((h) => h.id).sort()).toEqual(["d", "e"]);
    expect(seen).toEqual(await indexedHits(url));
  });

  test("a read-only transaction, and a storage whose every transaction is read-only, find stale rows with the indexed scores", async () => {
    const url = await staleTable();
    const writable = await createStorage({ url, entities: [Doc] });
    let inReadOnlyTransaction: Hits[];
    try {
      inReadOnlyTransaction = await writable.transaction(async () => {
        await writable.sql`SET TRANSACTION READ ONLY`;
        const out: Hits[] = [];
        for (const q of QUERIES) out.push(await hits(writable, q));
        return out;
      });
    } finally {
      await writable.close();
    }
    const readOnly = await createStorage({ url: withOptions(url, "-c default_transaction_read_only=on"), entities: [Doc] });
    const outside: Hits[] = [];
    let inside: Hits;
    try {
      for (const q of QUERIES) outside.push(await hits(readOnly, q));
      inside = await readOnly.transaction(async () => hits(readOnly, "bilby"));
    } finally {
      await readOnly.close();
    }
    const indexed = await indexedHits(url);
    expect(indexed[0]!.map((h) => h.id).sort()).toEqual(["d", "e"]);
    expect(inReadOnlyTransaction).toEqual(indexed);
    expect(outside).toEqual(indexed);
    expect(inside).toEqual(indexed[0]);
  });
});

describe.skipIf(skip !== undefined)("postgres: full-text search read on a replica", () => {
  let db: PgTestDatabase;
  beforeAll(async () => {
    db = await PgTestDatabase.create(PG_URL!);
  });
  afterAll(async () => {
    await db?.drop();
  });

  test("a search whose reads go to a read-only replica builds the waiting documents on the primary and answers as indexed", async () => {
    const url = await db.freshSchemaUrl();
    const primary = await createStorage({ url, entities: [Doc], autoCreate: true });
    // The replica: the same database, read-only (as a hot standby is), so that the test needs no second server.
    const replicated = await createStorage({ url, entities: [Doc], postgres: { replicas: [withOptions(url, "-c default_transaction_read_only=on")] } });
    try {
      await primary.repository(Doc).saveMany([
        { id: "a", title: "Wombat", body: "a wombat digs a burrow" },
        { id: "b", title: "Owl", body: "the night owl hunts at night" },
      ]);
      await primary.sql`UPDATE stale_docs SET body = ${"a bilby burrow"} WHERE id = ${"b"}`;
      const onReplica = await hits(replicated, "bilby OR burrow");
      expect(onReplica.map((h) => h.id).sort()).toEqual(["a", "b"]);
      // The primary wrote the document: nothing is left waiting.
      expect((await primary.sql`SELECT count(*)::int AS n FROM stale_docs WHERE __strata_fts_doc IS NULL`)).toEqual([{ n: 0 }]);
      expect(onReplica).toEqual(await hits(primary, "bilby OR burrow"));
    } finally {
      await replicated.close();
      await primary.close();
    }
  });
});
