/**
 * Review of query events: `logQueries` lines stay readable for a large `saveMany` batch. The values were
 * already cut at 50 per statement, but laid out in columns over many lines; the statement's own text (a VALUES list of thousands of placeholders)
 * was written whole, one line of tens of kilobytes per batch.
 */
import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Column, Entity, PrimaryColumn } from "typeorm";
import { afterAll, describe, expect, test } from "vitest";
import type { Logger } from "../../src/index.js";
import { createStorage } from "../../src/index.js";

@Entity("rv_log_notes")
class Note {
  @PrimaryColumn({ type: "varchar" }) id: string;
  @Column({ type: "varchar" }) text: string;
  @Column({ type: "integer" }) size: number;
}

const dir = mkdtempSync(path.join(tmpdir(), "strata-rv-log-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("sqlite: logQueries line size", () => {
  test("a saveMany batch of 500 rows logs one line of a few kilobytes, its SQL cut with the length left out", async () => {
    const lines: string[] = [];
    const keep = (message: string) => void lines.push(message);
    const logger: Logger = { debug: keep, info: keep, warn: keep, error: keep };
    const storage = await createStorage({ url: `sqlite:${path.join(dir, "log.db")}`, entities: [Note], autoCreate: true, logger, logQueries: true });
    try {
      await storage.repository(Note).saveMany(Array.from({ length: 2000 }, (_, i) => ({ id: `n${i}`, text: "t", size: i })));
      const batch = lines.find((line) => line.startsWith('sqlite upsertMany "rv_log_notes"'));
      expect(batch).toBeDefined();
      expect(batch).toMatch(/^sqlite upsertMany "rv_log_notes" \(in transaction\): 500 rows in [\d.]+ ms \| INSERT INTO "rv_log_notes" \("id", "text", "size"\) VALUES \(\?, \?, \?\)/);
      expect(batch).toMatch(/… \(\d+ more characters\) \| params \[/);
      expect(batch!.length).toBeLessThan(3000);
      // One line: the values were grouped in columns over many lines past six of them.
      expect(batch).not.toContain("\n");
    } finally {
      await storage.close();
    }
  });
});
