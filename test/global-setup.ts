import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";

/** Compiles src/, entities/ and test/fixtures/ to dist/ so that child processes can run them with plain node. */
export default function setup(): void {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { stdio: "inherit" });
}
