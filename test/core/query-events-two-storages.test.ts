/**
 * Review of query events: two storages in one process, one observed. Their operations interleave on the
 * event loop (and, on PostgreSQL, on pooled connections): the observed one's events hold only its own
 * statements, and nothing of the other's.
 */
import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Column, Entity, PrimaryColumn } from "typeorm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { QueryEvent, Storage } from "../../src/index.js";
import { createStorage } from "../../src/index.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "../postgres/pg-test-database.js";

@Entity("rv_two_notes")
class Note {
  @PrimaryColumn({ type: "varchar" }) id: string;
  @Column({ type: "varchar" }) owner: string;
}

/** Runs 30 saves and reads on each storage at once, `a` observed; returns a's events. */
async function interleaved(a: Storage, b: Storage): Promise<QueryEvent[]> {
  const events: QueryEvent[] = [];
  const off = a.on("query", (e) => events.push(e));
  try {
    await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        await Promise.all([
          a.repository(Note).save({ id: `a${i}`, owner: "A" }),
          b.repository(Note).save({ id: `b${i}`, owner: "B" }),
          b.transaction(async () => void (await b.repository(Note).findAll({ where: { owner: "B" } }))),
        ]);
        await a.repository(Note).findAll({ where: { owner: "A" }, limit: 1 });
      }),
    );
  } finally {
    off();
  }
  return events;
}

function expectOnlyOwn(events: QueryEvent[]): void {
  expect(events).toHaveLength(60);
  for (const e of events) {
    // Several statements only where a's own was retried (SQLite busy on the shared file): each still a's.
    for (const statement of e.statements ?? [{ sql: e.sql!, params: e.params! }]) {
      expect(statement.params).not.toContain("B");
      expect(statement.params.some((p) => typeof p === "string" && p.startsWith("b"))).toBe(false);
    }
  }
}

describe("sqlite: two storages on one file, one observed", () => {
  test("interleaved operations: the observed storage's events hold only its own statements", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "strata-rv-two-"));
    const file = path.join(dir, "two.db");
    const a = await createStorage({ url: `sqlite:${file}`, entities: [Note], autoCreate: true, cache: false });
    const b = await createStorage({ url: `sqlite:${file}`, entities: [Note], cache: false });
    try {
      expectOnlyOwn(await interleaved(a, b));
    } finally {
      await a.close();
      await b.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const skip = pgSkipReason();
if (skip) describe("postgres: two storages, one observed", () => test.skip(skip, () => {}));
else {
  describe("postgres: two storages, one observed", () => {
    let db: PgTestDatabase | undefined;
    beforeAll(async () => {
      db = await PgTestDatabase.create(PG_URL!);
    });
    afterAll(async () => {
      await db?.drop();
    });

    test("interleaved operations: the observed storage's events hold only its own statements", async () => {
      const a = await createStorage({ url: await db!.freshSchemaUrl(), entities: [Note], autoCreate: true, cache: false });
      const b = await createStorage({ url: await db!.freshSchemaUrl(), entities: [Note], autoCreate: true, cache: false });
      try {
        expectOnlyOwn(await interleaved(a, b));
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
}
