/**
 * Behaviour both SQL backends must show on their own database (the dialect-specific half of the
 * contract; the conformance suite covers the rest). Called by test/sqlite and test/postgres.
 */
import { describe, expect, test } from "vitest";
import type { Storage, StorageConfig } from "../../src/index.js";
import { ConcurrencyError, IntegrityError, SchemaError } from "../../src/index.js";
import { compareStrings } from "../../src/engine/compare-values.js";
import { normalizeQuery } from "../../src/query/normalize-query.js";
import { coreOf } from "../../src/storage-core.js";
import { Account, Thing } from "../fixtures/sql-entities.js";

/** Opens a storage on a fresh database of the backend under test. */
export type OpenSql = (options?: Partial<StorageConfig>) => Promise<Storage>;

const thing = (id: string, fields: Partial<Thing> = {}): Thing => ({ id, label: null, rank: null, score: null, flag: null, at: null, data: null, ...fields });

/** False when `BACKENDS=...` names other backends only (as the conformance suite does). */
export function backendSelected(backend: string): boolean {
  const only = (process.env["BACKENDS"] ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  return only.length === 0 || only.includes(backend);
}

export function sqlBackendCases(name: string, open: OpenSql): void {
  describe(`${name}: values and queries`, () => {
    test("every logical type round-trips: ms Dates, booleans, json, exact doubles, safe integers, '' apart from null", async () => {
      const storage = await open();
      try {
        const things = storage.repository(Thing);
        const at = new Date(Date.UTC(2024, 1, 29, 23, 59, 59, 123));
        const data = { nested: { list: [1, "two", null, true, { deep: [] }] }, unicode: "é😀", empty: "" };
        await things.save(thing("a", { label: "", rank: Number.MAX_SAFE_INTEGER, score: 0.1 + 0.2, flag: false, at, data }));
        await things.save(thing("b", { label: null, rank: -5, score: -1e-300, flag: true, data: "just a string" }));
        await things.save(thing("c", { data: [1, 2, 3] }));
        const a = await things.findById("a");
        expect(a).toEqual(thing("a", { label: "", rank: Number.MAX_SAFE_INTEGER, score: 0.1 + 0.2, flag: false, at, data }));
        expect(a!.at).toBeInstanceOf(Date);
        expect(a!.at!.getTime()).toBe(at.getTime());
        expect(a!.flag).toBe(false);
        const b = await things.findById("b");
        expect(b).toEqual(thing("b", { label: null, rank: -5, score: -1e-300, flag: true, data: "just a string" }));
        expect((await things.findById("c"))!.data).toEqual([1, 2, 3]);
        expect(await things.count({ label: "" })).toBe(1);
        expect(await things.count({ label: null })).toBe(2);
        expect(await things.count({ flag: false })).toBe(1);
        expect(await things.count({ at: { $lte: at } })).toBe(1);
        expect(await things.count({ at: at })).toBe(1);
      } finally {
        await storage.close();
      }
    });

    test("a page descending on a nullable column from a position with a value: the values after it, then the nulls, limit and offset over both", async () => {
      const storage = await open();
      try {
        const things = storage.repository(Thing);
        // rank 9..0 (two rows at 5), then five nulls.
        const ranks = [9, 8, 7, 6, 5, 5, 4, 3, 2, 1, 0, null, null, null, null, null];
        await things.saveMany(ranks.map((rank, i) => thing(`k${String(i).padStart(2, "0")}`, { rank })));
        const order = (await things.findAll({ orderBy: { rank: "desc" } })).map((t) => t.id);
        const core = coreOf(storage);
        const schema = core.schemaOf(Thing);
        // The SPI's find with a keyset position, as iterate and findPage ask it, and with an offset, which they never add.
        const page = async (from: number, limit: number, offset = 0) => {
          const position = (await things.findById(order[from]!))!;
          const query = { ...normalizeQuery(schema, { orderBy: { rank: "desc" }, limit, offset }), after: [position.rank, position.id] };
          return (await core.backend.session.find(schema, query)).map((r) => r["id"]);
        };
        expect(await page(4, 3)).toEqual(order.slice(5, 8)); // within the values
        expect(await page(7, 6)).toEqual(order.slice(8, 14)); // the values end within the page: the nulls follow
        expect(await page(7, 3, 2)).toEqual(order.slice(10, 13)); // the offset skips values, the limit reaches the nulls
        expect(await page(7, 4, 4)).toEqual(order.slice(12, 16)); // the offset skips past every value
        expect(await page(9, 20)).toEqual(order.slice(10)); // the last value: the nulls, and the walk ends
        expect(await page(0, 2, 30)).toEqual([]);
      } finally {
        await storage.close();
      }
    });

    test("strings sort by code point, nulls first ascending and last descending, key last", async () => {
      const storage = await open();
      try {
        const things = storage.repository(Thing);
        const labels = ["b", "B", "a", "é", "e", "\u{1F600}", "\uFFFD", "Z", "aa", ""];
        await things.saveMany(labels.map((label, i) => thing(`k${i}`, { label })));
        await things.save(thing("n1"));
        await things.save(thing("n0"));
        const sorted = [...labels].sort(compareStrings);
        const asc = await things.findAll({ orderBy: { label: "asc" } });
        expect(asc.map((t) => t.label)).toEqual([null, null, ...sorted]);
        expect(asc.slice(0, 2).map((t) => t.id)).toEqual(["n0", "n1"]);
        const desc = await things.findAll({ orderBy: { label: "desc" } });
        expect(desc.map((t) => t.label)).toEqual([...sorted.reverse(), null, null]);
        expect(await things.count({ label: { $gt: "Z" } })).toBe(labels.filter((l) => compareStrings(l, "Z") > 0).length);
        const page = await things.findAll({ orderBy: { label: "asc" }, limit: 3, offset: 2 });
        expect(page.map((t) => t.label)).toEqual(sorted.reverse().slice(0, 3));
      } finally {
        await storage.close();
      }
    });

    test("$like is case-sensitive, $ilike folds ASCII only, and pattern characters other than % and _ are literal", async () => {
      const storage = await open();
      try {
        const things = storage.repository(Thing);
        const labels = ["Apple", "apple", "APPLE pie", "Élan", "élan", "a*b", "a?b", "a[b]", "a\\b", "a%b", "axb", "日本語"];
        await things.saveMany(labels.map((label, i) => thing(`k${i}`, { label })));
        const like = async (pattern: string) => (await things.findAll({ where: { label: { $like: pattern } } })).map((t) => t.label).sort();
        const ilike = async (pattern: string) => (await things.findAll({ where: { label: { $ilike: pattern } } })).map((t) => t.label).sort();
        expect(await like("app%")).toEqual(["apple"]);
        expect(await like("%pie")).toEqual(["APPLE pie"]);
        expect(await ilike("app%")).toEqual(["APPLE pie", "Apple", "apple"].sort());
        expect(await ilike("élan")).toEqual(["élan"]);
        expect(await like("a*b")).toEqual(["a*b"]);
        expect(await like("a?b")).toEqual(["a?b"]);
        expect(await like("a[b]")).toEqual(["a[b]"]);
        expect(await like("a\\b")).toEqual(["a\\b"]);
        expect(await like("a_b")).toEqual(["a%b", "a*b", "a?b", "a\\b", "axb"].sort());
        expect(await like("日_語")).toEqual(["日本語"]);
        expect(await ilike("A_B")).toEqual(["a%b", "a*b", "a?b", "a\\b", "axb"].sort());
      } finally {
        await storage.close();
      }
    });

    test("$ne and $nin match null, $in with null, comparisons never match null, long $in lists work", async () => {
      const storage = await open();
      try {
        const things = storage.repository(Thing);
        await things.saveMany([thing("a", { rank: 1 }), thing("b", { rank: 2 }), thing("c")]);
        const ids = async (where: object) => (await things.findAll({ where: where as never })).map((t) => t.id).sort();
        expect(await ids({ rank: { $ne: 1 } })).toEqual(["b", "c"]);
        expect(await ids({ rank: { $nin: [1] } })).toEqual(["b", "c"]);
        expect(await ids({ rank: { $nin: [1, null] } })).toEqual(["b"]);
        expect(await ids({ rank: { $in: [2, null] } })).toEqual(["b", "c"]);
        expect(await ids({ rank: { $in: [] } })).toEqual([]);
        expect(await ids({ rank: { $nin: [] } })).toEqual(["a", "b", "c"]);
        expect(await ids({ rank: { $lt: 5 } })).toEqual(["a", "b"]);
        expect(await ids([{ rank: 1 }, { id: "c" }])).toEqual(["a", "c"]);
        expect(await ids([{ rank: 1 }, {}])).toEqual(["a", "b", "c"]);
        expect(await ids([])).toEqual([]);
        const many = Array.from({ length: 40_000 }, (_, i) => i + 10);
        expect(await ids({ rank: { $in: [...many, 2] } })).toEqual(["b"]);
        expect(await ids({ rank: { $nin: many } })).toEqual(["a", "b", "c"]);
        const found = await things.findByIds(["c", "zz", "a", ...many.map(String)]);
        expect(found.map((t) => t.id)).toEqual(["c", "a"]);
        expect(await things.deleteMany({ rank: { $ne: 2 } })).toBe(2);
        expect(await things.count()).toBe(1);
      } finally {
        await storage.close();
      }
    });
  });

  describe(`${name}: writes and errors`, () => {
    test("duplicate keys and unique values are IntegrityErrors naming table and field, with the driver error as cause", async () => {
      const storage = await open();
      try {
        const accounts = storage.repository(Account);
        const things = storage.repository(Thing);
        const first = await accounts.insert({ email: "a@x", balance: 1 } as Account);
        expect(first.id).toBeTypeOf("number");
        const dupEmail = await accounts.insert({ email: "a@x", balance: 2 } as Account).catch((e: unknown) => e);
        expect(dupEmail).toBeInstanceOf(IntegrityError);
        expect(dupEmail).toMatchObject({ table: "sql_accounts", field: "email" });
        expect((dupEmail as Error).cause).toBeInstanceOf(Error);
        await things.insert(thing("x"));
        const dupKey = await things.insert(thing("x")).catch((e: unknown) => e);
        expect(dupKey).toBeInstanceOf(IntegrityError);
        expect(dupKey).toMatchObject({ table: "sql_things", field: "id" });
        expect(await accounts.count()).toBe(1);
      } finally {
        await storage.close();
      }
    });

    test("save replaces the row, keeps the create date and bumps the version; a stale version is a ConcurrencyError", async () => {
      const storage = await open();
      try {
        const accounts = storage.repository(Account);
        const a = await accounts.save({ email: "v@x", balance: 10 } as Account);
        expect(a.version).toBe(1);
        const b = await accounts.save({ ...a, balance: 20 });
        expect(b).toMatchObject({ id: a.id, balance: 20, version: 2 });
        expect(b.createdAt.getTime()).toBe(a.createdAt.getTime());
        await expect(accounts.save({ ...a, balance: 30 })).rejects.toBeInstanceOf(ConcurrencyError);
        await expect(accounts.update(a.id, { balance: 40, version: 1 })).rejects.toBeInstanceOf(ConcurrencyError);
        const c = await accounts.update(a.id, { balance: 50, version: 2 });
        expect(c).toMatchObject({ balance: 50, version: 3 });
        expect(await accounts.findById(a.id)).toEqual(c);
      } finally {
        await storage.close();
      }
    });

    test("saveMany writes chunks of generated and given keys in order, and a repeated key ends as its last value", async () => {
      const storage = await open();
      try {
        const accounts = storage.repository(Account);
        const result = await accounts.saveMany(Array.from({ length: 1200 }, (_, i) => ({ email: `u${i}@x`, balance: i }) as Account));
        expect(result).toMatchObject({ total: 1200, succeeded: 1200, failed: 0 });
        const all = await accounts.findAll({ orderBy: { id: "asc" } });
        expect(all.map((a) => a.balance)).toEqual(Array.from({ length: 1200 }, (_, i) => i));
        const things = storage.repository(Thing);
        await things.saveMany([thing("r", { rank: 1 }), thing("s", { rank: 2 }), thing("r", { rank: 3 })]);
        expect((await things.findById("r"))!.rank).toBe(3);
        const failed = await accounts.saveMany([{ email: "new@x", balance: 0 } as Account, { email: "u5@x", balance: 0 } as Account]).catch((e: unknown) => e);
        expect(failed).toBeInstanceOf(IntegrityError);
        expect(await accounts.count()).toBe(1200);
      } finally {
        await storage.close();
      }
    });

    test("a generated key never collides with a key given explicitly before", async () => {
      const storage = await open();
      try {
        const accounts = storage.repository(Account);
        await accounts.save({ id: 5, email: "five@x", balance: 0 } as Account);
        await accounts.saveMany([{ id: 9, email: "nine@x", balance: 0 } as Account]);
        const generated = await accounts.insert({ email: "gen@x", balance: 0 } as Account);
        expect(generated.id).toBeGreaterThan(9);
        const next = await accounts.save({ email: "gen2@x", balance: 0 } as Account);
        expect(next.id).toBeGreaterThan(generated.id);
        expect(await accounts.count()).toBe(4);
      } finally {
        await storage.close();
      }
    });

    test("reads outside a transaction never see its uncommitted rows", async () => {
      const storage = await open();
      try {
        const things = storage.repository(Thing);
        let inside!: () => void;
        const written = new Promise<void>((resolve) => (inside = resolve));
        let finish!: () => void;
        const hold = new Promise<void>((resolve) => (finish = resolve));
        const tx = storage.transaction(async () => {
          await things.save(thing("t", { label: "uncommitted" }));
          inside();
          await hold;
        });
        await written;
        expect(await things.findById("t")).toBeNull();
        expect(await things.count()).toBe(0);
        finish();
        await tx;
        expect((await things.findById("t"))!.label).toBe("uncommitted");
      } finally {
        await storage.close();
      }
    });

    test("a nested transaction is a savepoint: its rollback keeps the outer writes", async () => {
      const storage = await open();
      try {
        const things = storage.repository(Thing);
        await storage.transaction(async () => {
          await things.save(thing("outer"));
          await expect(
            storage.transaction(async () => {
              await things.save(thing("inner"));
              throw new Error("inner fails");
            }),
          ).rejects.toThrow("inner fails");
          await things.save(thing("after"));
        });
        expect((await things.findAll()).map((t) => t.id).sort()).toEqual(["after", "outer"]);
      } finally {
        await storage.close();
      }
    });

    test("without autoCreate a missing table is a SchemaError naming it", async () => {
      const storage = await open({ autoCreate: false });
      try {
        const error = await storage.repository(Thing).findById("a").catch((e: unknown) => e);
        expect(error).toBeInstanceOf(SchemaError);
        expect((error as Error).message).toContain('"sql_things"');
        expect((error as Error).message).toContain("autoCreate");
      } finally {
        await storage.close();
      }
    });
  });
}
