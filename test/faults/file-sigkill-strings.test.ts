/**
 * Fault: SIGKILL at random moments while a child commits adversarial strings (line and paragraph
 * separators, CR, CRLF, VT, FF, NUL, empty and long strings) on the file backend, in ids, strings and
 * json keys and values. Every acknowledged commit must be there, exact, after a reopen, and no
 * transaction may be there by half.
 */
import "reflect-metadata";
import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { createStorage } from "../../src/index.js";
import { adversarialCommit } from "../fixtures/adversarial-strings.js";
import { StringRow } from "../fixtures/file-entities.js";
import type { FixtureChild } from "../support/fixture-child.js";
import { runFixture } from "../support/fixture-child.js";

const KILLS = 8;

let dir: string;
const children: FixtureChild[] = [];
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "strata-fault-kill-"));
});
afterEach(async () => {
  for (const child of children.splice(0)) await child.kill();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("file: SIGKILL while writing adversarial strings", () => {
  test(`${KILLS} kills at random moments lose no acknowledged commit and leave no transaction half there`, async () => {
    const acknowledged: Array<[prefix: string, n: number]> = [];
    for (let round = 0; round < KILLS; round++) {
      const prefix = `r${round}`;
      // A small compactAfterBytes so that some kills land inside a compaction, with long rows in the snapshot.
      const writer = runFixture("file-string-writer.js", [dir, prefix, "60000"]);
      children.push(writer);
      await writer.waitFor(/^ready$/);
      await writer.waitFor(/^ok /);
      // The moment of the kill is what is random here; nothing is asserted about time.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 250));
      await writer.kill();
      for (const l of writer.lines) if (l.startsWith("ok ")) acknowledged.push([prefix, Number(l.slice(3))]);
    }
    const storage = await createStorage({ url: `file:${dir}`, entities: [StringRow], timeoutMs: 0 });
    try {
      const rows = storage.repository(StringRow);
      for (const [prefix, n] of acknowledged) {
        const expected = adversarialCommit(prefix, n);
        const found = await rows.findByIds(expected.map((r) => r.id));
        expect(found.map((r) => ({ ...r })), `acknowledged commit ${prefix}-${n}`).toEqual(expected);
      }
      // Every row there belongs to a whole transaction, stored exactly (an unacknowledged one in flight at a kill may be there).
      const all = await rows.findAll();
      const pairs = new Set(all.map((r) => r.pair));
      let stored = 0;
      for (let round = 0; round < KILLS; round++) {
        const prefix = `r${round}`;
        const last = Math.max(-1, ...acknowledged.filter(([p]) => p === prefix).map(([, n]) => n));
        for (let n = 0; n <= last + 1; n++) {
          const expected = adversarialCommit(prefix, n);
          if (!pairs.has(expected[0]!.pair)) continue;
          expect((await rows.findByIds(expected.map((r) => r.id))).map((r) => ({ ...r })), `transaction ${prefix}-${n}`).toEqual(expected);
          stored += 2;
        }
      }
      expect(all).toHaveLength(stored);
      expect(acknowledged.length).toBeGreaterThan(KILLS);
      expect(stored / 2 - acknowledged.length).toBeLessThanOrEqual(KILLS);
      console.info(`file SIGKILL fault test: ${KILLS} kills survived, ${acknowledged.length} acknowledged commits intact`);
    } finally {
      await storage.close();
    }
  });
});
