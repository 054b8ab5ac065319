/** `createStorage({ backend })` given a factory or an open instance, besides a name. */
import { describe, expect, test } from "vitest";
import type { Backend, BackendContext, BackendFactory } from "../../src/index.js";
import { ConnectionError, createStorage, readEntitySchema, registerBackend } from "../../src/index.js";
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
    expect(error.issues).toEqual([expect.stringMatching(/^backend: expected a Backend .*missing or mistyped: begin, backup, close, session\.findById, .*session\.deleteMany, got /)]);
    expect((await configError({ backend: 42 })).issues).toEqual([expect.stringMatching(/^backend: expected a backend name, a BackendFactory function or a Backend object, got the number 42/)]);
    expect((await configError({ backend: null })).issues[0]).toMatch(/^backend: /);
  });

  test("a factory that returns no Backend is a ConfigError; one that fails is a ConnectionError", async () => {
    const error = await configError({ backend: async () => ({ name: "nothing" }) as unknown as Backend });
    expect(error.issues).toEqual([expect.stringMatching(/^backend: the factory of the custom backend returned no Backend: .*capabilities, session, begin, backup, close/)]);
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
  test("a session without the DataSession methods, or a backend without backup, is a ConfigError naming what is missing", async () => {
    const inner = await openBackend({ url: "memory:", autoCreate: true }, [readEntitySchema(Task)]);
    const { name, capabilities, session } = inner;
    const begin = () => inner.begin();
    const close = () => inner.close();
    const halfSession = await configError({ backend: { name, capabilities, session: { find: session.find }, begin, backup: () => inner.backup(""), close }, entities: [Task] });
    expect(halfSession.issues).toEqual([expect.stringMatching(/^backend: .*missing or mistyped: session\.findById, session\.findByIds, session\.count, .*session\.deleteMany, got /)]);
    const noBackup = await configError({ backend: { name, capabilities, session, begin, close }, entities: [Task] });
    expect(noBackup.issues).toEqual([expect.stringMatching(/^backend: .*missing or mistyped: backup, got /)]);
    await inner.close();
  });

  test("a Backend class given in place of a factory or an instance is a ConfigError, not a ConnectionError from calling it", async () => {
    class MyStoreBackend {}
    const error = await configError({ backend: MyStoreBackend as never });
    expect(error.issues).toEqual([expect.stringMatching(/^backend: expected a BackendFactory or an open Backend, not the class MyStoreBackend itself: give an instance/)]);
  });

  test("a factory's result that is not a Backend is closed when it has a close", async () => {
    let closed = 0;
    const error = await configError({ backend: async () => ({ name: "half", close: async () => void closed++ }) as unknown as Backend });
    expect(error.issues[0]).toMatch(/^backend: the factory of the custom backend returned no Backend/);
    expect(closed).toBe(1);
  });

  test("a factory that never resolves is a ConnectionError after timeoutMs; one that resolves later is closed", async () => {
    await expect(createStorage({ backend: () => new Promise<Backend>(() => {}), timeoutMs: 50 })).rejects.toThrow(
      expect.objectContaining({ constructor: ConnectionError, message: expect.stringMatching(/custom backend: its factory did not resolve within 50 ms \(timeoutMs\)/) }),
    );
    let closed = false;
    let resolveLate!: (backend: Backend) => void;
    const late = new Promise<Backend>((resolve) => (resolveLate = resolve));
    await expect(createStorage({ backend: () => late, timeoutMs: 20 })).rejects.toThrow(ConnectionError);
    const backend = await openBackend({ url: "memory:" });
    const close = backend.close.bind(backend);
    backend.close = async () => {
      closed = true;
      await close();
    };
    resolveLate(backend);
    await new Promise((resolve) => setImmediate(resolve));
    expect(closed).toBe(true);
  });

  test("a timeoutMs beyond a Node timer's range is a ConfigError: the timer would fire at once, failing every wait it bounds", async () => {
    expect((await configError({ backend: countingStore({ counts: new Map() }), timeoutMs: 2 ** 32 })).issues).toEqual([
      "timeoutMs: expected a non-negative integer of ms, at most 2147483647, got the number 4294967296",
    ]);
    const storage = await createStorage({ backend: countingStore({ counts: new Map() }), timeoutMs: 2 ** 31 - 1 });
    expect(storage.backend).toBe("counting");
    await storage.close();
  });

  test("one instance serves one storage: a second createStorage given it is a ConfigError, before or after the first closes", async () => {
    const instance = await openBackend({ url: "memory:", autoCreate: true }, [readEntitySchema(Task)]);
    const first = await createStorage({ backend: instance, entities: [Task] });
    const error = await configError({ backend: instance, entities: [Task] });
    expect(error.issues).toEqual([expect.stringMatching(/^backend: this memory Backend instance was given to another storage/)]);
    await first.close();
    expect((await configError({ backend: instance, entities: [Task] })).issues[0]).toMatch(/^backend: this memory Backend instance/);
  });

  test("names of Object.prototype members are no backends: an unknown-backend ConfigError, not a TypeError", async () => {
    for (const name of ["__proto__", "constructor", "toString", "hasOwnProperty"]) {
      expect((await configError({ backend: name })).issues).toEqual([`backend: unknown backend "${name}" (built in: memory, file, sqlite, postgres; others need registerBackend)`]);
    }
    expect((await configError("constructor:x")).issues[0]).toMatch(/^url: unknown backend "constructor"/);
    registerBackend("constructor", async (context) => openBackend({ url: "memory:", autoCreate: context.config.autoCreate }, context.schemas));
    const storage = await createStorage({ backend: "constructor", entities: [Task], autoCreate: true });
    expect(await storage.repository(Task).count()).toBe(0);
    await storage.close();
  });

  test("a factory gets url and path as given, not resolved as a file path", async () => {
    const seen: unknown[] = [];
    const factory = (): BackendFactory => async (context) => {
      seen.push(context.config.path);
      return countingStore({ counts: new Map() })(context);
    };
    await (await createStorage({ url: "mystore://host:5/db", backend: factory() })).close();
    await (await createStorage({ path: "./relative/dir", backend: factory() })).close();
    expect(seen).toEqual(["//host:5/db", "./relative/dir"]);
  });
});
