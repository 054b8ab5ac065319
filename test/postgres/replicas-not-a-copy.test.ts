/**
 * A `postgres.replicas` URL that names no copy of the primary's database: another cluster (a server that is
 * not this primary's replica), or another database of the real replica. Its answers are other data, and its
 * WAL positions are not the primary's: it must not answer reads, and reads must not fail because of it.
 */
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createStorage } from "../../src/index.js";
import type { ServerStatus } from "../../src/spi/index.js";
import { coreOf } from "../../src/storage-core.js";
import { Thing } from "../fixtures/sql-entities.js";
import { backendSelected } from "../sql/sql-backend-cases.js";
import { ReplicaTopology, replicaSkipReason } from "./replica-topology.js";

const skip = backendSelected("postgres") ? replicaSkipReason() : "BACKENDS excludes postgres";
/** Another cluster: the shared server of the other PostgreSQL tests (never this topology's replica). */
const OTHER_CLUSTER = process.env["STRATA_PG_URL"] ?? "postgres://postgres@127.0.0.1:5432/test";
let topology: ReplicaTopology;
if (!skip) {
  beforeAll(async () => {
    topology = await ReplicaTopology.create();
  });
  afterAll(async () => {
    await topology?.drop();
  });
}

describe.skipIf(skip !== undefined)("postgres: a replica URL that is no copy of the primary's database", () => {
  for (const [what, replicaOf] of [
    ["another cluster", (replicaUrl: string) => Object.assign(new URL(OTHER_CLUSTER), { search: new URL(replicaUrl).search }).href],
    ["another database of the replica", (replicaUrl: string) => Object.assign(new URL(replicaUrl), { pathname: "/test" }).href],
  ] as const) {
    test(`${what}: taken out of rotation with an error saying so; reads go to the primary and succeed`, async () => {
      const { primaryUrl, replicaUrl } = await topology.freshSchema();
      const wrong = replicaOf(replicaUrl);
      const storage = await createStorage({ url: primaryUrl, entities: [Thing], autoCreate: true, postgres: { replicas: [wrong] } });
      try {
        await topology.primary.query(`INSERT INTO "${/search_path=(\w+)/.exec(decodeURIComponent(primaryUrl))![1]}".sql_things (id, label) VALUES ('a', 'primary')`);
        // Before any write through the storage too: no read may be answered there.
        for (let i = 0; i < 3; i++) expect((await storage.repository(Thing).findById("a"))?.label).toBe("primary");
        expect(await storage.repository(Thing).count()).toBe(1);
        const [primary, replica] = (await coreOf(storage).backend.servers!()) as ServerStatus[];
        expect(replica).toMatchObject({ healthy: false, reads: 0 });
        expect(replica?.error).toMatch(/not a replica of the primary's database/);
        expect(primary?.reads).toBeGreaterThanOrEqual(4);
      } finally {
        await storage.close();
      }
    });
  }
});
