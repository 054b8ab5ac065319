/**
 * scripts/pg-replica.sh as two users of one machine run it (CI and a developer, two CI runs): each start
 * gets servers of its own, and each stop ends only its own. Needs root or the postgres user and Debian's
 * PostgreSQL 15 binaries; skips, saying why, without them.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { userInfo } from "node:os";
import { promisify } from "node:util";
import pg from "pg";
import { describe, expect, test } from "vitest";

const run = promisify(execFile);
const SCRIPT = new URL("../../scripts/pg-replica.sh", import.meta.url).pathname;
const BIN = process.env["PG_BIN"] ?? "/usr/lib/postgresql/15/bin";
const skip = !existsSync(`${BIN}/initdb`)
  ? `no PostgreSQL binaries in ${BIN}`
  : userInfo().uid !== 0 && userInfo().username !== "postgres"
    ? "pg-replica.sh needs root or the postgres user"
    : undefined;
if (skip) console.warn(`pg-replica.sh tests skipped: ${skip}`);

/** The variables one `start` exports, as its own shell would hold them after `eval`. */
async function start(env: NodeJS.ProcessEnv): Promise<Record<string, string>> {
  const { stdout } = await run("bash", [SCRIPT, "start"], { env });
  const vars: Record<string, string> = {};
  for (const [, name, value] of stdout.matchAll(/export (\w+)='?([^'\n]*)'?/g)) vars[name!] = value!;
  return vars;
}

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

describe.skipIf(skip !== undefined)("scripts/pg-replica.sh", () => {
  test("two users starting it without STRATA_PG_REPLICA_STATE get two topologies; one stop leaves the other running", async () => {
    // Each as from a fresh shell: no state variable of a previous run.
    const base = { ...process.env };
    delete base["STRATA_PG_REPLICA_STATE"];
    const first = await start(base);
    let second: Record<string, string> | undefined;
    try {
      second = await start(base);
      expect(second["STRATA_PG_PRIMARY_URL"]).not.toBe(first["STRATA_PG_PRIMARY_URL"]);
      await run("bash", [SCRIPT, "stop"], { env: { ...base, ...second } });
      expect(await answers(first["STRATA_PG_PRIMARY_URL"]!)).toBe(true);
      expect(await answers(first["STRATA_PG_REPLICA_URL"]!)).toBe(true);
      expect(await answers(second["STRATA_PG_PRIMARY_URL"]!)).toBe(false);
    } finally {
      if (second) await run("bash", [SCRIPT, "stop"], { env: { ...base, ...second } }).catch(() => {});
      await run("bash", [SCRIPT, "stop"], { env: { ...base, ...first } });
    }
    expect(await answers(first["STRATA_PG_PRIMARY_URL"]!)).toBe(false);
    // Nothing of either left in /tmp.
    const dirs = [first, second].map((vars) => vars?.["STRATA_PG_REPLICA_CTL"]?.split("|")[1]?.replace(/\/replica$/, ""));
    for (const dir of dirs) expect(dir && existsSync(dir)).toBe(false);
  }, 120_000);
});
