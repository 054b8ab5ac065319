/**
 * The shape src/backends/sql/README.md promises: every SQL backend folder has the same file names (a
 * reader who knows one knows where everything is in the others), and the README's table names every
 * file of the shared folder, so that neither can drift from the code unseen.
 */
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";

const BACKENDS = fileURLToPath(new URL("../../src/backends/", import.meta.url));
/** Files a dialect has that the other does not need, as the README's item 6 lists them. */
const OWN: Record<string, readonly string[]> = { sqlite: ["backup-layout.ts", "temporary-files.ts"], postgres: ["migration-lock.ts", "replica-router.ts", "commit-positions.ts"] };

const parts = (dialect: string): string[] =>
  readdirSync(`${BACKENDS}${dialect}`)
    .filter((f) => f.endsWith(".ts"))
    .map((f) => {
      expect(f.startsWith(`${dialect}-`), `${dialect}/${f} is named after its dialect`).toBe(true);
      return f.slice(dialect.length + 1);
    })
    .filter((f) => !OWN[dialect]!.includes(f))
    .sort();

describe("sql: folder shape", () => {
  test("sqlite/ and postgres/ hold the same files, each named <dialect>-<part>.ts", () => {
    expect(parts("sqlite")).toEqual(parts("postgres"));
    expect(parts("sqlite")).toEqual(expect.arrayContaining(["backend.ts", "dialect.ts", "driver.ts", "errors.ts", "introspector.ts"]));
  });

  test("the README's table names every file of src/backends/sql/, and no other", () => {
    const readme = readFileSync(`${BACKENDS}sql/README.md`, "utf8");
    const listed = [...readme.matchAll(/^\| `([\w-]+\.ts)` \|/gm)].map((m) => m[1]!).sort();
    const files = readdirSync(`${BACKENDS}sql`).filter((f) => f.endsWith(".ts")).sort();
    expect(listed).toEqual(files);
  });
});
