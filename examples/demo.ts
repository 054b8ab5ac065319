/**
 * `npm start`: a short tour of Strata over the example task board in entities/.
 * Runs on STRATA_URL when set, else on the embedded default.
 */
import { existsSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { ConcurrencyError, createStorage } from "../src/index.js";
import type { Storage } from "../src/index.js";
import { ENTITIES, Project, TaskRepository, User } from "../entities/index.js";

/** The demo itself, on an open storage; `log` receives each line. Returns the lines for tests. */
export async function runDemo(storage: Storage, log: (line: string) => void = console.log): Promise<string[]> {
  const lines: string[] = [];
  const say = (line: string) => {
    lines.push(line);
    log(line);
  };
  const users = storage.repository(User);
  const projects = storage.repository(Project);
  const tasks = storage.repository(TaskRepository);

  // Idempotent: a second run on persistent storage starts from the same state.
  await tasks.deleteMany({ projectId: "launch" });
  await users.save({ id: "ada", email: "ada@example.com", name: "Ada" });
  await projects.save({ id: "launch", name: "Launch", ownerId: "ada" });
  const titles: Array<[string, number]> = [["Write the README", 2], ["Fix the login bug", 5], ["Plan the party", 1], ["Review the budget", 3]];
  const batch = await tasks.saveMany(titles.map(([title, priority]) => ({ projectId: "launch", title, priority })));
  say(`Saved ${batch.succeeded} tasks on the "${(await projects.findById("launch"))?.name}" board of ${(await users.findById("ada"))?.name}.`);

  const open = await tasks.openByPriority("launch");
  say(`Open tasks by priority: ${open.map((t) => `${t.title} (${t.priority})`).join(", ")}.`);

  const top = open[0]!;
  const started = await tasks.move(top, "doing");
  say(`Moved "${started.title}" to ${started.status}; its version went from ${top.version} to ${started.version}.`);
  try {
    await tasks.move(top, "done");
  } catch (error) {
    if (!(error instanceof ConcurrencyError)) throw error;
    say(`Moving it again from the stale copy was refused: ${error.constructor.name}.`);
  }

  const before = await tasks.count({ projectId: "launch" });
  try {
    await storage.transaction(async () => {
      await tasks.save({ projectId: "launch", title: "Half-done import", priority: 0 });
      await tasks.deleteMany({ projectId: "launch", status: "open" });
      throw new Error("the import failed");
    });
  } catch (error) {
    say(`A transaction that saved 1 task and deleted ${before - 1} failed (${(error as Error).message}) and rolled back: still ${await tasks.count({ projectId: "launch" })} tasks.`);
  }
  const labelled = await tasks.update(open[1]!.id, { labels: ["urgent", "backend"] });
  say(`Labels round-trip as JSON: ${JSON.stringify(labelled.labels)}; urgent-looking titles: ${(await tasks.findAll({ where: { title: { $ilike: "%BUG%" } } })).map((t) => t.title).join(", ")}.`);

  // A hot path: the same few tasks read over and over are served by the L1 cache after the first read.
  if (storage.cache.enabled) {
    const before = storage.cache.stats().l1;
    for (let i = 0; i < 1000; i++) await tasks.findById(open[i % open.length]!.id);
    const after = storage.cache.stats().l1;
    const hits = after.hits - before.hits;
    const reads = hits + after.misses - before.misses;
    say(`1000 reads of ${open.length} hot tasks: ${((100 * hits) / reads).toFixed(1)}% served by the L1 cache.`);
  } else {
    say("The cache is off on this backend (pass cache: {} to createStorage to turn it on).");
  }
  return lines;
}

/** The demo's migrations folder: migrations/ at the repository root, from examples/ or dist/examples/. */
function migrationsFolder(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return [path.resolve(here, "../migrations"), path.resolve(here, "../../migrations")].find((dir) => existsSync(dir))!;
}

async function main(): Promise<void> {
  const url = process.env["STRATA_URL"] ?? "sqlite:./data/strata.db";
  // The schema comes from the migrations (the same ones `strata migrate up` applies), not from autoCreate.
  // The demo is the only process on its data, so an L1 cache is safe on every backend (on sqlite and
  // postgres it is off unless asked for, since other processes' writes could not reach it).
  const storage = await createStorage({ url, entities: ENTITIES, migrations: migrationsFolder(), autoCreate: false, cache: {} });
  console.log(`Strata demo on ${storage.backend} (${url})\n`);
  for (const applied of await storage.migrations.up()) console.log(`Migrated: ${applied.version} ${applied.name}`);
  for (const s of await storage.migrations.status()) console.log(`  ${String(s.version).padStart(4, "0")} ${s.name.padEnd(18)} ${s.state}`);
  console.log("");
  try {
    await runDemo(storage);
  } finally {
    await storage.close();
  }
}

// Run when executed directly (npm start), not when imported by a test.
if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
