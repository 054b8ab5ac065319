/** The version of the installed `stratastore`, read from its package.json when asked (never copied into code). */
import { createRequire } from "node:module";

/**
 * The `version` of the package this module belongs to. Found by the package's own name (Node resolves a
 * package's name from inside it through its `exports`), so the same line works from `src/` and `dist/src/`.
 */
export function packageVersion(): string {
  const manifest = createRequire(import.meta.url)("stratastore/package.json") as { version?: unknown };
  return typeof manifest.version === "string" ? manifest.version : "unknown";
}
