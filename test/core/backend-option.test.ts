/** `createStorage({ backend })` given a factory or an open instance, besides a name. */
import { describe, expect, test } from "vitest";
import type { Backend, BackendContext, BackendFactory } from "../../src/index.js";
import { ConnectionError, createStorage, readEntitySchema } from "../../src/index.js";
import { ConfCounter, openBackend } from "../../src/conformance/index.js";
import { Task } from "../../entities/index.js";
import { countingStore } from "../fixtures/counting-backend.js";
import { configError } from "../support/config-error.js";


describe("the backend option", () => {
  test("a factory of typed options is called once with the context, and its backend serves the storage", async () => {
    const counts = new Map<string, number>();
    const contexts: BackendContext[] = [];
    const store = countingStore({ counts, name: "counted" });
    const factory: BackendFactory = async (context) => {
      contexts.push(context);
      return store(context);
    };
    const storage = await createStorage({ backend: factory, entities: [ConfCounter], autoCreate: true, timeoutMs: 1234, cache: false });
    expect(storage.backend).toBe("counted");
    expect(contexts).toHaveLength(1);
    expect(contexts[0]!.config.timeoutMs).toBe(1234);
    expect(contexts[0]!.config.backend).toBe("custom");
    expect(contexts[0]!.schemas.map((s) => s.table)).toEqual(["conf_counters"]);
    expect(contexts[0]!.config).not.toHaveProperty("backendSource");
    await storage.repository(ConfCounter).insert({ id: "a", value: 1 });
    expect(await storage.repository(ConfCounter).findById("a")).toEqual({ id: "a", value: 1 });
    expect([counts.get("insert"), counts.get("findById")]).toEqual([1, 1]);
    await storage.close();
  });

  test("with a factory, a URL of any scheme is passed through and names the backend until it is open", async () => {
    const seen: string[] = [];
    const storage = await createStorage({
      url: "thirdparty://host/db",
      backend: async (context) => {
        seen.push(`${context.config.backend} ${context.config.url}`);
        return countingStore({ counts: new Map() })(context);
      },
    });
    expect(seen).toEqual(["thirdparty thirdparty://host/db"]);
    await storage.close();
  });

  test("an open instance is used as it is, and the storage closes it", async () => {
    const instance = await openBackend({ backend: countingStore({ counts: new Map(), name: "mine" }), autoCreate: true }, [readEntitySchema(Task)]);
    let closed = 0;
    const close = instance.close.bind(instance);
    instance.close = async () => {
      closed++;
      await close();
    };
    const storage = await createStorage({ backend: instance, entities: [Task] });
    expect(storage.backend).toBe("mine");
    expect(await storage.repository(Task).count()).toBe(0);
    await storage.close();
    expect(closed).toBe(1);
  });

  test("an object that is not a Backend is a ConfigError naming backend and what it lacks", async () => {
    const error = await configError({ backend: { name: "half", capabilities: {}, session: {} }, entities: [Task] });
    expect(error.issues).toEqual([expect.stringMatching(/^backend: expected a Backend .*missing or mistyped: begin, close, got /)]);
    expect((await configError({ backend: 42 })).issues).toEqual([expect.stringMatching(/^backend: expected a backend name, a BackendFactory function or a Backend object, got the number 42/)]);
    expect((await configError({ backend: null })).issues[0]).toMatch(/^backend: /);
  });

  test("a factory that returns no Backend is a ConfigError; one that fails is a ConnectionError", async () => {
    const error = await configError({ backend: async () => ({ name: "nothing" }) as unknown as Backend });
    expect(error.issues).toEqual([expect.stringMatching(/^backend: the factory of the custom backend returned no Backend: .*capabilities, session, begin, close/)]);
    await expect(createStorage({ backend: async () => Promise.reject(new Error("no route to host")) })).rejects.toThrow(ConnectionError);
    await expect(createStorage({ backend: async () => Promise.reject(new Error("no route to host")) })).rejects.toThrow(/Could not open the custom backend: no route to host/);
  });

  test("the options of a third-party factory are type-checked", () => {
    // @ts-expect-error counts must be a Map
    expect(() => countingStore({ counts: 5 })).not.toThrow();
    // @ts-expect-error an instance must have every member of Backend
    const half: Backend = { name: "half" };
    expect(half.name).toBe("half");
  });
});
