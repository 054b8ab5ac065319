/**
 * SQLite on a full disk (a real ENOSPC from a small tmpfs): a write that does not fit is a CapacityError
 * naming the table and the file, nothing acknowledged is lost, and writes work again once space is freed.
 */
import "reflect-metadata";
import { rmSync } from "node:fs";
import * as path from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, test } from "vitest";
import type { Storage } from "../../src/index.js";
import { CapacityError, createStorage } from "../../src/index.js";
import { Counter, Thing } from "../fixtures/sql-entities.js";
import { backendSelected } from "../sql/sql-backend-cases.js";
import type { Tmpfs } from "../support/tmpfs.js";
import { fillDisk, mountTmpfs, tmpfsSkipReason } from "../support/tmpfs.js";

const skip = backendSelected("sqlite") ? tmpfsSkipReason() : "BACKENDS excludes sqlite";
const payload = (i: number) => `row ${i} `.padEnd(8000, String.fromCharCode(97 + (i % 26)));

let mounted: Tmpfs | undefined;
afterEach(() => {
  mounted?.unmount();
  mounted = undefined;
});

describe.skipIf(skip !== undefined)("sqlite: disk full", () => {
  for (const journalMode of ["wal", "delete"] as const) {
    test(`journal mode ${journalMode}: a write that does not fit is a CapacityError naming table and file; nothing acknowledged is lost; writes resume once space is freed`, async () => {
      mounted = mountTmpfs(2 * 1024 * 1024);
      const file = path.join(mounted.dir, "db.sqlite");
      const open = () => createStorage({ url: `sqlite:${file}`, entities: [Thing], autoCreate: true, sqlite: { journalMode } });
      let storage: Storage | undefined = await open();
      const acknowledged = new Map<string, string>();
      try {
        const things = storage.repository(Thing);
        for (let i = 0; i < 20; i++) {
          await things.save({ id: `a${i}`, label: payload(i) } as Thing);
          acknowledged.set(`a${i}`, payload(i));
        }
        const filler = fillDisk(mounted.dir);
        // Free pages and a reusable WAL may take a few more rows: write until the disk refuses (bounded).
        let refused: unknown;
        for (let i = 0; i < 500 && refused === undefined; i++) {
          const id = `b${i}`;
          const attempt = i % 2 === 0
            ? things.save({ id, label: payload(i) } as Thing)
            : storage.transaction(async () => {
                await things.save({ id, label: payload(i) } as Thing);
                await things.save({ id: `${id}-pair`, label: payload(i + 1) } as Thing);
              });
          try {
            await attempt;
            acknowledged.set(id, payload(i));
            if (i % 2 === 1) acknowledged.set(`${id}-pair`, payload(i + 1));
          } catch (error) {
            refused = error;
          }
        }
        expect(refused).toBeInstanceOf(CapacityError);
        expect((refused as CapacityError).code).toBe("STRATA_CAPACITY");
        expect((refused as CapacityError).table).toBe("sql_things");
        expect((refused as CapacityError).file).toBe(file);
        expect((refused as Error).message).toMatch(/disk|full/i);
        // Both kinds of write are refused the same way while the disk stays full, and store nothing.
        const single = await things.save({ id: "c1", label: payload(1) } as Thing).catch((e: unknown) => e);
        const inTransaction = await storage
          .transaction(async () => {
            await things.save({ id: "c2", label: payload(2) } as Thing);
            await things.save({ id: "c3", label: payload(3) } as Thing);
          })
          .catch((e: unknown) => e);
        for (const error of [single, inTransaction]) {
          expect(error).toBeInstanceOf(CapacityError);
          expect((error as CapacityError).file).toBe(file);
        }
        expect((single as CapacityError).table).toBe("sql_things");
        // Reads go on while the disk is full, and show exactly what was acknowledged.
        const stored = new Map((await things.findAll()).map((t) => [t.id, t.label]));
        expect(stored).toEqual(acknowledged);

        rmSync(filler);
        await things.save({ id: "after", label: payload(999) } as Thing);
        acknowledged.set("after", payload(999));
        await storage.transaction(async () => {
          await things.save({ id: "after-tx", label: "x" } as Thing);
        });
        acknowledged.set("after-tx", "x");
        await storage.close();
        storage = await open();
        expect(new Map((await storage.repository(Thing).findAll()).map((t) => [t.id, t.label]))).toEqual(acknowledged);
        await storage.close();
        storage = undefined;
        const probe = new Database(file, { readonly: true });
        expect(probe.pragma("integrity_check", { simple: true })).toBe("ok");
        probe.close();
      } finally {
        await storage?.close();
      }
    });

    test(`journal mode ${journalMode}: an atomic saveMany that meets a full disk in a later chunk is a CapacityError and stores none of its rows`, async () => {
      mounted = mountTmpfs(2 * 1024 * 1024);
      const file = path.join(mounted.dir, "db.sqlite");
      const storage = await createStorage({ url: `sqlite:${file}`, entities: [Thing], autoCreate: true, sqlite: { journalMode } });
      try {
        const things = storage.repository(Thing);
        const kept = Array.from({ length: 20 }, (_, i) => ({ id: `a${i}`, label: payload(i) }) as Thing);
        await things.saveMany(kept);
        fillDisk(mounted.dir);
        // Each chunk a savepoint: SQLite may end the whole transaction on SQLITE_FULL, savepoints included.
        const batch = Array.from({ length: 600 }, (_, i) => ({ id: `b${i}`, label: payload(i) }) as Thing);
        const error = await things.saveMany(batch, { chunkSize: 100 }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(CapacityError);
        expect((error as CapacityError).file).toBe(file);
        expect((await things.findAll()).map((t) => t.id).sort()).toEqual(kept.map((t) => t.id).sort());
        // Creating a new table on open meets the same full disk: the CapacityError, not "cannot rollback".
        const opened = await createStorage({ url: `sqlite:${file}`, entities: [Thing, Counter], autoCreate: true, sqlite: { journalMode } }).catch((e: unknown) => e);
        if (!(opened instanceof Error)) await (opened as Storage).close();
        expect(opened).toBeInstanceOf(CapacityError);
        expect((opened as CapacityError).file).toBe(file);
      } finally {
        await storage.close();
      }
    });
  }
});
