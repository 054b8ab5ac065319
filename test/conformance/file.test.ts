import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, test } from "vitest";
import { createStorage } from "../../src/index.js";
import { openBackend, runConformanceSuite, runSpiSuite } from "../../src/conformance/index.js";

const dirs: string[] = [];

runConformanceSuite({ describe, test, beforeAll, afterAll, beforeEach }, {
  name: "file",
  open: (entities) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "strata-conformance-file-"));
    dirs.push(dir);
    return createStorage({ url: `file:${dir}`, entities, autoCreate: true });
  },
  cleanup: async () => {
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  },
});

runSpiSuite({ describe, test, beforeAll, afterAll, beforeEach }, {
  name: "file",
  open: (schemas) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "strata-spi-file-"));
    dirs.push(dir);
    return openBackend({ url: `file:${dir}`, autoCreate: true }, schemas);
  },
  cleanup: async () => {
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  },
});
