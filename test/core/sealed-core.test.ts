/** The storage's core is not part of the public API: not a property, not an export; capabilities are public. */
import "reflect-metadata";
import { afterEach, describe, expect, test } from "vitest";
import { Column, Entity, PrimaryColumn } from "typeorm";
import * as api from "../../src/index.js";
import { createStorage } from "../../src/index.js";
import type { Storage } from "../../src/index.js";
import { coreOf } from "../../src/storage-core.js";

@Entity("sealed_notes")
class SealedNote {
  @PrimaryColumn({ type: "string" }) id: string;
  @Column({ type: "string" }) text: string;
}

describe("sealed core", () => {
  let storage: Storage | undefined;
  afterEach(async () => {
    await storage?.close();
    storage = undefined;
  });

  test("a storage exposes no core, and the package exports no engine classes or core accessor", async () => {
    storage = await createStorage({ url: "memory:", entities: [SealedNote] });
    expect("core" in storage).toBe(false);
    expect(Object.keys(storage)).not.toContain("core");
    for (const internal of ["MemoryDatabase", "MemoryTable", "WriteSet", "StorageCore", "coreOf", "bindCore"]) {
      expect(api, internal).not.toHaveProperty(internal);
    }
    // Repositories still reach it from inside.
    await storage.repository(SealedNote).save(Object.assign(new SealedNote(), { id: "n", text: "t" }));
    expect((await storage.repository(SealedNote).findById("n"))?.text).toBe("t");
  });

  test("storage.capabilities are the backend's flags, read-only", async () => {
    storage = await createStorage({ url: "sqlite::memory:", entities: [SealedNote] });
    expect(storage.capabilities).toEqual(coreOf(storage).backend.capabilities);
    expect(storage.capabilities).toMatchObject({ supportsSavepoints: true, supportsSql: true, persistent: false });
  });

  test("writing to storage.capabilities changes nothing the backend declares (nested transactions still work)", async () => {
    storage = await createStorage({ url: "memory:", entities: [SealedNote] });
    const flags = storage.capabilities as { supportsSavepoints: boolean };
    expect(() => {
      flags.supportsSavepoints = false;
    }).toThrow(TypeError);
    expect(coreOf(storage).backend.capabilities.supportsSavepoints).toBe(true);
    expect(storage.capabilities.supportsSavepoints).toBe(true);
    const s = storage;
    await s.transaction(() => s.transaction(() => s.repository(SealedNote).save(Object.assign(new SealedNote(), { id: "x", text: "nested" }))));
    expect((await s.repository(SealedNote).findById("x"))?.text).toBe("nested");
  });

  test("coreOf refuses anything that is not a storage", () => {
    expect(() => coreOf({})).toThrow(api.ConfigError);
  });

  test("new Storage() and new MigrationRunner() fail at run time too: no core is bound but one createStorage built", () => {
    const forged = { backend: { name: "forged", capabilities: api.DEFAULT_CAPABILITIES }, schemaOf: () => undefined };
    const NewStorage = api.Storage as unknown as new (core: unknown) => object;
    const NewRunner = api.MigrationRunner as unknown as new (core: unknown) => object;
    expect(() => new NewStorage(forged)).toThrow(api.ConfigError);
    expect(() => new NewRunner(forged)).toThrow(api.ConfigError);
    let built: object | undefined;
    try {
      built = new NewStorage(forged);
    } catch {
      // expected
    }
    expect(built).toBeUndefined();
  });

  test("a storage of another copy of the package, or a plain object, given to new Repository is a ConfigError that says which", async () => {
    // A second copy's Storage is a class of the same name that this copy never bound a core to.
    const OtherCopy = { Storage: class Storage {} }.Storage;
    const foreign = new OtherCopy() as unknown as Storage;
    expect(() => new api.Repository(foreign, SealedNote)).toThrow(api.ConfigError);
    expect(() => new api.Repository(foreign, SealedNote)).toThrow(/a Storage of another copy of stratastore/);
    for (const value of [{}, null, undefined, "storage", new Proxy({}, { getPrototypeOf: () => { throw new Error("hostile"); } })]) {
      expect(() => new api.Repository(value as unknown as Storage, SealedNote)).toThrow(api.ConfigError);
    }
    expect(() => new api.Repository({} as unknown as Storage, SealedNote)).toThrow(/got object$/);
  });

  test("storage.repository() of a repository class of another copy of the package says so, not 'not among the entities'", async () => {
    storage = await createStorage({ url: "memory:", entities: [SealedNote] });
    const OtherCopy = { Repository: class Repository {} }.Repository;
    class NoteRepository extends OtherCopy {}
    const s = storage;
    expect(() => s.repository(NoteRepository as unknown as typeof SealedNote)).toThrow(api.ConfigError);
    expect(() => s.repository(NoteRepository as unknown as typeof SealedNote)).toThrow(/NoteRepository extends the Repository of another copy of stratastore/);
    // An entity class that is simply not configured still gets the usual message.
    class Stranger {}
    expect(() => s.repository(Stranger)).toThrow(/Stranger is not among this storage's entities/);
  });

  test("the migration runner exposes no internals: the applied-migrations fingerprint is the cache's, not a public method", async () => {
    storage = await createStorage({ url: "memory:", entities: [SealedNote] });
    expect((storage.migrations as unknown as Record<string, unknown>)["appliedFingerprint"]).toBeUndefined();
  });
});

describe("DEFAULT_CAPABILITIES", () => {
  test("cannot be changed by a caller, so every backend that spreads it starts from the same flags", async () => {
    const { DEFAULT_CAPABILITIES } = await import("../../src/index.js");
    expect(() => {
      (DEFAULT_CAPABILITIES as { supportsSql: boolean }).supportsSql = true;
    }).toThrow(TypeError);
    expect(DEFAULT_CAPABILITIES.supportsSql).toBe(false);
  });
});
