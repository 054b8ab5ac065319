/**
 * How `iterate` and `findPage` ask the backend for pages (seen through a third-party backend that records
 * every query it is given), and what a findPage cursor is checked against. Their results, on every
 * backend, are in the conformance suite (src/conformance/keyset-tests.ts).
 */
import "reflect-metadata";
import { createHash } from "node:crypto";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { createStorage, QueryError } from "../../src/index.js";
import type { NormalizedQuery, Storage } from "../../src/index.js";
import { ConfValue } from "../../src/conformance/index.js";
import { countingStore } from "../fixtures/counting-backend.js";

function value(id: string, i: number | null, d: Date | null = null): ConfValue {
  return Object.assign(new ConfValue(), { id, s: null, i, n: null, b: null, d, j: null });
}

describe("keyset paging through the SPI", () => {
  let storage: Storage;
  let finds: NormalizedQuery[];
  beforeEach(async () => {
    finds = [];
    storage = await createStorage({ backend: countingStore({ counts: new Map(), finds }), entities: [ConfValue], autoCreate: true, cache: false });
    // i: 0..9 twice, so every page boundary may fall between equal sort values.
    await storage.repository(ConfValue).saveMany(Array.from({ length: 20 }, (_, k) => value(`v${String(k).padStart(2, "0")}`, k % 10)));
    finds.length = 0;
  });
  afterEach(async () => {
    await storage.close();
  });

  const position = (q: NormalizedQuery) => ({ offset: q.offset, limit: q.limit, after: q.after });

  test("iterate asks the first page at the user's offset, then each page after the last row at offset 0, never counting rows from the start", async () => {
    const repo = storage.repository(ConfValue);
    const seen = [];
    for await (const v of repo.iterate({ orderBy: { i: "desc" }, offset: 2, limit: 11 }, { pageSize: 4 })) seen.push(v.id);
    expect(seen).toEqual((await repo.findAll({ orderBy: { i: "desc" }, offset: 2, limit: 11 })).map((v) => v.id));
    finds.pop(); // the findAll just above
    expect(finds.map(position)).toEqual([
      { offset: 2, limit: 4, after: undefined },
      // The sort key (i, then the id) of the last row of the page before.
      { offset: 0, limit: 4, after: [7, "v17"] },
      { offset: 0, limit: 3, after: [5, "v15"] },
    ]);
  });

  test("iterate stops after a short page without asking again, and reads through the ambient transaction", async () => {
    const repo = storage.repository(ConfValue);
    await storage.transaction(async () => {
      await repo.insert(value("w", 100));
      const ids = [];
      for await (const v of repo.iterate({ where: { i: { $gte: 8 } }, orderBy: { i: "desc" } }, { pageSize: 2 })) ids.push(v.id);
      expect(ids).toEqual(["w", "v09", "v19", "v08", "v18"]);
    });
    expect(finds.map(position)).toEqual([
      { offset: 0, limit: 2, after: undefined },
      { offset: 0, limit: 2, after: [9, "v09"] },
      { offset: 0, limit: 2, after: [8, "v08"] },
    ]);
  });

  test("findPage asks one row more than the page, from the cursor's position", async () => {
    const repo = storage.repository(ConfValue);
    const page = await repo.findPage({ orderBy: { i: "asc" }, first: 3 });
    expect(page.items.map((v) => v.id)).toEqual(["v00", "v10", "v01"]);
    await repo.findPage({ orderBy: { i: "asc" }, first: 3, after: page.nextCursor });
    expect(finds.map(position)).toEqual([
      { offset: 0, limit: 4, after: undefined },
      { offset: 0, limit: 4, after: [1, "v01"] },
    ]);
  });
});

describe("findPage cursors", () => {
  let storage: Storage;
  beforeEach(async () => {
    storage = await createStorage({ url: "memory:", entities: [ConfValue] });
    const repo = storage.repository(ConfValue);
    await repo.saveMany(Array.from({ length: 6 }, (_, k) => value(`v${k}`, k, new Date(Date.UTC(2024, 0, 1, 0, 0, 0, k)))));
  });
  afterEach(async () => {
    await storage.close();
  });

  /** The cursor `cursor` with its JSON changed by `edit` and its check recomputed, as only a deliberate forger would. */
  function forge(cursor: string, edit: (json: { v: number; q: string; k: unknown[]; h: string }) => void): string {
    const json = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    edit(json);
    json.h = createHash("sha1").update(JSON.stringify([json.q, json.k])).digest("base64url").slice(0, 16);
    return Buffer.from(JSON.stringify(json)).toString("base64url");
  }

  test("dates in the position keep their millisecond: the next page starts exactly after the last row", async () => {
    const repo = storage.repository(ConfValue);
    const first = await repo.findPage({ orderBy: { d: "desc" }, first: 2 });
    const second = await repo.findPage({ orderBy: { d: "desc" }, first: 2, after: first.nextCursor });
    expect([...first.items, ...second.items].map((v) => v.id)).toEqual(["v5", "v4", "v3", "v2"]);
  });

  test("long strings, astral characters and negative zero in the position round-trip: no row repeats or is skipped", async () => {
    const repo = storage.repository(ConfValue);
    await repo.deleteMany({});
    const long = "\u{1F600}x".repeat(50_000);
    const rows = [`${long}a`, `${long}b`, `${long}\u{1F601}`, `${long}\uFFFF`, "\u2028", ""].map((s, k) => Object.assign(value(`s${k}`, null), { s, n: k % 2 === 0 ? -0 : 0 }));
    await repo.saveMany(rows);
    for (const orderBy of [{ s: "asc" }, { n: "desc", s: "desc" }] as const) {
      const walked: string[] = [];
      let after: string | null = null;
      do {
        const page: { items: ConfValue[]; nextCursor: string | null } = await repo.findPage({ orderBy, first: 1, after });
        walked.push(...page.items.map((v) => v.id));
        after = page.nextCursor;
      } while (after !== null);
      expect(walked).toEqual((await repo.findAll({ orderBy })).map((v) => v.id));
    }
  });

  test("a cursor whose values do not fit the sort columns' types is a QueryError naming the column and after", async () => {
    const repo = storage.repository(ConfValue);
    const { nextCursor } = await repo.findPage({ orderBy: { i: "asc", d: "asc" }, first: 2 });
    const cases: Array<[(k: unknown[]) => void, RegExp]> = [
      [(k) => (k[0] = "1"), /i does not fit.*expected an integer/],
      [(k) => (k[0] = 1.5), /i does not fit/],
      [(k) => (k[1] = "2024-01-01"), /d does not fit.*Date/],
      [(k) => (k[1] = 1e20), /d does not fit/],
      [(k) => (k[2] = 7), /id does not fit.*string/],
      // No row has a null primary key: no page can have ended on one.
      [(k) => (k[2] = null), /id does not fit.*primary key/],
      [(k) => k.pop(), /holds 2 sort values where this query orders by 3/],
    ];
    for (const [edit, message] of cases) {
      const forged = forge(nextCursor!, (json) => edit(json.k));
      const error = await repo.findPage({ orderBy: { i: "asc", d: "asc" }, first: 2, after: forged }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(QueryError);
      expect((error as QueryError).message).toMatch(message);
      expect((error as QueryError).field).toBe("after");
    }
    const later = forge(nextCursor!, (json) => (json.v = 2));
    await expect(repo.findPage({ orderBy: { i: "asc", d: "asc" }, first: 2, after: later })).rejects.toThrow(/version 2/);
  });

  test("a cursor is taken by the same query with its $in and $nin lists in another order (the same rows)", async () => {
    const repo = storage.repository(ConfValue);
    const first = await repo.findPage({ where: { i: { $in: [1, 3, 5, 0] }, id: { $nin: ["v9", "v0"] } }, orderBy: { i: "desc" }, first: 1 });
    expect(first.items.map((v) => v.id)).toEqual(["v5"]);
    const second = await repo.findPage({ where: { i: { $in: [0, 5, 3, 1, 3] }, id: { $nin: ["v0", "v9"] } }, orderBy: { i: "desc" }, first: 1, after: first.nextCursor });
    expect(second.items.map((v) => v.id)).toEqual(["v3"]);
  });

  test("a cursor is opaque base64url text, and null or absent means the first page", async () => {
    const repo = storage.repository(ConfValue);
    const page = await repo.findPage({ orderBy: { i: "desc" }, first: 5, after: null });
    expect(page.items.map((v) => v.id)).toEqual(["v5", "v4", "v3", "v2", "v1"]);
    expect(page.nextCursor).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  test("a backend that ignores after (written before keyset positions) is a StorageError on the second page, not an endless walk", async () => {
    const old = await createStorage({ backend: countingStore({ counts: new Map(), ignoreAfter: true, name: "oldstore" }), entities: [ConfValue], autoCreate: true, cache: false });
    try {
      const repo = old.repository(ConfValue);
      await repo.saveMany(Array.from({ length: 5 }, (_, k) => value(`w${k}`, k)));
      const seen: string[] = [];
      const walk = (async () => {
        for await (const v of repo.iterate({ orderBy: { i: "asc" } }, { pageSize: 2 })) seen.push(v.id);
      })();
      await expect(walk).rejects.toThrow(/oldstore backend .* ignores NormalizedQuery\.after/);
      expect(seen).toEqual(["w0", "w1"]);
    } finally {
      await old.close();
    }
  });
});
