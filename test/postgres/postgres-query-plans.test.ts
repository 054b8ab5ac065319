/**
 * The SQL Strata emits for PostgreSQL lets the planner use the indexes Strata creates: checked with EXPLAIN
 * on a table of 20,000 rows, analyzed, as a user's query would meet it.
 */
import "reflect-metadata";
import pg from "pg";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { postgresDialect } from "../../src/backends/postgres/postgres-dialect.js";
import { compileFind } from "../../src/backends/sql/sql-query-compiler.js";
import { makeRowCodec } from "../../src/backends/sql/sql-row-codec.js";
import { createStorage, readEntitySchema } from "../../src/index.js";
import { normalizeQuery } from "../../src/query/normalize-query.js";
import { backendSelected } from "../sql/sql-backend-cases.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "./pg-test-database.js";

@Entity("tickets")
@Index(["status", "priority"])
class Ticket {
  @PrimaryColumn({ type: "varchar" }) id: string;
  @Column({ type: "varchar" }) status: string;
  @Column({ type: "integer" }) priority: number;
  @Column({ type: "varchar", nullable: true }) note: string | null;
}

const skip = backendSelected("postgres") ? pgSkipReason() : "BACKENDS excludes postgres";

describe.skipIf(skip !== undefined)("postgres: query plans", () => {
  let db: PgTestDatabase;
  let client: pg.Client;
  beforeAll(async () => {
    db = await PgTestDatabase.create(PG_URL!);
    const url = await db.freshSchemaUrl();
    const storage = await createStorage({ url, entities: [Ticket], autoCreate: true, cache: false });
    const statuses = ["open", "doing", "done", "closed"];
    await storage.repository(Ticket).saveMany(
      Array.from({ length: 20_000 }, (_, i) => ({ id: `t${String(i).padStart(6, "0")}`, status: statuses[i % 4]!, priority: (i * 7919) % 100, note: null })),
    );
    await storage.close();
    client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query("ANALYZE tickets");
  });
  afterAll(async () => {
    await client?.end();
    await db?.drop();
  });

  test("status = ? and priority >= ? order by priority desc limit 50: a backward scan of the (status, priority) index, no full sort", async () => {
    const schema = readEntitySchema(Ticket);
    const query = normalizeQuery(schema, { where: { status: "open", priority: { $gte: 50 } }, orderBy: { priority: "desc" }, limit: 50 });
    const { text, params } = compileFind(schema, query, postgresDialect, makeRowCodec(schema, postgresDialect));
    const plan = (await client.query(`EXPLAIN ${text}`, params as unknown[])).rows.map((r: Record<string, string>) => r["QUERY PLAN"]).join("\n");
    expect(plan).toContain("Index Scan Backward");
    // The tie-breaker on the primary key may add an incremental sort over the index's order, never a sort of every match.
    expect(plan).not.toMatch(/(^|->)\s*Sort\s+\(cost/m);
    expect(plan).not.toContain("Bitmap");
  });

  /** The plan of `query` starting after the keyset position `after`, as iterate's and findPage's later pages ask. */
  async function seekPlan(query: Record<string, unknown>, after: unknown[]): Promise<string> {
    const schema = readEntitySchema(Ticket);
    const { text, params } = compileFind(schema, { ...normalizeQuery(schema, query), after }, postgresDialect, makeRowCodec(schema, postgresDialect));
    return (await client.query(`EXPLAIN ${text}`, params as unknown[])).rows.map((r: Record<string, string>) => r["QUERY PLAN"]).join("\n");
  }

  test("a later iterate page over an indexed column (status = ?, order by priority): an index scan from the position, no sort of every match", async () => {
    const plan = await seekPlan({ where: { status: "open" }, orderBy: { priority: "asc" }, limit: 500 }, [50, "t010000"]);
    expect(plan).toMatch(/Index (Only )?Scan/);
    expect(plan).toContain("priority");
    expect(plan).not.toMatch(/(^|->)\s*Sort\s+\(cost/m);
    expect(plan).not.toContain("Seq Scan");
  });

  test("a later page ordered by the primary key alone seeks the primary key's index", async () => {
    const plan = await seekPlan({ limit: 500 }, ["t010000"]);
    expect(plan).toMatch(/Index (Only )?Scan using tickets_pkey/);
    expect(plan).not.toMatch(/(^|->)\s*Sort\s+\(cost/m);
  });

  test("a later page descending on a column that may hold nulls: the values after the position by a backward index scan, the nulls by the index, no sort of every match", async () => {
    const plan = await seekPlan({ where: { status: "open" }, orderBy: { priority: "desc" }, limit: 500 }, [50, "t010000"]);
    // Both parts read the index from the position: a range below it, and the nulls by equality.
    expect(plan).toContain("Index Scan Backward");
    expect(plan).toMatch(/Index Cond: .*priority <= /);
    expect(plan).toMatch(/Index Cond: .*priority IS NULL/);
    expect(plan).not.toContain("Seq Scan");
    expect(plan).not.toContain("Bitmap");
  });

  // Descending, a column that may hold nulls sorts them last, which no index serves (see compileFind): the
  // where here lets no null through, as the first test's does.
  test("a later page in mixed directions (priority desc, then the key ascending) scans the index backward from the position", async () => {
    const plan = await seekPlan({ where: { status: "open", priority: { $lte: 90 } }, orderBy: { priority: "desc" }, limit: 500 }, [50, "t010000"]);
    expect(plan).toContain("Index Scan Backward");
    expect(plan).not.toMatch(/(^|->)\s*Sort\s+\(cost/m);
    expect(plan).not.toContain("Seq Scan");
  });
});

/**
 * A column the entity declares NOT NULL may still hold nulls in the database: a table made by a migration
 * (`m.addColumn(..., { nullable: true })`) or by an older version of the entity, whose nullability
 * `generate` only warns about. Its order must still be the contract's (nulls first ascending, last
 * descending), as on every other backend; PostgreSQL's default places nulls the other way.
 */
@Entity("legacy_tasks")
class LegacyTask {
  @PrimaryColumn({ type: "varchar" }) id: string;
  @Column({ type: "integer" }) rank: number;
}

describe.skipIf(skip !== undefined)("postgres: order of a NOT NULL column that holds nulls", () => {
  let db: PgTestDatabase;
  beforeAll(async () => {
    db = await PgTestDatabase.create(PG_URL!);
  });
  afterAll(async () => {
    await db?.drop();
  });

  test("nulls first ascending and last descending, as the contract says", async () => {
    const url = await db.freshSchemaUrl();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      // As an earlier entity (rank nullable) or a migration's m.addColumn left the table.
      await client.query(`CREATE TABLE legacy_tasks (id varchar PRIMARY KEY, rank integer NULL)`);
      await client.query(`INSERT INTO legacy_tasks VALUES ('a', 2), ('b', NULL), ('c', 1)`);
    } finally {
      await client.end();
    }
    const storage = await createStorage({ url, entities: [LegacyTask], autoCreate: false, cache: false });
    try {
      const repo = storage.repository(LegacyTask);
      expect((await repo.findAll({ orderBy: { rank: "asc" } })).map((t) => t.id)).toEqual(["b", "c", "a"]);
      expect((await repo.findAll({ orderBy: { rank: "desc" } })).map((t) => t.id)).toEqual(["a", "c", "b"]);
    } finally {
      await storage.close();
    }
  });
});
