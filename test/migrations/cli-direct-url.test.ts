import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { resolveCliSettings } from "../../src/cli/cli-config.js";

describe("strata CLI: --direct-url (PostgreSQL behind PgBouncer)", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "strata-cli-direct-"));
    vi.stubEnv("STRATA_DIRECT_URL", "");
  });
  afterEach(() => {
    vi.unstubAllEnvs();
    rmSync(dir, { recursive: true, force: true });
  });

  test("--direct-url becomes postgres.directUrl, with pooler mode on the url", async () => {
    const settings = await resolveCliSettings({ url: "postgres://app@pgbouncer:6432/app", directUrl: "postgres://app@primary:5432/app" }, dir);
    expect(settings.postgres).toEqual({ pooler: "pgbouncer", directUrl: "postgres://app@primary:5432/app" });
  });

  test("STRATA_DIRECT_URL does the same; the flag wins over it", async () => {
    vi.stubEnv("STRATA_DIRECT_URL", "postgres://app@from-env/app");
    expect((await resolveCliSettings({ url: "postgres://app@pgbouncer/app" }, dir)).postgres).toEqual({ pooler: "pgbouncer", directUrl: "postgres://app@from-env/app" });
    expect((await resolveCliSettings({ url: "postgres://app@pgbouncer/app", directUrl: "postgres://app@flag/app" }, dir)).postgres?.directUrl).toBe("postgres://app@flag/app");
  });

  test("the config file's postgres option is used as given, its directUrl replaced by the flag", async () => {
    writeFileSync(path.join(dir, "strata.config.json"), JSON.stringify({ url: "postgres://app@pgbouncer/app", postgres: { pooler: "pgbouncer", directUrl: "postgres://app@file/app" } }));
    expect((await resolveCliSettings({}, dir)).postgres).toEqual({ pooler: "pgbouncer", directUrl: "postgres://app@file/app" });
    expect((await resolveCliSettings({ directUrl: "postgres://app@flag/app" }, dir)).postgres).toEqual({ pooler: "pgbouncer", directUrl: "postgres://app@flag/app" });
  });

  test("without a direct URL anywhere, no postgres option", async () => {
    expect((await resolveCliSettings({ url: "postgres://app@db/app" }, dir)).postgres).toBeUndefined();
  });
});
