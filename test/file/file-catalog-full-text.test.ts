/**
 * A catalog edited by hand (or by a faulty tool, resealed) with a bad `fullText` entry: opening the directory
 * is a CorruptionError naming catalog.json, never an index that no migration could have made.
 */
import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { catalogText } from "../../src/backends/file/file-catalog.js";
import { CorruptionError } from "../../src/index.js";
import { openBackend } from "../../src/conformance/index.js";
import { DOCS } from "../search/engine-search-support.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** A directory holding DOCS, its catalog's `fullText` replaced by `fullText` and resealed. */
async function directoryWith(fullText: unknown): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "strata-fts-catalog-"));
  dirs.push(dir);
  const backend = await openBackend({ url: `file:${dir}`, autoCreate: true }, [DOCS]);
  await backend.close();
  const file = path.join(dir, "catalog.json");
  const { crc: _seal, ...catalog } = JSON.parse(fs.readFileSync(file, "utf8")) as { crc: string; tables: Record<string, { fullText?: unknown }> };
  catalog.tables["docs"]!.fullText = fullText;
  fs.writeFileSync(file, catalogText(catalog as unknown as Parameters<typeof catalogText>[0]));
  return dir;
}

describe("file: the catalog's full-text entry", () => {
  test("a column named twice is refused, as the schema editor refuses it", async () => {
    const dir = await directoryWith({ name: "fts_docs", columns: ["title", "title"] });
    const error = await openBackend({ url: `file:${dir}`, autoCreate: false }, [DOCS]).then(
      async (opened) => {
        await opened.close();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CorruptionError);
    expect((error as CorruptionError).message).toMatch(/catalog\.json: table "docs": "fullText" names the column "title" twice/);
  });

  test("a column that is not a string column is refused", async () => {
    const dir = await directoryWith({ name: "fts_docs", columns: ["grp"] });
    await expect(openBackend({ url: `file:${dir}`, autoCreate: false }, [DOCS])).rejects.toThrow(/catalog\.json: table "docs": "fullText" needs a name and columns/);
  });
});
