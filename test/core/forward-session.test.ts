import { describe, expect, test } from "vitest";
import type { DataSession } from "../../src/spi/index.js";
import { forwardSession, READ_METHODS } from "../../src/spi/forward-session.js";

const schema = { table: "t" } as never;

function recordingSession(log: string[]): DataSession {
  const session: Record<string, unknown> = {};
  for (const method of ["findById", "findByIds", "find", "count", "insert", "upsert", "upsertMany", "update", "delete", "deleteMany"]) {
    session[method] = async (...args: unknown[]) => {
      log.push(`${method}(${args.length})`);
      return method;
    };
  }
  return session as unknown as DataSession;
}

describe("forwardSession", () => {
  test("forwards every method with its arguments, through around only for the listed ones", async () => {
    const log: string[] = [];
    const target = recordingSession(log);
    const session = forwardSession(
      () => target,
      async (call) => {
        log.push("around");
        return call();
      },
      READ_METHODS,
    );
    expect(await session.findById(schema, 1)).toBe("findById");
    expect(await session.update(schema, 1, {}, 3)).toBe("update");
    expect(await session.count(schema, [[]])).toBe("count");
    expect(log).toEqual(["around", "findById(2)", "update(4)", "around", "count(2)"]);
  });

  test("a target that throws (an ended transaction) gives a rejected promise, never a synchronous throw", async () => {
    const ended = new Error("The transaction has already ended");
    const session = forwardSession(
      () => {
        throw ended;
      },
      (call) => call(),
    );
    let promise: Promise<unknown> | undefined;
    expect(() => {
      promise = session.insert(schema, {});
    }).not.toThrow();
    await expect(promise).rejects.toBe(ended);
  });

  test("sessions share their methods: making one per transaction scope allocates no closures", () => {
    const target = recordingSession([]);
    const a = forwardSession(() => target, (call) => call());
    const b = forwardSession(() => target, (call) => call(), READ_METHODS);
    expect(a.findById).toBe(b.findById);
    expect(a.deleteMany).toBe(b.deleteMany);
    expect(Object.keys(a)).not.toContain("findById");
  });
});
