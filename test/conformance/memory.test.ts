import { afterAll, beforeAll, beforeEach, describe, test } from "vitest";
import { createStorage } from "../../src/index.js";
import { runConformanceSuite } from "../../src/conformance/index.js";

runConformanceSuite({ describe, test, beforeAll, afterAll, beforeEach }, {
  name: "memory",
  open: (entities) => createStorage({ url: "memory:", entities }),
});
