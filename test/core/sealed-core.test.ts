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
    expect(storage.capabilities).toBe(coreOf(storage).backend.capabilities);
    expect(storage.capabilities).toMatchObject({ supportsSavepoints: true, supportsSql: true, persistent: false });
  });

  test("coreOf refuses anything that is not a storage", () => {
    expect(() => coreOf({})).toThrow(api.ConfigError);
  });
});
