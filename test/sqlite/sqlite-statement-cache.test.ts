/**
 * The SQLite connection's statement cache under a stream of distinct texts (each LIMIT is its own text, written
 * as digits): a statement that keeps running stays prepared, however many others pass through the bounded cache.
 */
import Database from "better-sqlite3";
import { describe, expect, test, vi } from "vitest";
import { SqliteConnection } from "../../src/backends/sqlite/sqlite-connection.js";

describe("sqlite: statement cache", () => {
  test("a hot statement is prepared once while 3,000 distinct queries pass through the 1,000-entry cache", () => {
    const db = new Database(":memory:");
    try {
      db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
      const connection = new SqliteConnection(db);
      const hot = "SELECT v FROM t WHERE id = ?";
      const prepare = vi.spyOn(db, "prepare");
      connection.all(hot, [1]);
      for (let limit = 1; limit <= 3000; limit++) {
        connection.all(`SELECT id FROM t ORDER BY id LIMIT ${limit}`, []);
        if (limit % 10 === 0) connection.all(hot, [limit]);
      }
      expect(prepare.mock.calls.filter(([text]) => text === hot)).toHaveLength(1);
      // The cold texts did come and go: the cache stayed bounded.
      expect(prepare.mock.calls.length).toBe(3001);
      connection.all("SELECT id FROM t ORDER BY id LIMIT 1", []);
      expect(prepare.mock.calls.length).toBe(3002);
    } finally {
      db.close();
    }
  });

  test("a full cache drops exactly one statement per new text: the first not used since the sweep passed it", () => {
    const db = new Database(":memory:");
    try {
      db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
      const connection = new SqliteConnection(db);
      const text = (n: number) => `SELECT id FROM t ORDER BY id LIMIT ${n}`;
      for (let n = 1; n <= 1000; n++) connection.all(text(n), []);
      // A text that fails to prepare takes no place in the cache and drops nothing.
      expect(() => connection.all("SELEC nothing", [])).toThrow(/syntax error/);
      connection.all(text(1), []);
      const prepare = vi.spyOn(db, "prepare");
      // Full: the new text drops one. 1 ran since it was prepared (a second chance), so 2 goes.
      connection.all("SELECT v FROM t", []);
      expect(prepare).toHaveBeenCalledTimes(1);
      for (let n = 1; n <= 1000; n++) if (n !== 2) connection.all(text(n), []);
      connection.all("SELECT v FROM t", []);
      expect(prepare).toHaveBeenCalledTimes(1);
      connection.all(text(2), []);
      expect(prepare).toHaveBeenCalledTimes(2);
      expect(prepare).toHaveBeenLastCalledWith(text(2));
    } finally {
      db.close();
    }
  });
});
