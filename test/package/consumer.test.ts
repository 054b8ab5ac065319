/**
 * The published package works for a fresh TypeScript app: `npm pack`, install the tarball, compile the
 * app with tsc against the package's types, run it with node; as an ES module app and as a CommonJS one
 * (Node's require() of ES modules), compiled by TypeScript 5.9 and by TypeScript 7 (the native compiler,
 * devDependency `typescript-7`). Dependencies other than stratastore are linked from this checkout's
 * node_modules (installing them again from the registry would only repeat npm); the `strata` bin is linked
 * as npm links it.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
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
  // The bin, as npm links it: node_modules/.bin/strata, executable.
  const bin = path.join(modules, ".bin");
  mkdirSync(bin);
  chmodSync(path.join(dir, "dist/src/cli/strata.js"), 0o755);
  symlinkSync("../stratastore/dist/src/cli/strata.js", path.join(bin, "strata"));
  packed = { files: result!.files.map((f) => f.path), dir };
  return packed;
}

/** The compilers an app is built with: the project's TypeScript 5.9, and TypeScript 7 (the native tsc) under its alias. */
const compilers = { "5.9": "typescript", "7": "typescript-7" } as const;
type Compiler = keyof typeof compilers;

/** An app: work/<name>, with a package.json of `type` and `files` (its `.ts` files outside migrations/ compiled by `compiler`). */
interface App {
  name: string;
  type: "module" | "commonjs";
  files: Record<string, string>;
  compiler: Compiler;
}

const apps: App[] = [];
const compiled = new Set<Compiler>();

/** Declares an app (while the tests are collected); {@link built} writes and compiles it. */
function app(name: string, type: App["type"], files: Record<string, string>, compiler: Compiler = "5.9"): App {
  const declared: App = { name, type, files, compiler };
  apps.push(declared);
  return declared;
}

/**
 * The folder of `app`, written and compiled: every app of its compiler in one tsc program (`strict`,
 * `skipLibCheck: false`), so that the package's declarations and their dependencies' are checked once, not once
 * an app. NodeNext gives each file the module kind of its app's package.json; each `.js` lands beside its `.ts`.
 */
function built(app: App): string {
  const folder = path.join(work, app.name);
  if (compiled.has(app.compiler)) return folder;
  pack();
  const sources: string[] = [];
  for (const { name, type, files, compiler } of apps) {
    if (compiler !== app.compiler) continue;
    mkdirSync(path.join(work, name), { recursive: true });
    writeFileSync(path.join(work, name, "package.json"), JSON.stringify({ name, private: true, type }));
    for (const [file, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(work, name, file)), { recursive: true });
      writeFileSync(path.join(work, name, file), text);
      if (file.endsWith(".ts") && !file.startsWith("migrations/")) sources.push(`${name}/${file}`);
    }
  }
  const tsconfig = path.join(work, `tsconfig-${app.compiler}.json`);
  writeFileSync(
    tsconfig,
    JSON.stringify({
      compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, experimentalDecorators: true, emitDecoratorMetadata: true, skipLibCheck: false, types: ["node"] },
      files: sources,
    }),
  );
  try {
    execFileSync(process.execPath, [path.join(root, "node_modules", compilers[app.compiler], "bin/tsc"), "-p", tsconfig], { cwd: work, encoding: "utf8" });
  } catch (error) {
    // tsc prints its diagnostics on stdout: the failure should show them.
    throw new Error(`TypeScript ${app.compiler} failed:\n${(error as { stdout?: string }).stdout ?? String(error)}`, { cause: error });
  }
  compiled.add(app.compiler);
  return folder;
}

/** Runs `app`'s main.js with node; its stdout lines. */
function run(app: App): string[] {
  const folder = built(app);
  const out = execFileSync(process.execPath, [path.join(folder, "main.js")], { cwd: folder, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  return out.trim().split("\n");
}

/** The rows of `sql` read from the app's database by plain better-sqlite3, as the user's own tools would. */
function sqliteRows(app: string, sql: string): unknown[] {
  const db = new Database(path.join(app, "data/app.db"), { readonly: true });
  try {
    return db.prepare(sql).all();
  } finally {
    db.close();
  }
}

/** Runs the installed `strata` bin in `app`, as a user's shell would (through its `#!/usr/bin/env node` line). */
function strata(app: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(path.join(work, "node_modules/.bin/strata"), args, { cwd: app, encoding: "utf8", env: { ...process.env, STRATA_URL: "" } });
  return { status: result.status, stdout: result.stdout.trim(), stderr: result.stderr.trim() };
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

  const esm = app("app-esm", "module", {
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
  test("an ES module app compiles against the types and runs", () => {
    expect(run(esm)).toEqual(['["n1"]', "renamed mine"]);
  });

  const cjs = app("app-cjs", "commonjs", {
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
  const saved = await notes.save({ text: "from require" });
  try { await notes.insert({ id: saved.id, text: "again" }); } catch (e) { console.log(e instanceof IntegrityError ? "IntegrityError" : String(e)); }
  console.log(JSON.stringify(await notes.findById(saved.id)));
  await storage.close();
  console.log(typeof require, typeof runSpiSuite);
}
main().catch((error: unknown) => { console.error(error); process.exitCode = 1; });
`,
  });
  test("a CommonJS app requires it (stratastore and stratastore/conformance), compiled against the same types", () => {
    expect(run(cjs)).toEqual(["IntegrityError", '{"id":1,"text":"from require","stars":0}', "function function"]);
  });

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

/**
 * Issue 13's consumer app: every point a user of the peers (TypeORM, Prisma, Drizzle) expects on day one, used
 * without a cast. The app is made of sections, each its code (run in order inside `main()`, with `storage`,
 * `posts`, `warnings` and `ada` in scope) and the lines it prints; a new point is a new section.
 */
interface Section {
  /** The issue's point(s) it shows. */
  point: string;
  code: string;
  expected: string[];
}

const sections: Section[] = [
  {
    point: "7, 8: the migrations the CLI applied (a .ts one through tsx; a .js one whose m.insertRows generated keys and dates, m.deleteRows)",
    code: `console.log("migrations", (await storage.migrations.status()).map((m) => \`\${m.version}:\${m.state}\`).join(" "));
const authors = await storage.repository(Author).findAll();
const ada = authors[0];
if (ada === undefined || authors.length !== 1) throw new Error(\`expected Ada alone, got \${JSON.stringify(authors)}\`);
console.log("author", ada.name, /^[0-9a-f]{8}-[0-9a-f]{4}-/.test(ada.id), ada.createdAt instanceof Date, ada.updatedAt instanceof Date);`,
    expected: ["migrations 1:applied 2:applied 3:applied", "author Ada true true true"],
  },
  {
    point: "6, 10: storage.sql on SQLite; the table's columns in declaration order",
    code: `const columns = await storage.sql<{ name: string }>\`select name from pragma_table_info(\${"posts"}) order by cid\`;
console.log("columns", columns.map((c) => c.name).join(","));`,
    expected: ["columns id,authorId,title,slug,tags,viewCount,published,version,createdAt"],
  },
  {
    point: "4: EntityInput for save, insert and saveMany, Patch for update",
    code: `const draft: EntityInput<Post> = { authorId: ada.id, title: "Hello", slug: "hello", tags: ["intro"] };
const saved = await posts.save(draft);
const inserted = await posts.insert({ authorId: ada.id, title: "Second" });
const batch = await posts.saveMany([{ authorId: ada.id, title: "Third" }, { authorId: ada.id, title: "Fourth", published: true }]);
const patch: Patch<Post> = { viewCount: 42 };
const updated = await posts.update(saved.id, patch);
console.log("inputs", saved.version, inserted.viewCount, inserted.published, inserted.slug, batch.succeeded, updated.viewCount, updated.version);`,
    expected: ["inputs 1 0 false null 2 42 2"],
  },
  {
    point: "1: a partial save keeps the fields it omits; null sets null",
    code: `const renamed = await posts.save({ id: saved.id, authorId: ada.id, title: "Renamed" });
const { title, slug, tags, viewCount, published, version } = renamed;
console.log("partial", JSON.stringify({ title, slug, tags, viewCount, published, version }));
const cleared = await posts.save({ id: saved.id, slug: null });
console.log("null", cleared.slug, cleared.title, cleared.viewCount);`,
    expected: ['partial {"title":"Renamed","slug":"hello","tags":["intro"],"viewCount":42,"published":false,"version":3}', "null null Renamed 42"],
  },
  {
    point: "6: storage.sql joins the ambient transaction",
    code: `const counted = await storage.transaction(async () => {
  await posts.save({ authorId: ada.id, title: "Fifth" });
  const [row] = await storage.sql<{ n: number }>\`select count(*) as n from posts where authorId = \${ada.id}\`;
  return row?.n;
});
console.log("sql", counted);`,
    expected: ["sql 5"],
  },
  {
    point: "11: findAll({ cache: true }) on a storage without a cache says so once, through the logger",
    code: `const first = await posts.byAuthor(ada.id);
await posts.byAuthor(ada.id);
console.log("cache", first.map((p) => p.title).join(","), warnings.length, warnings[0]?.includes("a query asked for \`cache\`"));`,
    expected: ["cache Fifth,Fourth,Renamed,Second,Third 1 true"],
  },
  {
    point: "5: storage.on(\"query\") hears each operation with its SQL and bound values; logQueries writes them to the logger",
    code: `const heard: string[] = [];
const stop = storage.on("query", (e) => { heard.push(\`\${e.operation} \${e.table} \${e.rows} \${e.sql?.startsWith("SELECT")} \${e.params?.length}\`); });
await posts.findById(saved.id);
await posts.count({ published: false });
stop();
await posts.count();
console.log("heard", heard.join(" | "));
const logged: string[] = [];
const logging = await createStorage({ url: "sqlite:./data/app.db", entities: [Author, Post], autoCreate: false, logQueries: true, logger: { ...logger, debug: (message) => { logged.push(message); } } });
await logging.repository(Post).count();
await logging.close();
console.log("logged", logged.length, logged[0]?.includes("posts"));`,
    expected: ["heard findById posts 1 true 1 | count posts 4 true 1", "logged 1 true"],
  },
];

/** The app's entities: columns typed by `emitDecoratorMetadata` where TypeScript's type says it, explicit where it cannot (unions, arrays). */
const entitiesSource = `import { Entity, Column, PrimaryGeneratedColumn, VersionColumn, CreateDateColumn, UpdateDateColumn } from "typeorm";

@Entity("authors")
export class Author {
  @PrimaryGeneratedColumn("uuid") id!: string;
  @Column() name!: string;
  @CreateDateColumn() createdAt!: Date;
  @UpdateDateColumn() updatedAt!: Date;
}

@Entity("posts")
export class Post {
  @PrimaryGeneratedColumn("uuid") id!: string;
  @Column() authorId!: string;
  @Column() title!: string;
  @Column({ type: "string", nullable: true }) slug!: string | null;
  @Column({ type: "json", nullable: true }) tags!: string[] | null;
  @Column({ default: 0 }) viewCount!: number;
  @Column({ default: false }) published!: boolean;
  @VersionColumn() version!: number;
  @CreateDateColumn() createdAt!: Date;
}

export const ENTITIES = [Author, Post];
`;

/** The entities after the user renamed Post.viewCount to views (point 2). */
const renamedEntitiesSource = entitiesSource.replace("viewCount!: number", "views!: number");
/** ... and then dropped Post.tags, which holds a value in one row. */
const droppedEntitiesSource = renamedEntitiesSource.replace(/^.*tags!: string\[\] \| null;\n/m, "");

const mainSource = `import "reflect-metadata";
import { createStorage, Repository, type EntityInput, type Logger, type Patch, type Storage } from "stratastore";
import { Author, Post } from "./entities.js";

class PostRepository extends Repository<Post, string> {
  constructor(storage: Storage) { super(storage, Post); }
  byAuthor(authorId: string) { return this.findAll({ where: { authorId }, orderBy: { title: "asc" }, cache: true }); }
}

async function main(): Promise<void> {
  const warnings: string[] = [];
  const logger: Logger = { debug() {}, info() {}, warn: (message) => { warnings.push(message); }, error: (message) => { console.error(message); } };
  const storage = await createStorage({ url: "sqlite:./data/app.db", entities: [Author, Post], migrations: "migrations", autoCreate: false, logger });
  const posts = storage.repository(PostRepository);
  try {
${sections.map((s) => `    // Issue 13, point ${s.point}\n${s.code.replace(/^/gm, "    ")}`).join("\n")}
  } finally {
    await storage.close();
  }
}
main().catch((error: unknown) => { console.error(error); process.exitCode = 1; });
`;

/** Migration 1, in TypeScript: the CLI loads it through tsx. */
const createAuthorsMigration = `import { defineMigration } from "stratastore";

export default defineMigration({
  version: 1,
  name: "create-authors",
  async up(m) {
    await m.createTable("authors", { id: { type: "string", primary: true, generated: "uuid" }, name: { type: "string" }, createdAt: { type: "datetime" }, updatedAt: { type: "datetime" } });
  },
  async down(m) { await m.dropTable("authors"); },
});
`;

/** Migration 2, in JavaScript of the app's module kind: rows whose key and dates m.insertRows fills in, then m.deleteRows. */
function seedAuthorsMigration(type: "module" | "commonjs"): string {
  const body = `defineMigration({
  version: 2,
  name: "seed-authors",
  async up(m) {
    await m.insertRows("authors", [{ name: "Ada" }, { name: "Grace" }, { name: "Linus" }]);
    const deleted = await m.deleteRows("authors", { name: { $in: ["Grace", "Linus"] } });
    if (deleted !== 2) throw new Error(\`deleteRows deleted \${deleted} rows\`);
  },
  async down(m) { await m.deleteRows("authors", {}); },
})`;
  return type === "module"
    ? `import { defineMigration } from "stratastore";\n\nexport default ${body};\n`
    : `const { defineMigration } = require("stratastore");\n\nmodule.exports = ${body};\n`;
}

describe.each([
  { compiler: "5.9", type: "module" },
  { compiler: "5.9", type: "commonjs" },
  { compiler: "7", type: "module" },
  { compiler: "7", type: "commonjs" },
] as const)("package: issue 13's app, TypeScript $compiler, $type", ({ compiler, type }) => {
  const declared = app(
    `app-13-ts${compiler.replace(".", "")}-${type === "module" ? "esm" : "cjs"}`,
    type,
    {
      "entities.ts": entitiesSource,
      "entities-renamed.ts": renamedEntitiesSource,
      "entities-dropped.ts": droppedEntitiesSource,
      "main.ts": mainSource,
      "strata.config.json": JSON.stringify({ url: "sqlite:./data/app.db", entities: "./entities.js" }),
      "strata.renamed.json": JSON.stringify({ url: "sqlite:./data/app.db", entities: "./entities-renamed.js" }),
      "strata.dropped.json": JSON.stringify({ url: "sqlite:./data/app.db", entities: "./entities-dropped.js" }),
    },
    compiler,
  );
  const folder = path.join(work, declared.name);

  test("compiles without a cast under strict and skipLibCheck: false", () => {
    // No `x as T`, no `<T>x`: the inputs are typed by the package.
    const source = [entitiesSource, renamedEntitiesSource, droppedEntitiesSource, mainSource, createAuthorsMigration, seedAuthorsMigration(type)].join("\n");
    expect(source).not.toMatch(/\bas\s+(?:unknown|any|never|string|number|boolean|object|[A-Z]\w*|\{|\[)|<[A-Z]\w*>\s*[\w{[(]/);
    built(declared);
    // CommonJS (point 3): the compiled app require()s the package.
    expect(readFileSync(path.join(folder, "main.js"), "utf8").includes('require("stratastore")')).toBe(type === "commonjs");
    // The columns without a type rely on the emitted metadata.
    expect(readFileSync(path.join(folder, "entities.js"), "utf8")).toContain('__metadata("design:type", String)');
  });

  test("strata --version prints the package's version (point 9)", () => {
    const { version } = JSON.parse(readFileSync(path.join(pack().dir, "package.json"), "utf8")) as { version: string };
    expect(strata(folder, "--version")).toEqual({ status: 0, stdout: version, stderr: "" });
  });

  test("strata migrate status with no migrations folder fails and creates no database file (point 12)", () => {
    const result = strata(folder, "migrate", "status");
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`No migrations folder at ${path.join(folder, "migrations")}`);
    expect(existsSync(path.join(folder, "data"))).toBe(false);
  });

  test("strata migrate up applies a .ts migration and a .js one (points 7, 8)", () => {
    mkdirSync(path.join(folder, "migrations"));
    writeFileSync(path.join(folder, "migrations/0001-create-authors.ts"), createAuthorsMigration);
    writeFileSync(path.join(folder, "migrations/0002-seed-authors.js"), seedAuthorsMigration(type));
    const result = strata(folder, "migrate", "up");
    expect(result).toMatchObject({ status: 0, stderr: "" });
    expect(result.stdout).toContain("create-authors");
    expect(result.stdout).toContain("seed-authors");
  });

  test("strata migrate generate writes the posts table from the entities, against the migrations folder (point 2)", () => {
    const result = strata(folder, "migrate", "generate", "create-posts");
    expect(result).toMatchObject({ status: 0, stderr: "" });
    expect(result.stdout).toMatch(/^Created migrations\/0003-create-posts\.\w+ with 1 change:\n {2}.*posts/);
    expect(strata(folder, "migrate", "up")).toMatchObject({ status: 0, stderr: "" });
    // Nothing left to write: the entities and the folder agree.
    expect(strata(folder, "migrate", "generate", "again")).toMatchObject({ status: 0, stdout: expect.stringContaining("nothing written") });
  });

  test("runs every section and prints what each expects", () => {
    expect(run(declared)).toEqual(sections.flatMap((s) => s.expected));
  });

  test("a renamed column keeps its values: generate asks, --rename settles it (point 2)", () => {
    const refused = strata(folder, "--config", "strata.renamed.json", "migrate", "generate", "rename-views");
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("--rename posts.viewCount:views");
    expect(readdirSync(path.join(folder, "migrations")).filter((f) => f.includes("rename-views"))).toEqual([]);
    const written = strata(folder, "--config", "strata.renamed.json", "migrate", "generate", "rename-views", "--rename", "posts.viewCount:views");
    expect(written).toMatchObject({ status: 0, stderr: "" });
    expect(strata(folder, "--config", "strata.renamed.json", "migrate", "up")).toMatchObject({ status: 0, stderr: "" });
    expect(sqliteRows(folder, "select views from posts where title = 'Renamed'")).toEqual([{ views: 42 }]);
  });

  test("a dropped column holding data is refused with its row count, then written with --allow-data-loss (point 2)", () => {
    const refused = strata(folder, "--config", "strata.dropped.json", "migrate", "generate", "drop-tags");
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("posts.tags: 1 row with a value");
    expect(strata(folder, "--config", "strata.dropped.json", "migrate", "generate", "drop-tags", "--allow-data-loss")).toMatchObject({ status: 0, stderr: "" });
    expect(strata(folder, "--config", "strata.dropped.json", "migrate", "up")).toMatchObject({ status: 0, stderr: "" });
    expect(sqliteRows(folder, "select name from pragma_table_info('posts') where name = 'tags'")).toEqual([]);
  });
});

