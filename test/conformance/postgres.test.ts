import { afterAll, beforeAll, beforeEach, describe, test } from "vitest";
import { createStorage } from "../../src/index.js";
import { openBackend, runConformanceSuite, runSpiSuite } from "../../src/conformance/index.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "../postgres/pg-test-database.js";

const skip = pgSkipReason();
if (skip) {
  describe("postgres: conformance", () => test.skip(skip, () => {}));
} else {
  let db: PgTestDatabase | undefined;
  beforeAll(async () => {
    db = await PgTestDatabase.create(PG_URL!);
  });
  afterAll(async () => {
    await db?.drop();
  });
  runConformanceSuite({ describe, test, beforeAll, afterAll, beforeEach }, {
    name: "postgres",
    // Each group gets its own schema of this run's database.
    open: async (entities) => createStorage({ url: await db!.freshSchemaUrl(), entities, autoCreate: true }),
  });
  runSpiSuite({ describe, test, beforeAll, afterAll, beforeEach }, {
    name: "postgres",
    open: async (schemas) => openBackend({ url: await db!.freshSchemaUrl(), autoCreate: true }, schemas),
  });
}
