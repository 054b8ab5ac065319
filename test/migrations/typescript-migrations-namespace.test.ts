/**
 * Review of `.ts` migrations loaded through tsx: reading the folder again (status, then up, then status in
 * a long-running app) must not load an unchanged file as a new module each time, as tsx's `tsImport` does
 * (a fresh namespace, and a fresh set of tsx's module hooks that stay registered for the process, per call).
 * A `.mjs` migration is evaluated once per process; a `.ts` one must be too.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, expect, test } from "vitest";
import type { Storage } from "../../src/index.js";
import { createStorage } from "../../src/index.js";

const dir = mkdtempSync(path.join(tmpdir(), "rvd-ts-mig-"));
let storage: Storage | undefined;
afterEach(async () => {
  await storage?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("an unchanged .ts migration is evaluated once, however often the folder is read", async () => {
  const folder = path.join(dir, "migrations");
  mkdirSync(folder);
  const counter = `rvdEvaluations${process.pid}`;
  writeFileSync(
    path.join(folder, "0001-counted.ts"),
    `const g = globalThis as unknown as Record<string, number>;\n` +
      `g[${JSON.stringify(counter)}] = (g[${JSON.stringify(counter)}] ?? 0) + 1;\n` +
      `const version: number = 1;\nexport default { version, name: "counted", async up() {}, async down() {} };\n`,
  );
  storage = await createStorage({ url: "memory:", migrations: folder });
  for (let i = 0; i < 3; i++) expect(await storage.migrations.status()).toHaveLength(1);
  await storage.migrations.up();
  expect((globalThis as unknown as Record<string, number>)[counter]).toBe(1);
  // An edited file is still a new module: its new text is what status checks.
  const file = path.join(folder, "0001-counted.ts");
  writeFileSync(file, `${readFileSync(file, "utf8")}// edited\n`);
  expect((await storage.migrations.status()).map((s) => s.state)).toEqual(["changed"]);
  expect((globalThis as unknown as Record<string, number>)[counter]).toBe(2);
});
