/**
 * The conformance suite on PostgreSQL with a read replica configured (scripts/pg-replica.sh): every read
 * outside a transaction goes to the replica, so each group also checks that the storage reads its own writes.
 */
import { afterAll, beforeAll, beforeEach, describe, test } from "vitest";
import { createStorage } from "../../src/index.js";
import { runConformanceSuite } from "../../src/conformance/index.js";
import { backendSelected } from "../sql/sql-backend-cases.js";
import { ReplicaTopology, replicaSkipReason } from "../postgres/replica-topology.js";

const skip = backendSelected("postgres") ? replicaSkipReason() : "BACKENDS excludes postgres";
if (skip) {
  describe("postgres-replicas: conformance", () => test.skip(skip, () => {}));
} else {
  let topology: ReplicaTopology | undefined;
  beforeAll(async () => {
    topology = await ReplicaTopology.create();
  });
  afterAll(async () => {
    await topology?.drop();
  });
  runConformanceSuite({ describe, test, beforeAll, afterAll, beforeEach }, {
    name: "postgres-replicas",
    // Each group gets its own schema of this run's database, on the primary and (replayed) on the replica.
    open: async (entities) => {
      const { primaryUrl, replicaUrl } = await topology!.freshSchema();
      return createStorage({ url: primaryUrl, entities, autoCreate: true, postgres: { replicas: [replicaUrl] } });
    },
  });
}
