/**
 * copyStorage and the target's cache. A forced copy drops and creates the target's tables before it copies
 * a row: from then on, whether the copy ends well or fails half-way, nothing the target's cache held of
 * those tables may be served again (it would show rows the backend no longer has).
 */
import "reflect-metadata";
import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { Column, Entity, PrimaryColumn } from "typeorm";
import type { Storage } from "../../src/index.js";
import { copyStorage, createStorage, MigrationError } from "../../src/index.js";

@Entity("alpha")
class Alpha {
  @PrimaryColumn({ type: "string" }) id: string;
  @Column({ type: "integer" }) n: number;
}

@Entity("beta")
class Beta {
  @PrimaryColumn({ type: "string" }) id: string;
  @Column({ type: "integer" }) n: number;
}

const dirs: string[] = [];
const open: Storage[] = [];
const targets: Array<[string, () => string]> = [
  ["memory", () => "memory:"],
  [
    "file",
    () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "strata-copy-cache-"));
      dirs.push(dir);
      return `file:${dir}`;
    },
  ],
];

for (const [name, url] of targets) {
  describe(`${name}: copyStorage and the target's cache`, () => {
    afterEach(async () => {
      for (const storage of open.splice(0)) await storage.close();
      for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
    });

    test("a forced copy that fails half-way leaves no cached row of the replaced tables to be served", async () => {
      const from = await createStorage({ url: "memory:", entities: [Alpha, Beta], autoCreate: true });
      const to = await createStorage({ url: url(), entities: [Alpha, Beta], autoCreate: true });
      open.push(from, to);
      await from.repository(Alpha).save({ id: "x", n: 1 });
      await from.repository(Beta).save({ id: "x", n: 1 });
      await to.repository(Alpha).save({ id: "x", n: 99 });
      await to.repository(Beta).save({ id: "x", n: 99 });
      // Read once, so that both rows are in the target's cache.
      expect((await to.repository(Alpha).findById("x"))?.n).toBe(99);
      expect((await to.repository(Beta).findById("x"))?.n).toBe(99);

      // Any failure after the tables were replaced will do (a full disk, a lost connection): here the
      // progress callback throws once the first table's rows are in.
      const error = await copyStorage(from, to, {
        force: true,
        onProgress: ({ table, copied }) => {
          if (table === "alpha" && copied > 0) throw new Error("the progress sink broke");
        },
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toBe("the progress sink broke");

      // What the backend holds now: alpha copied, beta created and still empty.
      expect((await to.repository(Alpha).findById("x"))?.n).toBe(1);
      expect(await to.repository(Beta).findById("x")).toBeNull();
      expect(await to.repository(Beta).count()).toBe(0);
    });

    test("a copy refused because the target is not empty leaves its cache alone", async () => {
      const from = await createStorage({ url: "memory:", entities: [Alpha], autoCreate: true });
      const to = await createStorage({ url: url(), entities: [Alpha], autoCreate: true });
      open.push(from, to);
      await to.repository(Alpha).save({ id: "x", n: 99 });
      expect((await to.repository(Alpha).findById("x"))?.n).toBe(99);
      const hits = to.cache.stats().l1.hits;
      await expect(copyStorage(from, to)).rejects.toBeInstanceOf(MigrationError);
      expect((await to.repository(Alpha).findById("x"))?.n).toBe(99);
      expect(to.cache.stats().l1.hits).toBe(hits + 1);
    });
  });
}
