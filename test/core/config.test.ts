import { describe, expect, test } from "vitest";
import { ConfigError, createStorage, registerBackend } from "../../src/index.js";
import { Task } from "../../entities/index.js";
import { configError } from "../support/config-error.js";


describe("createStorage configuration", () => {
  test("every invalid field is listed in one ConfigError, with its path and what was given", async () => {
    const error = await configError({
      url: "memory:",
      entities: [Task],
      poolSize: 0,
      timeoutMs: -1,
      cache: { l1: { max: -5 }, l2: { type: "redis" } },
      sqlite: { journalMode: "truncate" },
      colour: "blue",
    });
    expect(error.issues).toEqual(
      expect.arrayContaining([
        "poolSize: expected a positive integer, got the number 0",
        "timeoutMs: expected a non-negative integer, got the number -1",
        "cache.l1.max: expected a positive integer, got the number -5",
        expect.stringMatching(/^cache\.l2\.url: expected a string/),
        expect.stringMatching(/^sqlite\.journalMode: expected one of "wal", "delete"/),
        "colour: unknown option",
      ]),
    );
    expect(error.message).toContain("cache.l1.max: expected a positive integer, got the number -5");
    expect(error.code).toBe("STRATA_CONFIG");
  });

  test("cache.l2.heartbeatMs must be a positive integer a timer can wait (a longer one would fire every 1 ms)", async () => {
    for (const [heartbeatMs, given] of [
      [0, "the number 0"],
      [-5, "the number -5"],
      [1.5, "the number 1.5"],
      ["1000", 'the string "1000"'],
      [2 ** 31, "the number 2147483648"],
      [1e12, "the number 1000000000000"],
    ] as const) {
      const error = await configError({ url: "memory:", entities: [Task], cache: { l2: { type: "redis", url: "redis://127.0.0.1:1", heartbeatMs } } });
      expect(error.issues).toEqual([expect.stringMatching(new RegExp(`^cache\\.l2\\.heartbeatMs: expected .*, got ${given.replace(/[.]/g, "\\.")}$`))]);
    }
  });

  test("URL forms choose the backend", async () => {
    const storage = await createStorage({ url: "memory:", entities: [Task] });
    expect(storage.backend).toBe("memory");
    expect(storage.isConnected).toBe(true);
    await storage.close();
    expect(storage.isConnected).toBe(false);
    await storage.close();
  });

  test("an unknown scheme, a malformed URL or a missing path is a ConfigError", async () => {
    expect((await configError("nosuch:thing")).message).toContain('unknown backend "nosuch"');
    expect((await configError("just words")).message).toContain("url: expected a URL");
    expect((await configError({ backend: "file" })).message).toContain("path: the file backend needs a path");
    expect((await configError(42)).message).toContain("expected a configuration object or a URL string");
  });

  test("STRATA_URL is used when no argument is given", async () => {
    const saved = process.env["STRATA_URL"];
    process.env["STRATA_URL"] = "memory:";
    try {
      const storage = await createStorage();
      expect(storage.backend).toBe("memory");
      await storage.close();
    } finally {
      if (saved === undefined) delete process.env["STRATA_URL"];
      else process.env["STRATA_URL"] = saved;
    }
  });

  test("a registered backend is used by name and by URL scheme", async () => {
    const opened: string[] = [];
    registerBackend("recording", async (context) => {
      opened.push(context.config.url);
      const { MemoryBackend } = await import("../../src/backends/memory/memory-backend.js");
      return new MemoryBackend(context);
    });
    const a = await createStorage({ backend: "recording", entities: [Task], autoCreate: true });
    const b = await createStorage({ url: "recording:somewhere", entities: [Task], autoCreate: true });
    expect(opened).toEqual(["recording:", "recording:somewhere"]);
    await a.close();
    await b.close();
    expect(() => registerBackend("memory", async () => undefined as never)).toThrow(ConfigError);
    expect(() => registerBackend("Bad Name", async () => undefined as never)).toThrow(/lower-case/);
  });

  test("a repository for a class the storage does not serve is a ConfigError naming it", async () => {
    class Stranger {}
    const storage = await createStorage({ url: "memory:", entities: [Task] });
    expect(() => storage.repository(Stranger)).toThrow(/Stranger is not among this storage's entities/);
    await storage.close();
  });
});
