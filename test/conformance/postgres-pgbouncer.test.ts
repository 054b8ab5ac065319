import { afterAll, beforeAll, beforeEach, describe, test } from "vitest";
import { createStorage } from "../../src/index.js";
import { openBackend, runConformanceSuite, runSpiSuite } from "../../src/conformance/index.js";
import { PgBouncerDatabases, pgbouncerSkipReason } from "../postgres/pgbouncer-test-databases.js";

// The whole PostgreSQL conformance suite again, every statement through PgBouncer in transaction pooling,
// migrations and the migration lock on the server itself (directUrl).
const skip = pgbouncerSkipReason();
if (skip) {
  describe("postgres-pgbouncer: conformance", () => test.skip(skip, () => {}));
} else {
  const databases = new PgBouncerDatabases();
  afterAll(async () => {
    await databases.dropAll();
  });
  const config = async () => {
    const { pooledUrl, directUrl } = await databases.create();
    return { url: pooledUrl, autoCreate: true, postgres: { pooler: "pgbouncer" as const, directUrl } };
  };
  runConformanceSuite({ describe, test, beforeAll, afterAll, beforeEach }, {
    name: "postgres-pgbouncer",
    open: async (entities) => createStorage({ ...(await config()), entities }),
  });
  runSpiSuite({ describe, test, beforeAll, afterAll, beforeEach }, {
    name: "postgres-pgbouncer",
    open: async (schemas) => openBackend(await config(), schemas),
  });
}
