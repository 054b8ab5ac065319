/**
 * The layering rules of docs/architecture.md, checked on the source: no import cycle, shared code never
 * reaches a concrete backend or dialect, and the public entry point exposes no engine or core internals.
 */
import { describe, expect, test } from "vitest";
import fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { importCycles, valueImportGraph } from "../support/import-graph.js";
import * as strata from "../../src/index.js";

const SRC = fileURLToPath(new URL("../../src/", import.meta.url));
const CONCRETE = /^backends\/(memory|file|sqlite|postgres)\//;

describe("architecture", () => {
  test("no import cycle in src/ between value imports, static or lazy", () => {
    expect(importCycles(valueImportGraph(SRC, false, false))).toEqual([]);
    expect(importCycles(valueImportGraph(SRC, false, true))).toEqual([]);
  });

  test("counting type-only imports, the one cycle is the two public types that name each other", () => {
    // A storage hands out repositories, and a repository is constructed on a storage: `Storage` and
    // `Repository` name each other in their public signatures, and only as types on the repository's side.
    expect(importCycles(valueImportGraph(SRC, true, true))).toEqual([["repository/repository.ts", "storage.ts"]]);
  });

  test("shared code never imports a concrete backend or dialect; only the registry loads them", () => {
    const graph = valueImportGraph(SRC, true, true);
    const offenders: string[] = [];
    for (const [file, targets] of graph) {
      if (CONCRETE.test(file) || file === "spi/backend-registry.ts") continue;
      for (const target of targets) if (CONCRETE.test(target)) offenders.push(`${file} -> ${target}`);
    }
    expect(offenders).toEqual([]);
  });

  test("the shared backup code asks a backend's backup layout, and never branches on a backend's name", () => {
    const offenders: string[] = [];
    for (const file of fs.readdirSync(path.join(SRC, "backup"))) {
      const text = fs.readFileSync(path.join(SRC, "backup", file), "utf8");
      for (const match of text.matchAll(/[!=]==?\s*"(sqlite|file|memory|postgres)"|"(sqlite|file|memory|postgres)"\s*[!=]==?|\[\s*"(sqlite|file|memory)"\s*,/g)) offenders.push(`backup/${file}: ${match[0]}`);
    }
    expect(offenders).toEqual([]);
  });

  test("a concrete backend imports no other concrete backend", () => {
    const graph = valueImportGraph(SRC, true, true);
    const offenders: string[] = [];
    for (const [file, targets] of graph) {
      const own = CONCRETE.exec(file)?.[1];
      if (!own) continue;
      for (const target of targets) {
        const other = CONCRETE.exec(target)?.[1];
        if (other && other !== own) offenders.push(`${file} -> ${target}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  test("the package entry exports no engine or core internals", () => {
    for (const name of ["MemoryDatabase", "MemoryTable", "WriteSet", "StorageCore", "CacheManager", "TableEngine"]) {
      expect(Object.keys(strata)).not.toContain(name);
    }
  });
  test("the public migration runner carries nothing of the cache's: the fingerprint reaches it through createStorage", async () => {
    const storage = await strata.createStorage({ url: "memory:", entities: [] });
    try {
      const members = Object.getOwnPropertyNames(Object.getPrototypeOf(storage.migrations));
      expect(members.filter((name) => /fingerprint/i.test(name))).toEqual([]);
    } finally {
      await storage.close();
    }
  });
});
