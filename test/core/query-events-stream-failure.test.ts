/**
 * Review of query events: a walk that fails is a failed operation, and failed operations are reported
 * (README, "Observing queries"): the page that failed carries the caller's error and no rows.
 */
import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Column, Entity, PrimaryColumn } from "typeorm";
import { afterAll, describe, expect, test } from "vitest";
import type { QueryEvent } from "../../src/index.js";
import { createStorage } from "../../src/index.js";

@Entity("rv_stream_notes")
class Note {
  @PrimaryColumn({ type: "varchar" }) id: string;
  @Column({ type: "varchar" }) text: string;
}

const dir = mkdtempSync(path.join(tmpdir(), "strata-rv-stream-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("sqlite: a walk that fails", () => {
  test("iterate over a table dropped behind the storage's back: the caller's error is reported in an event", async () => {
    const storage = await createStorage({ url: `sqlite:${path.join(dir, "walk.db")}`, entities: [Note], autoCreate: true, cache: false });
    try {
      await storage.repository(Note).saveMany([{ id: "a", text: "x" }, { id: "b", text: "y" }]);
      await storage.sql`drop table rv_stream_notes`;
      const events: QueryEvent[] = [];
      storage.on("query", (e) => events.push(e));
      let thrown: unknown;
      try {
        for await (const n of storage.repository(Note).iterate({ where: { text: "x" } })) void n;
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(Error);
      expect(events.some((e) => e.error === thrown && e.rows === 0 && e.table === "rv_stream_notes")).toBe(true);
    } finally {
      await storage.close();
    }
  });
});
