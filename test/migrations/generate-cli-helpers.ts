/**
 * What the CLI tests of `strata migrate generate` share: the compiled CLI run in a child process (stdin not a
 * terminal, or a pseudo-terminal through `script`), an entities module of one table, a project folder, and
 * direct reads and writes of the database under test.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { editorOf } from "../../src/migrations/applied-migration-store.js";
import { createStorage, schemaOfTable } from "../../src/index.js";
import type { SchemaEditor, TransactionHandle } from "../../src/spi/index.js";
import { normalizeQuery } from "../../src/query/normalize-query.js";
import { coreOf } from "../../src/storage-core.js";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const CLI = path.join(ROOT, "dist/src/cli/strata.js");

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function strata(cwd: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** `script` (util-linux) runs a command on a pseudo-terminal: the way to answer generate's questions. */
export const SCRIPT = ["/usr/bin/script", "/bin/script"].find((f) => existsSync(f));

/** Runs the CLI on a terminal, typing `input`; the output is the terminal's (stdout and stderr together). */
export function strataOnTerminal(cwd: string, args: string[], input: string): Promise<Run> {
  return new Promise((resolve) => {
    const command = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
    const child = spawn(SCRIPT!, ["-qec", command, "/dev/null"], { cwd, env: process.env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stdin.end(input);
    child.on("close", (code) => resolve({ code, stdout, stderr: "" }));
  });
}

/**
 * An entities module of one entity `tasks`: an id, a title and `columns` (name -> logical type), declared
 * with TypeORM's decorators called as functions, so that plain node loads it.
 */
export function tasksEntity(columns: Record<string, string>, table = "tasks"): string {
  const lines = Object.entries(columns).map(([name, type]) => `Column({ type: ${JSON.stringify(type)}, nullable: true })(Task.prototype, ${JSON.stringify(name)});`);
  return `import "reflect-metadata";
import { Column, Entity, PrimaryColumn } from "typeorm";
export class Task {}
PrimaryColumn({ type: "string" })(Task.prototype, "id");
Column({ type: "string" })(Task.prototype, "title");
${lines.join("\n")}
Entity(${JSON.stringify(table)})(Task);
`;
}

/** Runs `fn` in a transaction of the database at `url` (committed), with its schema editor. */
export async function inDatabase<T>(url: string, fn: (tx: TransactionHandle, editor: SchemaEditor) => Promise<T>): Promise<T> {
  const storage = await createStorage({ url, autoCreate: false });
  try {
    const { backend } = coreOf(storage);
    const tx = await backend.begin();
    try {
      const result = await fn(tx, editorOf(backend, tx));
      await tx.commit();
      return result;
    } catch (error) {
      await tx.rollback();
      throw error;
    }
  } finally {
    await storage.close();
  }
}

export async function rowsOf(url: string, table: string): Promise<Record<string, unknown>[]> {
  return inDatabase(url, async (tx, editor) => {
    const schema = schemaOfTable((await editor.describeTable(table))!);
    return tx.find(schema, normalizeQuery(schema, {}));
  });
}

export async function insertTask(url: string, row: Record<string, unknown>, table = "tasks"): Promise<void> {
  await inDatabase(url, async (tx, editor) => {
    await tx.insert(schemaOfTable((await editor.describeTable(table))!), row);
  });
}

/** A fresh folder with node_modules reachable (the entities import typeorm) and a config naming `entities`. */
export function project(url: string, entities: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), "strata-generate-cli-"));
  symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"), "dir");
  writeFileSync(path.join(dir, "strata.config.json"), JSON.stringify({ url, migrations: "./migrations", entities }));
  return dir;
}

export const migrationFiles = (dir: string) => (existsSync(path.join(dir, "migrations")) ? readdirSync(path.join(dir, "migrations")).sort() : []);
