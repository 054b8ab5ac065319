/**
 * A backend written outside Strata (test/fixtures/counting-backend.ts: the memory backend wrapped through
 * the SPI, with typed options of its own) passes both exported suites, given to `createStorage` as a
 * factory of its options and as an open instance.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { createStorage, readEntitySchema } from "../../src/index.js";
import { openBackend, runConformanceSuite, runSpiSuite } from "../../src/conformance/index.js";
import { joinTablesOf } from "../../src/schema/read-relations.js";
import { countingStore } from "../fixtures/counting-backend.js";

const counts = new Map<string, number>();

runConformanceSuite({ describe, test, beforeAll, afterAll, beforeEach }, {
  name: "counting-factory",
  open: (entities) => createStorage({ backend: countingStore({ counts, name: "counting-factory" }), entities, autoCreate: true }),
});

runConformanceSuite({ describe, test, beforeAll, afterAll, beforeEach }, {
  name: "counting-instance",
  open: async (entities) => {
    // The join tables of many-to-many relations too, as createStorage would give them.
    const schemas = entities.map(readEntitySchema);
    const instance = await openBackend({ backend: countingStore({ counts }), autoCreate: true }, [...schemas, ...joinTablesOf(schemas)]);
    return createStorage({ backend: instance, entities });
  },
});

runSpiSuite({ describe, test, beforeAll, afterAll, beforeEach }, {
  name: "counting-factory",
  open: (schemas) => openBackend({ backend: countingStore({ counts }), autoCreate: true }, schemas),
});

describe("counting: the suites went through the third-party backend", () => {
  // Registered last, so it runs after the groups above (vitest runs a file's tests in order).
  test("its counters saw the data calls and transactions", () => {
    if (process.env["BACKENDS"]) return;
    for (const method of ["find", "insert", "begin", "commit", "rollback"]) expect(counts.get(method) ?? 0).toBeGreaterThan(0);
  });
});
