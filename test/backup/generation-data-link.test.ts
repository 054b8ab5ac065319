/**
 * A generation whose `data` is itself a symbolic link (to a directory holding the very files its manifest
 * lists): its checksums pass, but a restore would read files outside the generation, which may change between
 * the check and the copy. Like a link inside the data, it is refused.
 */
import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { createGeneration, verifyGeneration } from "../../src/backup/backup-generations.js";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "strata-data-link-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("a generation whose data is a link", () => {
  test("is refused by the check before a restore", async () => {
    const made = await createGeneration(path.join(dir, "generations"), {
      reason: "manual",
      backend: "file",
      dataName: "data",
      write: (dataPath) => {
        fs.mkdirSync(dataPath);
        fs.writeFileSync(path.join(dataPath, "catalog.json"), "{}");
      },
    });
    const elsewhere = path.join(dir, "elsewhere");
    fs.cpSync(made.dataPath, elsewhere, { recursive: true });
    fs.rmSync(made.dataPath, { recursive: true });
    fs.symlinkSync(elsewhere, made.dataPath);
    await expect(verifyGeneration(made)).rejects.toThrow(/not a regular|link/);
  });
});
