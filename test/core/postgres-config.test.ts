import { describe, expect, test } from "vitest";
import { Task } from "../../entities/index.js";
import { DEFAULT_MAX_REPLICA_LAG_MS, resolveConfig } from "../../src/config/storage-config.js";
import { configError } from "../support/config-error.js";

const PRIMARY = "postgres://app@127.0.0.1:6432/app";
const known = (): boolean => true;

describe("createStorage configuration: postgres (replicas, pooler, directUrl)", () => {
  test("defaults: no replicas, 1000 ms of replica lag waited for, no pooler, no directUrl", () => {
    const config = resolveConfig({ url: PRIMARY }, known);
    expect(config.postgres).toEqual({ replicas: [], maxReplicaLagMs: 1000 });
    expect(DEFAULT_MAX_REPLICA_LAG_MS).toBe(1000);
  });

  test("given values reach the backend's configuration as given", () => {
    const postgres = { replicas: ["postgres://app@replica-1/app", "postgresql://app@replica-2:5433/app"], maxReplicaLagMs: 0, pooler: "pgbouncer", directUrl: "postgres://app@127.0.0.1:5432/app" };
    expect(resolveConfig({ url: PRIMARY, postgres }, known).postgres).toEqual(postgres);
  });

  test("directUrl without a pooler is accepted (migrations and their lock use it)", () => {
    const config = resolveConfig({ url: PRIMARY, postgres: { directUrl: "postgres://app@10.0.0.5/app" } }, known);
    expect(config.postgres).toEqual({ replicas: [], maxReplicaLagMs: 1000, directUrl: "postgres://app@10.0.0.5/app" });
  });

  test("each bad field is a ConfigError naming it, all in one", async () => {
    const error = await configError({
      url: PRIMARY,
      entities: [Task],
      postgres: { replicas: ["mysql://replica/app", 5], maxReplicaLagMs: -1, pooler: "pgcat", directUrl: "sqlite:./x.db", readFrom: "replica" },
    });
    expect(error.issues).toEqual(
      expect.arrayContaining([
        'postgres.replicas.0: expected a postgres:// URL such as "postgres://user@host:5432/db", got the string "mysql://replica/app"',
        expect.stringMatching(/^postgres\.replicas\.1: expected a postgres:\/\/ URL, got the number 5/),
        "postgres.maxReplicaLagMs: expected a non-negative integer, got the number -1",
        expect.stringMatching(/^postgres\.pooler: expected one of "pgbouncer", got the string "pgcat"/),
        expect.stringMatching(/^postgres\.directUrl: expected a postgres:\/\/ URL/),
        "postgres.readFrom: unknown option",
      ]),
    );
  });

  test("a lag a timer cannot wait, or a fraction, is refused", async () => {
    for (const maxReplicaLagMs of [2 ** 31, 1.5, "1000"]) {
      const error = await configError({ url: PRIMARY, postgres: { maxReplicaLagMs } });
      expect(error.issues).toEqual([expect.stringMatching(/^postgres\.maxReplicaLagMs: expected /)]);
    }
  });

  test("postgres given to a backend that is not PostgreSQL is a ConfigError", async () => {
    const error = await configError({ url: "sqlite::memory:", postgres: { pooler: "pgbouncer" } });
    expect(error.issues).toEqual([expect.stringMatching(/^postgres: only the postgres backend reads it, and this storage's backend is sqlite/)]);
  });
});
