/** A backend written from the SPI docs alone (test/fixtures/tiny-backend.ts) passes both exported suites. */
import { afterAll, beforeAll, beforeEach, describe, test } from "vitest";
import { createStorage } from "../../src/index.js";
import { openBackend, runConformanceSuite, runSpiSuite } from "../../src/conformance/index.js";
import { tinyStore } from "../fixtures/tiny-backend.js";

const api = { describe, test, beforeAll, afterAll, beforeEach };
runConformanceSuite(api, { name: "tiny", open: (entities) => createStorage({ backend: tinyStore(), entities, autoCreate: true }) });
runSpiSuite(api, { name: "tiny", open: (schemas) => openBackend({ backend: tinyStore(), autoCreate: true }, schemas) });
