/**
 * Review of streamed walks on SQLite and PostgreSQL: a walk that goes idle after every page (each stretch a new
 * snapshot, resumed by keyset) yields what findAll gives, each row once, with nulls and duplicates in the
 * order, a hostile column name, a projection leaving the order out, offset and limit (a descending walk
 * resumed by keyset once lost every null: its select with a limit compiles to two, and the cursor ran the
 * first); many walks at once all end whole and leave at most the kept clients connected.
 */
import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import pg from "pg";
import { Column, Entity, PrimaryColumn } from "typeorm";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { createStorage } from "../../src/index.js";
import type { Storage } from "../../src/index.js";
import { STREAM_IDLE_MS } from "../../src/backends/sql/sql-stream-walk.js";
import { backendSelected } from "../sql/sql-backend-cases.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "../postgres/pg-test-database.js";

@Entity("rvs_rows")
class RvsRow {
  @PrimaryColumn({ type: "integer" }) id!: number;
  /** Unindexed, nullable, with duplicates, under a hostile name. */
  @Column({ type: "integer", nullable: true, name: `we"ird; --name)` }) rank!: number | null;
  @Column({ type: "string" }) label!: string;
}

/** rank: null for every 4th row, else k % 5 (many duplicates). */
const seedRows = (count: number): RvsRow[] => Array.from({ length: count }, (_, k) => ({ id: k + 1, rank: k % 4 === 0 ? null : k % 5, label: `l${k}` }));

/** Walks `query` idle past the timeout after every 4 rows (pages of 4), beside findAll and a walk in a transaction. */
async function idleWalkMatchesFindAll(storage: Storage, direction: "asc" | "desc"): Promise<void> {
  const repo = storage.repository(RvsRow);
  const query = { where: { label: { $ne: "l7" } }, orderBy: { rank: direction }, offset: 3, limit: 30, select: ["id", "label"] } as const;
  const expected = (await repo.findAll({ ...query, select: ["id", "label"] })).map((r) => r.id);
  const inTransaction: number[] = [];
  await storage.transaction(async () => {
    for await (const r of repo.iterate({ ...query, select: ["id", "label"] }, { pageSize: 4 })) inTransaction.push(r.id);
  });
  expect(inTransaction).toEqual(expected);
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
  try {
    const walk = repo.iterate({ ...query, select: ["id", "label"] }, { pageSize: 4 })[Symbol.asyncIterator]();
    const ids: number[] = [];
    for (let r = await walk.next(); !r.done; r = await walk.next()) {
      ids.push(r.value.id);
      expect(Object.keys(r.value).sort()).toEqual(["id", "label"]);
      if (ids.length % 4 === 0) vi.advanceTimersByTime(STREAM_IDLE_MS);
    }
    expect(ids).toEqual(expected);
  } finally {
    vi.useRealTimers();
  }
}

describe("sqlite (WAL file): streamed walk review", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "strata-rvs-walk-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  for (const direction of ["asc", "desc"] as const) {
    test(`a walk (${direction}) idle past its timeout after every page yields what findAll gives, each row once`, async () => {
      const storage = await createStorage({ url: `sqlite:${path.join(dir, `w${direction}.db`)}`, entities: [RvsRow], autoCreate: true, cache: false });
      try {
        await storage.repository(RvsRow).saveMany(seedRows(41));
        await idleWalkMatchesFindAll(storage, direction);
      } finally {
        await storage.close();
      }
    });
  }
});

const skip = backendSelected("postgres") ? pgSkipReason() : "BACKENDS excludes postgres";

describe.skipIf(skip !== undefined)("postgres: streamed walk review", () => {
  let db: PgTestDatabase;
  let watcher: pg.Client;
  let storages = 0;

  beforeAll(async () => {
    db = await PgTestDatabase.create(PG_URL!);
    watcher = new pg.Client({ connectionString: db.url });
    await watcher.connect();
  });
  afterAll(async () => {
    await watcher?.end();
    await db?.drop();
  });

  async function seeded(count: number): Promise<{ storage: Storage; app: string }> {
    const url = new URL(await db.freshSchemaUrl());
    const app = `rvs_walk_${++storages}`;
    url.searchParams.set("application_name", app);
    const storage = await createStorage({ url: url.href, entities: [RvsRow], autoCreate: true, cache: false });
    await storage.repository(RvsRow).saveMany(seedRows(count));
    return { storage, app };
  }

  async function connections(app: string): Promise<number> {
    const result = await watcher.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1`, [app]);
    return result.rows[0].n as number;
  }

  for (const direction of ["asc", "desc"] as const) {
    test(`a walk (${direction}) idle past its timeout after every page yields what findAll gives, each row once`, async () => {
      const { storage } = await seeded(41);
      try {
        await idleWalkMatchesFindAll(storage, direction);
      } finally {
        await storage.close();
      }
    });
  }

  test("20 walks at once all end whole, and leave at most the kept clients and the pool connected", async () => {
    const { storage, app } = await seeded(30);
    const repo = storage.repository(RvsRow);
    try {
      const expected = (await repo.findAll({ orderBy: { label: "desc" } })).map((r) => r.id);
      const walks = await Promise.all(
        Array.from({ length: 20 }, async () => {
          const ids: number[] = [];
          for await (const r of repo.iterate({ orderBy: { label: "desc" } }, { pageSize: 3 })) {
            ids.push(r.id);
            await new Promise((resolve) => setImmediate(resolve));
          }
          return ids;
        }),
      );
      for (const ids of walks) expect(ids).toEqual(expected);
      const count = await connections(app);
      expect(count).toBeLessThanOrEqual(2 + 10);
    } finally {
      await storage.close();
    }
    for (let k = 0; k < 100 && (await connections(app)) > 0; k++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await connections(app)).toBe(0);
  });
});
