/** The file backend across processes: SIGKILL at random moments, the directory lock. */
import "reflect-metadata";
import { spawn } from "node:child_process";
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { LockError, createStorage } from "../../src/index.js";
import { PairRow } from "../fixtures/file-entities.js";

const fixtures = fileURLToPath(new URL("../../dist/test/fixtures/", import.meta.url));

let dir: string;
const children: ChildProcessWithoutNullStreams[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "strata-file-proc-"));
});
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A child running a fixture, with its stdout lines collected and a way to wait for one. */
function run(fixture: string, args: string[]) {
  const child = spawn(process.execPath, [path.join(fixtures, fixture), ...args], { stdio: ["pipe", "pipe", "pipe"] });
  children.push(child);
  const lines: string[] = [];
  let stderr = "";
  let buffered = "";
  const listeners: Array<() => void> = [];
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    buffered += chunk;
    const parts = buffered.split("\n");
    buffered = parts.pop()!;
    lines.push(...parts);
    for (const l of listeners.splice(0)) l();
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    child,
    lines,
    exited,
    /** Resolves with the first line matching `pattern`; rejects if the child exits first. */
    waitFor(pattern: RegExp): Promise<string> {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = lines.find((l) => pattern.test(l));
          if (hit !== undefined) resolve(hit);
          else if (child.exitCode !== null || child.signalCode !== null) reject(new Error(`${fixture} exited before printing ${pattern}: ${stderr}`));
          else listeners.push(check);
        };
        void exited.then(() => listeners.push(check) && listeners.splice(0).forEach((l) => l()));
        check();
      });
    },
  };
}

describe("file: SIGKILL", () => {
  test("five kills at random moments over one directory lose no acknowledged commit and leave no transaction half there", async () => {
    const acknowledged: string[] = [];
    for (let round = 0; round < 5; round++) {
      // A small compactAfterBytes so that some kills land inside a compaction.
      const writer = run("file-writer.js", [dir, `r${round}`, "3000"]);
      await writer.waitFor(/^ready$/);
      await writer.waitFor(/^ok /);
      // The moment of the kill is what is random here; nothing is asserted about time.
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 200));
      writer.child.kill("SIGKILL");
      await writer.exited;
      acknowledged.push(...writer.lines.filter((l) => l.startsWith("ok ")).map((l) => l.slice(3)));
    }
    const storage = await createStorage({ url: `file:${dir}`, entities: [PairRow], timeoutMs: 0 });
    try {
      const rows = await storage.repository(PairRow).findAll();
      const halves = new Map<string, number[]>();
      for (const row of rows) halves.set(row.pair, [...(halves.get(row.pair) ?? []), row.half].sort());
      expect(acknowledged.length).toBeGreaterThan(5);
      for (const pair of acknowledged) expect(halves.get(pair), `acknowledged ${pair}`).toEqual([1, 2]);
      for (const [pair, got] of halves) expect(got, `transaction ${pair}`).toEqual([1, 2]);
      // At most the one transaction in flight at each kill is there without its acknowledgement.
      expect(halves.size - acknowledged.length).toBeLessThanOrEqual(5);
    } finally {
      await storage.close();
    }
  });
});

describe("file: one process at a time", () => {
  test("a second process gets a LockError naming the holder's pid, and gets in once the holder closes", async () => {
    const holder = run("file-holder.js", [dir]);
    const pid = Number((await holder.waitFor(/^open \d+$/)).split(" ")[1]);
    const refused = await createStorage({ url: `file:${dir}`, entities: [PairRow], timeoutMs: 200 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(LockError);
    expect((refused as Error).message).toContain(`process ${pid}`);
    expect((refused as LockError).file).toBe(path.join(dir, "strata.lock"));

    // Waiting within timeoutMs: the open goes through as soon as the holder closes.
    const opening = createStorage({ url: `file:${dir}`, entities: [PairRow], timeoutMs: 15_000 });
    holder.child.stdin.write("close\n");
    await holder.waitFor(/^closed$/);
    const storage = await opening;
    try {
      expect(await storage.repository(PairRow).findById(`held-by-${pid}`)).toMatchObject({ pair: "held" });
    } finally {
      await storage.close();
    }
  });

  test("a lock left by a killed process is taken over at once", async () => {
    const holder = run("file-holder.js", [dir]);
    const pid = Number((await holder.waitFor(/^open \d+$/)).split(" ")[1]);
    holder.child.kill("SIGKILL");
    await holder.exited;
    expect(fs.readFileSync(path.join(dir, "strata.lock"), "utf8")).toContain(`"pid": ${pid}`);
    // timeoutMs 0: no waiting at all, so only an immediate takeover lets this open succeed.
    const storage = await createStorage({ url: `file:${dir}`, entities: [PairRow], timeoutMs: 0 });
    try {
      expect(await storage.repository(PairRow).findById(`held-by-${pid}`)).toMatchObject({ pair: "held" });
      expect(fs.readFileSync(path.join(dir, "strata.lock"), "utf8")).toContain(`"pid": ${process.pid}`);
    } finally {
      await storage.close();
    }
    expect(fs.existsSync(path.join(dir, "strata.lock"))).toBe(false);
  });

  test("the same directory opened twice in one process is refused until the first storage closes", async () => {
    const first = await createStorage({ url: `file:${dir}`, entities: [PairRow], autoCreate: true, timeoutMs: 0 });
    await expect(createStorage({ url: `file:${dir}`, entities: [PairRow], timeoutMs: 0 })).rejects.toThrow(`process ${process.pid}`);
    await first.close();
    const second = await createStorage({ url: `file:${dir}`, entities: [PairRow], timeoutMs: 0 });
    await second.close();
  });
});
