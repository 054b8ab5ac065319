/** Runs the `strata` CLI in-process through its `main`, with stdout and stderr captured. */
import { vi } from "vitest";
import { main } from "../../src/cli/strata.js";

/** Runs `strata args`; resolves to the exit code and what it printed on stdout and stderr. */
export async function strata(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const outSpy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  const errSpy = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  try {
    const code = await main(args);
    return { code, stdout, stderr };
  } finally {
    outSpy.mockRestore();
    errSpy.mockRestore();
  }
}
