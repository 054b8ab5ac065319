/**
 * The published package works for a fresh TypeScript app: `npm pack`, install the tarball, compile the
 * app with tsc against the package's types, run it with node. Dependencies other than stratastore are
 * linked from this checkout's node_modules (installing them again from the registry would only repeat npm).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, test } from "vitest";

const root = path.resolve(import.meta.dirname, "../..");
const work = mkdtempSync(path.join(tmpdir(), "strata-consumer-"));

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("package: a consumer app built from npm pack", () => {
  test("compiles against the types and runs", () => {
    const packed = JSON.parse(execFileSync("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", work], { cwd: root, encoding: "utf8" })) as Array<{ filename: string; files: { path: string }[] }>;
    const files = packed[0]!.files.map((f) => f.path);
    expect(files).toContain("dist/src/index.js");
    expect(files).toContain("dist/src/index.d.ts");
    expect(files.some((f) => f.startsWith("test/") || f.startsWith("src/"))).toBe(false);

    const app = path.join(work, "app");
    const modules = path.join(app, "node_modules");
    mkdirSync(path.join(modules, "stratastore"), { recursive: true });
    execFileSync("tar", ["-xzf", path.join(work, packed[0]!.filename), "-C", path.join(modules, "stratastore"), "--strip-components=1"]);
    for (const name of readdirSync(path.join(root, "node_modules"))) {
      if (name === "stratastore" || name.startsWith(".")) continue;
      symlinkSync(path.join(root, "node_modules", name), path.join(modules, name));
    }
    writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
    writeFileSync(
      path.join(app, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, experimentalDecorators: true, emitDecoratorMetadata: true, outDir: "out", skipLibCheck: false, types: ["node"] },
        include: ["main.ts"],
      }),
    );
    writeFileSync(
      path.join(app, "main.ts"),
      `import { Entity, Column, PrimaryColumn } from "typeorm";
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
    );
    execFileSync(process.execPath, [path.join(root, "node_modules/typescript/bin/tsc"), "-p", app], { cwd: app, encoding: "utf8" });
    const out = execFileSync(process.execPath, [path.join(app, "out/main.js")], { cwd: app, encoding: "utf8" });
    expect(out.trim().split("\n")).toEqual(['["n1"]', "renamed mine"]);
  }, 60_000);
});
