import { describe, expect, test } from "vitest";
import { Task } from "../../entities/index.js";
import { configError } from "../support/config-error.js";

describe("backup configuration", () => {
  test("postgres: backup.enabled is a ConfigError at createStorage naming pg_dump, pg_basebackup and continuous archiving", async () => {
    // Refused while the config is read, before any connection: no server is needed for this.
    for (const url of ["postgres://postgres@127.0.0.1:5432/test", "postgresql://postgres@127.0.0.1:5432/test"]) {
      const error = await configError({ url, entities: [Task], backup: { enabled: true } });
      expect(error.issues).toHaveLength(1);
      expect(error.issues[0]).toMatch(/^backup\.enabled: /);
      expect(error.message).toContain("pg_dump");
      expect(error.message).toContain("pg_basebackup");
      expect(error.message).toContain("continuous archiving");
    }
  });

  test("intervalMs, keep and dir are checked, each error naming its field", async () => {
    const error = await configError({ url: "sqlite::memory:", entities: [Task], backup: { enabled: true, keep: 0, dir: "", intervalMs: 2 ** 31 } });
    expect(error.issues).toEqual(
      expect.arrayContaining([
        "backup.keep: expected a positive integer, got the number 0",
        expect.stringMatching(/^backup\.dir: expected a non-empty string/),
        expect.stringMatching(/^backup\.intervalMs: expected a positive integer of ms, at most 2147483647, got the number 2147483648/),
      ]),
    );
    const negative = await configError({ url: "sqlite::memory:", entities: [Task], backup: { enabled: true, intervalMs: -1 } });
    expect(negative.issues).toEqual([expect.stringMatching(/^backup\.intervalMs: /)]);
    const unknown = await configError({ url: "sqlite::memory:", entities: [Task], backup: { enabled: true, every: 5 } });
    expect(unknown.issues).toEqual(["backup.every: unknown option"]);
  });

  test("memory: backup.enabled without backup.dir is a ConfigError naming backup.dir (memory has no path to put them beside)", async () => {
    const error = await configError({ url: "memory:", entities: [Task], backup: { enabled: true } });
    expect(error.issues).toEqual([expect.stringMatching(/^backup\.dir: the memory backend has no path/)]);
  });
});
