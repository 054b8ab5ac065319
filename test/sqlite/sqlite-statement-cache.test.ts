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
});
