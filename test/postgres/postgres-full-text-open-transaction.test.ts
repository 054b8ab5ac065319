/**
 * A search inside a transaction that stays open must not hold up searches elsewhere: summing up the table
 * of totals (once it holds more than 256 rows of changes) is work a search may skip, never wait for. The
 * storage's connections run with a lock_timeout, so a search that waited would fail instead of hanging.
 */
import "reflect-metadata";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createStorage } from "../../src/index.js";
import { backendSelected } from "../sql/sql-backend-cases.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "./pg-test-database.js";

@Entity("open_tx_docs")
@Index(["body"], { fulltext: true })
class Doc {
  @PrimaryColumn({ type: "string" }) id!: string;
  @Column({ type: "string" }) body!: string;
}

const skip = backendSelected("postgres") ? pgSkipReason() : "postgres not selected";

describe.skipIf(skip !== undefined)("postgres: full-text search beside an open transaction", () => {
  let db: PgTestDatabase;
  beforeAll(async () => {
    db = await PgTestDatabase.create(PG_URL!);
  });
  afterAll(async () => {
    await db?.drop();
  });

  test("a search outside a transaction that searched (and summed up the totals) answers while it is open", async () => {
    const url = new URL(await db.freshSchemaUrl());
    url.searchParams.set("options", `${url.searchParams.get("options")} -c lock_timeout=1000`);
    const storage = await createStorage({ url: url.href, entities: [Doc], autoCreate: true });
    try {
      const repo = storage.repository(Doc);
      // One row of changes in the totals per writing statement: past 256, the next search sums them up.
      for (let i = 0; i < 300; i++) await repo.save({ id: `a${i}`, body: `hello ${i}` });
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      let searched!: () => void;
      const searchedInside = new Promise<void>((resolve) => (searched = resolve));
      const transaction = storage.transaction(async () => {
        expect(await repo.search("hello", { limit: 1 })).toHaveLength(1);
        searched();
        await released;
      });
      await searchedInside;
      try {
        // Outside the transaction (this async context began before it), while it is open.
        expect((await repo.search("hello 7")).map((h) => h.entity.id)[0]).toBe("a7");
      } finally {
        release();
        await transaction;
      }
      expect((await repo.search("hello", { limit: 500 })).length).toBe(300);
    } finally {
      await storage.close();
    }
  });
});
