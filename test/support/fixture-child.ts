/** A child process running a compiled fixture from dist/test/fixtures/, with its stdout lines collected. */
import { spawn } from "node:child_process";
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const fixtures = fileURLToPath(new URL("../../dist/test/fixtures/", import.meta.url));

export interface FixtureChild {
  readonly child: ChildProcessWithoutNullStreams;
  /** Complete stdout lines so far. */
  readonly lines: string[];
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Settles when the child has exited. */
  readonly exited: Promise<void>;
  /** Resolves with the first line matching `pattern`; rejects if the child exits first. */
  waitFor(pattern: RegExp): Promise<string>;
  /** SIGKILLs the child (if still running) and waits for it to be gone. */
  kill(): Promise<void>;
}

/** Starts `node [nodeArgs] dist/test/fixtures/<fixture> args`. */
export function runFixture(fixture: string, args: string[], nodeArgs: string[] = []): FixtureChild {
  const child = spawn(process.execPath, [...nodeArgs, path.join(fixtures, fixture), ...args], { stdio: ["pipe", "pipe", "pipe"] });
  const lines: string[] = [];
  let stderr = "";
  let buffered = "";
  const listeners: Array<() => void> = [];
  const wake = () => {
    for (const l of listeners.splice(0)) l();
  };
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    buffered += chunk;
    const parts = buffered.split("\n");
    buffered = parts.pop()!;
    lines.push(...parts);
    wake();
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
  void exited.then(wake);
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  return {
    child,
    lines,
    stderr: () => stderr,
    exited,
    waitFor(pattern) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = lines.find((l) => pattern.test(l));
          if (hit !== undefined) resolve(hit);
          else if (gone()) reject(new Error(`${fixture} exited (${child.exitCode ?? child.signalCode}) before printing ${pattern}: ${stderr}`));
          else listeners.push(check);
        };
        check();
      });
    },
    async kill() {
      if (!gone()) child.kill("SIGKILL");
      await exited;
    },
  };
}
