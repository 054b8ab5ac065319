import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, test } from "vitest";
import { createStorage } from "../../src/index.js";
import { openBackend, runConformanceSuite, runSpiSuite } from "../../src/conformance/index.js";

const dir = mkdtempSync(path.join(tmpdir(), "strata-conf-sqlite-"));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

runConformanceSuite({ describe, test, beforeAll, afterAll, beforeEach }, {
  name: "sqlite",
  open: (entities) => createStorage({ url: `sqlite:${path.join(dir, `conf${++n}.db`)}`, entities, autoCreate: true }),
});

runConformanceSuite({ describe, test, beforeAll, afterAll, beforeEach }, {
  name: "sqlite-memory",
  open: (entities) => createStorage({ url: "sqlite::memory:", entities, autoCreate: true }),
});

runSpiSuite({ describe, test, beforeAll, afterAll, beforeEach }, {
  name: "sqlite",
  open: (schemas) => openBackend({ url: `sqlite:${path.join(dir, `spi${++n}.db`)}`, autoCreate: true }, schemas),
});
