/**
 * A storage whose database role may only read (a reporting service's `GRANT SELECT`): its searches over rows
 * whose documents wait must answer as indexed, as a read-only transaction's do, not fail on the write the
 * role may not make.
 */
import "reflect-metadata";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createStorage } from "../../src/index.js";
import { backendSelected } from "../sql/sql-backend-cases.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "./pg-test-database.js";

@Entity("role_docs")
@Index(["body"], { fulltext: true })
class Doc {
  @PrimaryColumn({ type: "integer" }) id!: number;
  @Column({ type: "string" }) body!: string;
}

const skip = backendSelected("postgres") ? pgSkipReason() : "postgres not selected";

describe.skipIf(skip !== undefined)("postgres: full-text search by a role that may only read", () => {
  let db: PgTestDatabase;
  const role = `strata_reader_${randomBytes(4).toString("hex")}`;
  // Roles belong to the server: made and dropped through the server's own database, granted in the test's.
  let server: pg.Client;
  let admin: pg.Client;
  beforeAll(async () => {
    db = await PgTestDatabase.create(PG_URL!);
    server = new pg.Client({ connectionString: PG_URL! });
    await server.connect();
    await server.query(`CREATE ROLE ${role} LOGIN`);
    admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.query(`DROP OWNED BY ${role}`);
    await admin?.end();
    await db?.drop();
    await server?.query(`DROP ROLE IF EXISTS ${role}`);
    await server?.end();
  });

  test("waiting rows are found with the indexed scores, outside and inside a transaction", async () => {
    const url = await db.freshSchemaUrl();
    const owner = await createStorage({ url, entities: [Doc], autoCreate: true });
    const schema = new URL(url).searchParams.get("options")!.replace("-c search_path=", "");
    try {
      await owner.repository(Doc).saveMany([
        { id: 1, body: "wombat burrow" },
        { id: 2, body: "night owl" },
      ]);
      await owner.sql`UPDATE role_docs SET body = ${"bilby and wombat"} WHERE id = ${2}`;
      await admin.query(`GRANT USAGE ON SCHEMA ${schema} TO ${role}`);
      await admin.query(`GRANT SELECT ON ALL TABLES IN SCHEMA ${schema} TO ${role}`);
      const readerUrl = new URL(url);
      readerUrl.username = role;
      const reader = await createStorage({ url: readerUrl.href, entities: [Doc] });
      let outside, inside;
      try {
        const search = async () => (await reader.repository(Doc).search("wombat OR bilby")).map((h) => ({ id: h.entity.id, score: h.score }));
        outside = await search();
        inside = await reader.transaction(search);
      } finally {
        await reader.close();
      }
      const indexed = (await owner.repository(Doc).search("wombat OR bilby")).map((h) => ({ id: h.entity.id, score: h.score }));
      expect(indexed.map((h) => h.id)).toEqual([2, 1]);
      expect(outside).toEqual(indexed);
      expect(inside).toEqual(indexed);
    } finally {
      await owner.close();
    }
  });
});
