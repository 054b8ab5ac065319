/**
 * The SQL transaction handle: its data methods are decided once (shared by every handle, not closures
 * made at each `begin()`: a transaction is a hot path), and an ended handle refuses each call with a
 * rejected promise, as an async method would.
 */
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Backend, TransactionHandle } from "../../src/index.js";
import { readEntitySchema, TransactionError } from "../../src/index.js";
import { openBackend } from "../../src/conformance/index.js";
import { Counter } from "../fixtures/sql-entities.js";
import { backendSelected } from "./sql-backend-cases.js";

const counters = readEntitySchema(Counter);
const DATA_METHODS = ["findById", "findByIds", "find", "count", "insert", "upsert", "upsertMany", "update", "delete", "deleteMany"] as const;

describe.skipIf(!backendSelected("sqlite"))("sqlite: transaction handle", () => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await openBackend({ url: "sqlite::memory:", autoCreate: true }, [counters]);
  });
  afterAll(async () => {
    await backend.close();
  });

  test("every handle shares its data methods: none is made per transaction", async () => {
    const first = await backend.begin();
    await first.rollback();
    const second = await backend.begin();
    await second.rollback();
    for (const method of DATA_METHODS) expect(second[method], method).toBe(first[method]);
    expect(second.commit).toBe(first.commit);
    expect(second.savepoint).toBe(first.savepoint);
  });

  test("a handle works until it ends, then each call is a rejected TransactionError, never a synchronous throw", async () => {
    const tx: TransactionHandle = await backend.begin();
    await tx.insert(counters, { name: "a", value: 1 });
    expect(await tx.findById(counters, "a")).toEqual({ name: "a", value: 1 });
    await tx.commit();
    for (const method of DATA_METHODS) {
      let promise: Promise<unknown> | undefined;
      expect(() => {
        promise = (tx[method] as (...args: unknown[]) => Promise<unknown>)(counters, "a");
      }, method).not.toThrow();
      await expect(promise, method).rejects.toThrow(TransactionError);
      await expect(promise, method).rejects.toThrow("The transaction has already ended");
    }
    await expect(tx.savepoint("s")).rejects.toThrow(TransactionError);
    await expect(tx.commit()).rejects.toThrow(TransactionError);
    expect(() => tx.schema!()).toThrow(TransactionError);
    await tx.rollback();
    expect(await backend.session.findById(counters, "a")).toEqual({ name: "a", value: 1 });
  });
});
