/** Hostile review of `strata backup create`: a mistyped database and a bad --keep. */
import "reflect-metadata";
import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { strata } from "./cli-run.js";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "strata-rv-backup-cli-"));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("strata backup create", () => {
  for (const kind of ["sqlite", "file"] as const) {
    test(`${kind}: a database that does not exist (a mistyped --url) is refused, and none is made`, async () => {
      const location = path.join(dir, kind === "sqlite" ? "typo.db" : "typo");
      const result = await strata(["backup", "create", "--url", `${kind}:${location}`]);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(location);
      expect(fs.readdirSync(dir)).toEqual([]);
    });
  }

  test("--keep that is not a positive integer says so (not 'a version number')", async () => {
    fs.writeFileSync(path.join(dir, "app.db"), "");
    for (const keep of ["0", "-1", "1.5", "abc"]) {
      const result = await strata(["backup", "create", "--keep", keep, "--url", `sqlite:${path.join(dir, "app.db")}`]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/--keep.*expected a positive integer/);
      expect(result.stderr).not.toMatch(/version/);
    }
    expect(fs.existsSync(path.join(dir, "app.db.backups"))).toBe(false);
  });

  test("list with --dir naming a file: a typed error naming it, not a raw ENOTDIR", async () => {
    fs.writeFileSync(path.join(dir, "app.db"), "");
    fs.writeFileSync(path.join(dir, "not-a-dir"), "x");
    const result = await strata(["backup", "list", "--dir", path.join(dir, "not-a-dir"), "--url", `sqlite:${path.join(dir, "app.db")}`]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).not.toMatch(/ENOTDIR/);
    expect(result.stderr).toMatch(/ConfigError|Invalid storage configuration/);
    expect(result.stderr).toContain(path.join(dir, "not-a-dir"));
  });
});
