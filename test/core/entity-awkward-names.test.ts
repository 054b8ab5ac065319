/**
 * Entities whose columns are named like members every object has (`__proto__`, `constructor`) or hold
 * quotes and line separators: the generated entity constructor and row copiers must store and hand out
 * each as a plain own field, and the entity must stay an instance of its class (its methods work), on every
 * backend, through findById, findAll and iterate, and in a file directory reopened.
 */
import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Column, Entity, PrimaryColumn } from "typeorm";
import { afterAll, afterEach, describe, expect, test } from "vitest";
import type { Storage } from "../../src/index.js";
import { createStorage } from "../../src/index.js";

const ODD = 'we"ird\u2028\'`${x}\\';

@Entity("rve_odd_names")
class RveOddNames {
  @PrimaryColumn({ type: "integer" }) id!: number;
  @Column({ type: "varchar", name: "proto" }) "__proto__"!: string;
  @Column({ type: "simple-json", name: "odd" }) [ODD]!: unknown;
  hello(): string {
    return `hello ${this.id}`;
  }
}
Column({ type: "varchar", name: "ctor" })(RveOddNames.prototype, "constructor");

const dir = mkdtempSync(path.join(tmpdir(), "rve-entity-names-"));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const backends = [
  { name: "memory", url: () => "memory:" },
  { name: "sqlite", url: () => "sqlite::memory:" },
  { name: "file", url: () => `file:${path.join(dir, `f${++n}`)}` },
];

/** An entity holding each odd name as an own field (`__proto__` defined, not assigned). */
function oddEntity(id: number): RveOddNames {
  const e = { id, constructor: "c", [ODD]: { isAdmin: true } } as Record<string, unknown>;
  Object.defineProperty(e, "__proto__", { value: "p", writable: true, enumerable: true, configurable: true });
  return e as unknown as RveOddNames;
}

function expectOdd(e: RveOddNames | null | undefined, id: number): void {
  expect(e).toBeInstanceOf(RveOddNames);
  expect(e!.hello()).toBe(`hello ${id}`);
  expect(Object.getOwnPropertyDescriptor(e, "__proto__")?.value).toBe("p");
  expect(Object.getOwnPropertyDescriptor(e, "constructor")?.value).toBe("c");
  expect((e as unknown as Record<string, unknown>)[ODD]).toEqual({ isAdmin: true });
  expect((e as unknown as Record<string, unknown>)["isAdmin"]).toBeUndefined();
}

for (const backend of backends) {
  describe(`${backend.name}: odd column names`, () => {
    let storage: Storage | undefined;
    afterEach(async () => {
      await storage?.close();
      storage = undefined;
    });

    test("__proto__, constructor and a quoted name round-trip as own fields of a class instance", async () => {
      const url = backend.url();
      storage = await createStorage({ url, entities: [RveOddNames], autoCreate: true });
      const repo = storage.repository(RveOddNames);
      await repo.save(oddEntity(1));
      await repo.saveMany([oddEntity(2), oddEntity(3)]);
      expectOdd(await repo.findById(1), 1);
      const all = await repo.findAll({ orderBy: { id: "asc" } });
      expect(all.map((e) => e.id)).toEqual([1, 2, 3]);
      for (const e of all) expectOdd(e, e.id);
      const walked: RveOddNames[] = [];
      for await (const e of repo.iterate({ orderBy: { id: "asc" } })) walked.push(e);
      for (const e of walked) expectOdd(e, e.id);
      if (backend.name === "file") {
        await storage.close();
        storage = await createStorage({ url, entities: [RveOddNames] });
        expectOdd(await storage.repository(RveOddNames).findById(2), 2);
      }
    });
  });
}
