/** bench/run.ts labels bench/results.json as the last recorded run, and never replaces it with an empty one. */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const results = path.join(root, "bench", "results.json");

describe("bench/run.ts", () => {
  test("a BENCH that picks no case file fails and leaves bench/results.json as it was", () => {
    const before = readFileSync(results, "utf8");
    let status = 0;
    let stderr = "";
    try {
      execFileSync(process.execPath, [path.join(root, "dist", "bench", "run.js")], {
        cwd: root,
        env: { ...process.env, BENCH: "no-such-group" },
        stdio: ["ignore", "pipe", "pipe"],
      });
    } catch (error) {
      status = (error as { status: number }).status;
      stderr = String((error as { stderr: Buffer }).stderr);
    }
    expect(readFileSync(results, "utf8")).toBe(before);
    expect(status).toBe(1);
    expect(stderr).toContain("picks no case file");
    expect(stderr).toContain("sqlite");
  });

  test("the recorded run says what it is: note, recordedAt, machine, ran, cases, figures", () => {
    const recorded = JSON.parse(readFileSync(results, "utf8")) as Record<string, unknown>;
    expect(Object.keys(recorded)).toEqual(["note", "recordedAt", "machine", "ran", "cases", "figures"]);
    expect(String(recorded["note"])).toContain("last recorded run");
  });
});
