/**
 * `strata doctor` with the `postgres` option of strata.config.json (or --direct-url): the servers it
 * checks and how it reaches them are the storage's, as for `strata migrate`.
 */
import "reflect-metadata";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { strata } from "../backup/cli-run.js";
import { PGBOUNCER_URL, pgbouncerSkipReason } from "./pgbouncer-test-databases.js";
import { PRIMARY_URL, REPLICA_URL, replicaSkipReason } from "./replica-topology.js";

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** A strata.config.json of `config` in a fresh directory: its path. */
function configFile(config: unknown): string {
  dir = mkdtempSync(path.join(tmpdir(), "strata-doctor-"));
  const file = path.join(dir, "strata.config.json");
  writeFileSync(file, JSON.stringify(config));
  return file;
}

describe.skipIf(pgbouncerSkipReason() !== undefined)("postgres: strata doctor through PgBouncer", () => {
  test("pooler from strata.config.json: the primary is reached through PgBouncer (no startup options) and healthy", async () => {
    const file = configFile({ url: PGBOUNCER_URL, postgres: { pooler: "pgbouncer" } });
    const result = await strata(["doctor", "--config", file, "--json"]);
    expect(result.stderr).toBe("");
    expect(JSON.parse(result.stdout)).toEqual([expect.objectContaining({ role: "primary", healthy: true })]);
    expect(result.code).toBe(0);
  });
});

describe.skipIf(replicaSkipReason() !== undefined)("postgres: strata doctor with replicas in strata.config.json", () => {
  test("the replicas of the config file are checked, beside those given with --replica", async () => {
    const file = configFile({ url: PRIMARY_URL, postgres: { replicas: [REPLICA_URL] } });
    const result = await strata(["doctor", "--config", file, "--json"]);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as Array<Record<string, unknown>>;
    expect(report.map((s) => [s["role"], s["healthy"]])).toEqual([["primary", true], ["replica", true]]);
  });
});
