import { afterAll, beforeAll, beforeEach, describe, test } from "vitest";
import { createStorage } from "../../src/index.js";
import { openBackend, runConformanceSuite, runSpiSuite } from "../../src/conformance/index.js";

runConformanceSuite({ describe, test, beforeAll, afterAll, beforeEach }, {
  name: "memory",
  open: (entities) => createStorage({ url: "memory:", entities }),
});

runSpiSuite({ describe, test, beforeAll, afterAll, beforeEach }, {
  name: "memory",
  open: (schemas) => openBackend({ url: "memory:" }, schemas),
});
