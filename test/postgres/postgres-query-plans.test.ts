/**
 * The SQL Strata emits for PostgreSQL lets the planner use the indexes Strata creates: checked with EXPLAIN
 * on a table of 20,000 rows, analyzed, as a user's query would meet it, in a custom and a generic plan; and
 * the rows those plans return are the contract's.
 */
import "reflect-metadata";
import pg from "pg";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { postgresDialect } from "../../src/backends/postgres/postgres-dialect.js";
import { compileFind } from "../../src/backends/sql/sql-query-compiler.js";
import { makeRowCodec } from "../../src/backends/sql/sql-row-codec.js";
import { createStorage, readEntitySchema } from "../../src/index.js";
import type { Storage } from "../../src/index.js";
import { normalizeQuery } from "../../src/query/normalize-query.js";
import { backendSelected } from "../sql/sql-backend-cases.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "./pg-test-database.js";

@Entity("tickets")
@Index(["status", "priority"])
@Index(["due"])
@Index(["title"])
class Ticket {
  @PrimaryColumn({ type: "varchar" }) id: string;
  @Column({ type: "varchar" }) status: string;
  @Column({ type: "integer" }) priority: number;
  @Column({ type: "varchar", nullable: true }) note: string | null;
  /** Indexed and nullable: one row in ten has none. */
  @Column({ type: "integer", nullable: true }) due: number | null;
  /** Indexed string: 200 first words, one of them "San". */
  @Column({ type: "varchar" }) title: string;
}

const ROWS = 20_000;
const WORDS = Array.from({ length: 200 }, (_, w) => (w === 7 ? "San" : w === 8 ? "SANTA" : `w${w}`));
const ticket = (i: number) => ({
  id: `t${String(i).padStart(6, "0")}`,
  status: ["open", "doing", "done", "closed"][i % 4]!,
  priority: (i * 7919) % 100,
  note: null,
  due: i % 10 === 0 ? null : (i * 31) % 5000,
  title: `${WORDS[(i * 13) % WORDS.length]!} ${i}`,
});

const skip = backendSelected("postgres") ? pgSkipReason() : "BACKENDS excludes postgres";

describe.skipIf(skip !== undefined)("postgres: query plans", () => {
  let db: PgTestDatabase;
  let client: pg.Client;
  let storage: Storage;
  const schema = readEntitySchema(Ticket);
  beforeAll(async () => {
    db = await PgTestDatabase.create(PG_URL!);
    const url = await db.freshSchemaUrl();
    storage = await createStorage({ url, entities: [Ticket], autoCreate: true, cache: false });
    await storage.repository(Ticket).saveMany(Array.from({ length: ROWS }, (_, i) => ticket(i)));
    client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query("ANALYZE tickets");
  });
  afterAll(async () => {
    await storage?.close();
    await client?.end();
    await db?.drop();
  });

  /**
   * The plan of `query` as Strata compiles it: planned with its values (a custom plan), and as a generic
   * plan, which does not look at them: Strata's statements are prepared, and after a few runs PostgreSQL
   * may run them with one plan for every value. (An unnamed EXPLAIN is always planned with its values, so
   * the generic plan is asked of a PREPAREd statement.)
   */
  async function plans(query: unknown): Promise<{ custom: string; generic: string }> {
    const { text, params } = compileFind(schema, normalizeQuery(schema, query), postgresDialect, makeRowCodec(schema, postgresDialect));
    const planText = (rows: Record<string, string>[]) => rows.map((r) => r["QUERY PLAN"]).join("\n");
    const custom = planText((await client.query(`EXPLAIN ${text}`, params)).rows);
    await client.query(`PREPARE plan_probe AS ${text}`);
    await client.query("SET plan_cache_mode = force_generic_plan");
    try {
      // EXECUTE takes no bound parameters: the test's own constants are written as literals.
      const args = params.map((v) => client.escapeLiteral(String(v))).join(", ");
      return { custom, generic: planText((await client.query(`EXPLAIN EXECUTE plan_probe${args ? `(${args})` : ""}`)).rows) };
    } finally {
      await client.query("RESET plan_cache_mode");
      await client.query("DEALLOCATE plan_probe");
    }
  }
  /** A Sort node over every match (an Incremental Sort over an index's order, for the key tie-breaker, is fine). */
  const FULL_SORT = /(^|->)\s*Sort\s+\(cost/m;
  const ids = (rows: readonly { id: string }[]) => rows.map((r) => r.id);
  /** What the contract says `rows` sorted by `due` in `direction` are (nulls first ascending, last descending, then id). */
  const byDue = (direction: "asc" | "desc") => {
    const all = Array.from({ length: ROWS }, (_, i) => ticket(i));
    const rank = (d: number | null) => (d === null ? -Infinity : d) * (direction === "asc" ? 1 : -1);
    return all.sort((a, b) => rank(a.due) - rank(b.due) || (a.id < b.id ? -1 : 1));
  };

  test("status = ? and priority >= ? order by priority desc limit 50: a backward scan of the (status, priority) index, no full sort", async () => {
    for (const plan of Object.values(await plans({ where: { status: "open", priority: { $gte: 50 } }, orderBy: { priority: "desc" }, limit: 50 }))) {
      expect(plan).toContain("Index Scan Backward");
      // The tie-breaker on the primary key may add an incremental sort over the index's order, never a sort of every match.
      expect(plan).not.toMatch(FULL_SORT);
      expect(plan).not.toContain("Bitmap");
    }
  });

  test("order by an indexed nullable column desc with a limit: a backward scan of its index, no sort, nulls last", async () => {
    const query = { orderBy: { due: "desc" }, limit: 10 } as const;
    for (const plan of Object.values(await plans(query))) {
      expect(plan).toMatch(/Index Scan Backward using "?idx_tickets_due"?/);
      expect(plan).not.toMatch(FULL_SORT);
    }
    expect(ids(await storage.repository(Ticket).findAll(query))).toEqual(ids(byDue("desc").slice(0, 10)));
  });

  test("order by an indexed nullable column asc: a forward scan of the same index, nulls first", async () => {
    const query = { orderBy: { due: "asc" }, limit: 10 } as const;
    for (const plan of Object.values(await plans(query))) {
      expect(plan).toMatch(/Index Scan using "?idx_tickets_due"?/);
      expect(plan).not.toMatch(FULL_SORT);
    }
    const found = await storage.repository(Ticket).findAll(query);
    expect(found.every((t) => t.due === null)).toBe(true);
    expect(ids(found)).toEqual(ids(byDue("asc").slice(0, 10)));
  });

  test("a deep offset page (offset 5,000) walks the index, with no sort of the whole table", async () => {
    const query = { orderBy: { due: "desc" }, limit: 100, offset: 5000 } as const;
    for (const plan of Object.values(await plans(query))) {
      expect(plan).toContain("Index Scan Backward");
      expect(plan).not.toMatch(FULL_SORT);
      expect(plan).not.toContain("Seq Scan");
    }
    expect(ids(await storage.repository(Ticket).findAll(query))).toEqual(ids(byDue("desc").slice(5000, 5100)));
  });

  test('$ilike with a literal prefix ("san %") is a range of the index on the folded title', async () => {
    const query = { where: { title: { $ilike: "san %" } }, orderBy: { priority: "desc" }, limit: 50 } as const;
    for (const plan of Object.values(await plans(query))) {
      // An index scan, or a bitmap of it: the planner picks by the matches it expects.
      expect(plan).toMatch(/(Index Scan using|Bitmap Index Scan on) "?idx_tickets_title__folded"?/);
      expect(plan).not.toContain("Seq Scan");
    }
    // "San 7", never "SANTA 8...": the match itself is still the pattern's.
    const found = await storage.repository(Ticket).findAll({ where: { title: { $ilike: "san %" } } });
    const expected = Array.from({ length: ROWS }, (_, i) => ticket(i)).filter((t) => t.title.startsWith("San "));
    expect(expected.length).toBeGreaterThan(0);
    expect(ids(found)).toEqual(ids(expected));
  });

  /** The plan of `query` starting after the keyset position `after`, as iterate's and findPage's later pages ask. */
  async function seekPlan(query: Record<string, unknown>, after: unknown[]): Promise<string> {
    const schema = readEntitySchema(Ticket);
    const compiled = compileFind(schema, { ...normalizeQuery(schema, query), after }, postgresDialect, makeRowCodec(schema, postgresDialect));
    // A page split at the nulls is two selects (the second run only where the values end): the plans of both.
    const plans: string[] = [];
    for (const { text, params } of compiled.nulls ? [compiled, compiled.nulls] : [compiled]) {
      plans.push(...(await client.query(`EXPLAIN ${text}`, params as unknown[])).rows.map((r: Record<string, string>) => r["QUERY PLAN"]!));
    }
    return plans.join("\n");
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

  // The where lets no null through, so the position is a plain range on priority; `DESC NULLS LAST` is the
  // backward scan of Strata's NULLS FIRST index.
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
