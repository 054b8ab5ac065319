import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Child-process tests (crash, multi-process) run the compiled package from dist/: build it once.
    globalSetup: ["test/global-setup.ts"],
    // Many tests start child processes (CLI runs, SIGKILL and two-process cases, servers of their own): on a
    // busy 2-core machine a test with a dozen of them can pass 30 s. A bound against hangs, not a speed check.
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
