/**
 * A partial save or an update is a statement per set of fields given, and a program that saves what a
 * request holds (`save({ id, ...body })`) gives any of 2^columns sets. PostgreSQL holds each named prepared
 * statement on every connection that ran it until the connection ends: their number must stay bounded, and
 * so must the texts kept per table.
 */
import { afterAll, describe, expect, test } from "vitest";
import { Column, Entity, PrimaryColumn } from "typeorm";
import { createStorage, readEntitySchema } from "../../src/index.js";
import { MAX_NAMED_STATEMENTS } from "../../src/backends/postgres/postgres-connection.js";
import { MAX_STATEMENT_SHAPES, SqlTable } from "../../src/backends/sql/sql-table.js";
import { sqliteDialect } from "../../src/backends/sqlite/sqlite-dialect.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "../postgres/pg-test-database.js";

const FIELDS = ["f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "f9", "f10"] as const;

@Entity("rvp_wide")
class Wide {
  @PrimaryColumn({ type: "integer" }) id!: number;
  @Column({ type: "integer", nullable: true }) f0!: number | null;
  @Column({ type: "integer", nullable: true }) f1!: number | null;
  @Column({ type: "integer", nullable: true }) f2!: number | null;
  @Column({ type: "integer", nullable: true }) f3!: number | null;
  @Column({ type: "integer", nullable: true }) f4!: number | null;
  @Column({ type: "integer", nullable: true }) f5!: number | null;
  @Column({ type: "integer", nullable: true }) f6!: number | null;
  @Column({ type: "integer", nullable: true }) f7!: number | null;
  @Column({ type: "integer", nullable: true }) f8!: number | null;
  @Column({ type: "integer", nullable: true }) f9!: number | null;
  @Column({ type: "integer", nullable: true }) f10!: number | null;
}

/** The fields set in `mask`, each to `mask`. */
function shape(mask: number): string[] {
  return FIELDS.filter((_, i) => mask & (1 << i));
}

describe("statements per set of fields given", () => {
  test("the texts a table keeps for partial upserts and updates stay bounded", () => {
    const table = new SqlTable(readEntitySchema(Wide), sqliteDialect);
    const columns = readEntitySchema(Wide).columns;
    for (let mask = 1; mask < 1 << FIELDS.length; mask++) {
      const given = shape(mask);
      table.partialUpsert(given, false);
      table.partialMultiRow(2, given, false);
      table.update(columns.filter((c) => given.includes(c.property)), false);
    }
    expect(table.statementShapes).toBeLessThanOrEqual(3 * MAX_STATEMENT_SHAPES);
    // An evicted text is built again, the same.
    expect(table.partialUpsert(["f0"], false)).toContain(`SET "f0" = excluded."f0"`);
  });

  const skip = pgSkipReason();
  if (skip) {
    test.skip(skip, () => {});
    return;
  }
  let db: PgTestDatabase | undefined;
  afterAll(async () => db?.drop());

  test("postgres: partial saves of more field sets than the bound leave at most that many prepared statements on a connection", async () => {
    db = await PgTestDatabase.create(PG_URL!);
    const storage = await createStorage({ url: await db.freshSchemaUrl(), entities: [Wide], autoCreate: true, poolSize: 1 });
    const rows = storage.repository(Wide);
    await rows.save({ id: 1 });
    const expected: Record<string, unknown> = { id: 1, ...Object.fromEntries(FIELDS.map((f) => [f, null])) };
    await storage.transaction(async () => {
      for (let mask = 1; mask <= MAX_NAMED_STATEMENTS + 50; mask++) {
        const entity: Record<string, unknown> = { id: 1 };
        for (const field of shape(mask)) entity[field] = expected[field] = mask;
        await rows.save(entity as Partial<Wide> & { id: number });
      }
    });
    const [{ n }] = (await storage.transaction(() => storage.sql`SELECT count(*)::int AS n FROM pg_prepared_statements`)) as [{ n: number }];
    expect(n).toBeLessThanOrEqual(MAX_NAMED_STATEMENTS);
    expect({ ...(await rows.findById(1)) }).toEqual(expected);
    await storage.close();
  }, 120_000);
});
