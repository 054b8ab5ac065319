/**
 * The published package works for a fresh TypeScript app: `npm pack`, install the tarball, compile the
 * app with tsc against the package's types, run it with node; as an ES module app and as a CommonJS one
 * (Node's require() of ES modules). Dependencies other than stratastore are linked from this checkout's
 * node_modules (installing them again from the registry would only repeat npm).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, test } from "vitest";

const root = path.resolve(import.meta.dirname, "../..");
const work = mkdtempSync(path.join(tmpdir(), "strata-consumer-"));

afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Packed {
  /** The files in the tarball, relative to the package. */
  files: string[];
  /** Where the tarball was unpacked: work/node_modules/stratastore, found by every app under work/. */
  dir: string;
}

let packed: Packed | undefined;

/** Packs this checkout once and installs the tarball in work/node_modules, beside links to the other dependencies. */
function pack(): Packed {
  if (packed) return packed;
  const [result] = JSON.parse(execFileSync("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", work], { cwd: root, encoding: "utf8" })) as Array<{ filename: string; files: { path: string }[] }>;
  const modules = path.join(work, "node_modules");
  const dir = path.join(modules, "stratastore");
  mkdirSync(dir, { recursive: true });
  execFileSync("tar", ["-xzf", path.join(work, result!.filename), "-C", dir, "--strip-components=1"]);
  for (const name of readdirSync(path.join(root, "node_modules"))) {
    if (name === "stratastore" || name.startsWith(".")) continue;
    symlinkSync(path.join(root, "node_modules", name), path.join(modules, name));
  }
  packed = { files: result!.files.map((f) => f.path), dir };
  return packed;
}

/** Writes an app of `files` in work/<name> (package.json of `type`), compiles it with tsc and runs out/main.js; its stdout lines. */
function buildAndRun(name: string, type: "module" | "commonjs", files: Record<string, string>): string[] {
  pack();
  const app = path.join(work, name);
  mkdirSync(app, { recursive: true });
  writeFileSync(path.join(app, "package.json"), JSON.stringify({ name, private: true, type }));
  writeFileSync(
    path.join(app, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, experimentalDecorators: true, emitDecoratorMetadata: true, outDir: "out", skipLibCheck: false, types: ["node"] },
      include: Object.keys(files).filter((f) => f.endsWith(".ts")),
    }),
  );
  for (const [file, text] of Object.entries(files)) writeFileSync(path.join(app, file), text);
  execFileSync(process.execPath, [path.join(root, "node_modules/typescript/bin/tsc"), "-p", app], { cwd: app, encoding: "utf8" });
  const out = execFileSync(process.execPath, [path.join(app, "out/main.js")], { cwd: app, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  return out.trim().split("\n");
}

describe("package: a consumer app built from npm pack", () => {
  test("holds the compiled code, its types, the license and the changelog, and no sources or tests", () => {
    const { files, dir } = pack();
    expect(files).toContain("dist/src/index.js");
    expect(files).toContain("dist/src/index.d.ts");
    expect(files).toEqual(expect.arrayContaining(["LICENSE", "CHANGELOG.md", "README.md", "package.json"]));
    expect(files.some((f) => f.startsWith("test/") || f.startsWith("src/"))).toBe(false);
    const manifest = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as Record<string, unknown>;
    expect(manifest["license"]).toBe("MIT");
    expect(readFileSync(path.join(dir, "LICENSE"), "utf8")).toMatch(/^MIT License\n/);
    expect(manifest["repository"]).toMatchObject({ type: "git", url: expect.stringMatching(/^git\+https:\/\//) });
    expect(manifest["homepage"]).toMatch(/^https:\/\//);
    expect(manifest["bugs"]).toMatchObject({ url: expect.stringMatching(/^https:\/\//) });
    expect(readFileSync(path.join(dir, "CHANGELOG.md"), "utf8")).toContain(`## [${String(manifest["version"])}]`);
  });

  test("its source maps carry their sources (the TypeScript files they point at are not published)", () => {
    const { files, dir } = pack();
    const maps = files.filter((f) => f.endsWith(".js.map"));
    expect(maps.length).toBeGreaterThan(50);
    for (const map of maps) {
      const { sources, sourcesContent } = JSON.parse(readFileSync(path.join(dir, map), "utf8")) as { sources: string[]; sourcesContent?: (string | null)[] };
      expect({ map, contents: sourcesContent?.length }).toEqual({ map, contents: sources.length });
      expect(sourcesContent!.every((text) => typeof text === "string" && text.length > 0)).toBe(true);
    }
  });

  test("an ES module app compiles against the types and runs", () => {
    const lines = buildAndRun("app-esm", "module", {
      "main.ts": `import { Entity, Column, PrimaryColumn } from "typeorm";
import { createStorage, Repository, IntegrityError, DEFAULT_CAPABILITIES, type Storage, type Query, type Backend, type BackendFactory } from "stratastore";
import { openBackend, runSpiSuite, type SpiTarget } from "stratastore/conformance";

@Entity("notes")
class Note {
  @PrimaryColumn() id: string;
  @Column() text: string;
  constructor(id: string, text: string) { this.id = id; this.text = text; }
}
class NoteRepository extends Repository<Note, string> {
  constructor(storage: Storage) { super(storage, Note); }
  byText(text: string) { const q: Query<Note> = { where: { text } }; return this.findAll(q); }
}
const storage = await createStorage({ url: "memory:", entities: [Note] });
const notes = storage.repository(NoteRepository);
await notes.save(new Note("n1", "hello"));
try { await notes.insert(new Note("n1", "again")); } catch (e) { if (!(e instanceof IntegrityError)) throw e; }
console.log(JSON.stringify((await notes.byText("hello")).map((n) => n.id)));
await storage.close();
// The README's "Writing a backend": a factory of typed options, built on the SPI types and stratastore/conformance.
function renamed(options: { name: string }): BackendFactory {
  return async (context): Promise<Backend> => {
    const inner = await openBackend({ url: "memory:", autoCreate: context.config.autoCreate }, context.schemas);
    return { ...inner, name: options.name, capabilities: { ...DEFAULT_CAPABILITIES, ...inner.capabilities }, session: inner.session, begin: () => inner.begin(), backup: (p) => inner.backup(p), close: () => inner.close() };
  };
}
const target: SpiTarget = { name: "renamed", open: (schemas) => openBackend({ backend: renamed({ name: "renamed" }), autoCreate: true }, schemas) };
if (typeof runSpiSuite !== "function" || typeof target.open !== "function") throw new Error("stratastore/conformance is incomplete");
const own = await createStorage({ backend: renamed({ name: "renamed" }), entities: [Note], autoCreate: true });
await own.repository(Note).save(new Note("n2", "mine"));
console.log(own.backend, (await own.repository(Note).findById("n2"))?.text);
await own.close();
`,
    });
    expect(lines).toEqual(['["n1"]', "renamed mine"]);
  }, 60_000);

  test("a CommonJS app requires it (stratastore and stratastore/conformance), compiled against the same types", () => {
    const lines = buildAndRun("app-cjs", "commonjs", {
      "main.ts": `import "reflect-metadata";
import { Entity, Column, PrimaryGeneratedColumn } from "typeorm";
import { createStorage, Repository, IntegrityError, type Storage } from "stratastore";
import { runSpiSuite } from "stratastore/conformance";

@Entity("cjs_notes")
class Note {
  @PrimaryGeneratedColumn("increment") id!: number;
  @Column() text!: string;
  @Column({ type: "integer", default: 0 }) stars!: number;
}
class NoteRepository extends Repository<Note, number> {
  constructor(storage: Storage) { super(storage, Note); }
}
async function main(): Promise<void> {
  const storage = await createStorage({ url: "sqlite::memory:", entities: [Note], autoCreate: true });
  const notes = storage.repository(NoteRepository);
  const saved = await notes.save({ text: "from require" } as Note);
  try { await notes.insert({ id: saved.id, text: "again" } as Note); } catch (e) { console.log(e instanceof IntegrityError ? "IntegrityError" : String(e)); }
  console.log(JSON.stringify(await notes.findById(saved.id)));
  await storage.close();
  console.log(typeof require, typeof runSpiSuite);
}
main().catch((error: unknown) => { console.error(error); process.exitCode = 1; });
`,
    });
    expect(lines).toEqual(["IntegrityError", '{"id":1,"text":"from require","stars":0}', "function function"]);
  }, 60_000);

  test("plain JavaScript: require() and import() give the same module", () => {
    const { dir } = pack();
    const app = path.join(work, "app-js");
    mkdirSync(app, { recursive: true });
    writeFileSync(
      path.join(app, "main.cjs"),
      `const required = require("stratastore");
const conformance = require("stratastore/conformance");
import("stratastore").then((imported) => console.log(required.createStorage === imported.createStorage, typeof conformance.runSpiSuite, require.resolve("stratastore")));
`,
    );
    const out = execFileSync(process.execPath, [path.join(app, "main.cjs")], { cwd: app, encoding: "utf8" });
    expect(out.trim()).toBe(`true function ${path.join(dir, "dist/src/index.js")}`);
  });
});
