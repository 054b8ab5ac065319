/** `strata doctor` on a store that is one server (the read-replica cases are in test/postgres/replicas.test.ts). */
import { describe, expect, test } from "vitest";
import { strata } from "../backup/cli-run.js";

describe("strata doctor", () => {
  test("a memory storage is one healthy primary", async () => {
    const result = await strata(["doctor", "--url", "memory:", "--json"]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual([{ server: "memory", role: "primary", healthy: true, lagBytes: null, lagMs: null, error: null }]);
  });

  test("--replica on a backend other than postgres is a configuration error (exit 2) naming the option", async () => {
    const result = await strata(["doctor", "--url", "memory:", "--replica", "postgres://postgres@127.0.0.1:1/none"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/postgres: only the postgres backend reads it/);
  });
});
