/**
 * Read replicas with the primary behind PgBouncer in transaction pooling (`pooler: "pgbouncer"`): the
 * commit's position comes back through the pooler (COMMIT and the position query in one simple query,
 * so on one server connection), the position of a single write is asked through it unnamed, and reads still
 * find their own writes. A PgBouncer of the test's own (scripts/pgbouncer.sh) fronts the replica topology's
 * primary (scripts/pg-replica.sh); without either the tests skip, saying why.
 */
import "reflect-metadata";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createStorage } from "../../src/index.js";
import { coreOf } from "../../src/storage-core.js";
import { Counter } from "../fixtures/sql-entities.js";
import { backendSelected } from "../sql/sql-backend-cases.js";
import { REQUIRE } from "./pg-test-database.js";
import { PRIMARY_URL, REPLICA_URL, ReplicaTopology, replicaSkipReason } from "./replica-topology.js";

const run = promisify(execFile);
const skip = backendSelected("postgres") ? replicaSkipReason() : "BACKENDS excludes postgres";
let topology: ReplicaTopology;
/** The PgBouncer's URL and directory, or why there is none. */
let bouncer: { url: string; dir: string } | string = "not started";

if (!skip) {
  beforeAll(async () => {
    topology = await ReplicaTopology.create();
    try {
      const { stdout } = await run("scripts/pgbouncer.sh", ["start"], { env: { ...process.env, STRATA_PG_URL: PRIMARY_URL } });
      const url = /STRATA_PGBOUNCER_URL=(\S+)/.exec(stdout)?.[1];
      const dir = /STRATA_PGBOUNCER_DIR=(\S+)/.exec(stdout)?.[1];
      if (!url || !dir) throw new Error(`scripts/pgbouncer.sh printed no URL: ${stdout}`);
      bouncer = { url, dir };
    } catch (error) {
      if (REQUIRE) throw error;
      bouncer = `PgBouncer could not be started (${(error as Error).message.split("\n")[0]})`;
      console.warn(`read replicas behind PgBouncer skipped: ${bouncer}`);
    }
  });
  afterAll(async () => {
    if (typeof bouncer === "object") await run("scripts/pgbouncer.sh", ["stop"], { env: { ...process.env, STRATA_PGBOUNCER_DIR: bouncer.dir } });
    await topology?.drop();
  });
}

/** `base` on this run's database. */
function onDatabase(base: string): string {
  const url = new URL(base);
  url.pathname = `/${topology.database}`;
  return url.href;
}

describe.skipIf(skip !== undefined)("postgres: read replicas behind PgBouncer", () => {
  test("100 concurrent write-then-read flows through the pooler never read an older state than their own write", async (context) => {
    if (typeof bouncer === "string") return context.skip(bouncer);
    // Behind the pooler the URL carries no options (no search_path): the database's public schema.
    const storage = await createStorage({
      url: onDatabase(bouncer.url),
      entities: [Counter],
      autoCreate: true,
      postgres: { pooler: "pgbouncer", directUrl: onDatabase(PRIMARY_URL!), replicas: [onDatabase(REPLICA_URL!)] },
    });
    const counters = storage.repository(Counter);
    try {
      let stale = 0;
      for (let round = 1; round <= 3; round++) {
        await Promise.all(
          Array.from({ length: 100 }, async (_, i) => {
            const name = `c${i}`;
            if (i % 2 === 0) await counters.save({ name, value: round });
            else await storage.transaction(async () => counters.save({ name, value: round }));
            if ((await counters.findById(name))?.value !== round) stale++;
          }),
        );
      }
      expect(stale).toBe(0);
      const [primary, replica] = await coreOf(storage).backend.servers!();
      expect(primary).toMatchObject({ role: "primary", healthy: true });
      expect(replica).toMatchObject({ role: "replica", healthy: true });
      expect(replica!.reads).toBeGreaterThan(0);
    } finally {
      await storage.close();
    }
  });
});
