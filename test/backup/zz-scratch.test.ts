import "reflect-metadata";
import fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import { Task } from "../../entities/index.js";
import { createStorage } from "../../src/index.js";
import { listGenerations, verifyGeneration } from "../../src/backup/backup-generations.js";
import { backupPlanOf } from "../../src/backup/backup-plan.js";
import { restoreGeneration } from "../../src/backup/restore-generation.js";
import { coreOf } from "../../src/storage-core.js";

let dir: string;
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "strata-scratch-")); });
afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });
const NEVER = 2 ** 31 - 1;

test("A: wal generation files", async () => {
  const db = path.join(dir, "app.db");
  const s = await createStorage({ url: `sqlite:${db}`, entities: [Task], autoCreate: true, backup: { enabled: true, intervalMs: NEVER } });
  await s.repository(Task).save({ projectId: "p", title: "a" });
  const g = await coreOf(s).backups!.create("manual");
  console.log("after create", fs.readdirSync(g.path), fs.readFileSync(g.dataPath).subarray(18, 20));
  await s.close();
  const plan = backupPlanOf("sqlite", db, undefined)!;
  await restoreGeneration("sqlite", db, plan, g.name);
  console.log("after restore", fs.readdirSync(g.path), fs.readdirSync(dir));
  console.log(listGenerations(plan.root).map((x) => [x.name, x.manifest.reason, fs.readdirSync(x.path)]));
});

test("B: file restore with dir via symlink", async () => {
  const real = path.join(dir, "real");
  fs.mkdirSync(real);
  fs.symlinkSync(real, path.join(dir, "link"));
  const data = path.join(dir, "link", "data");
  const root = path.join(dir, "real", "data", "backups");
  const s = await createStorage({ url: `file:${data}`, entities: [Task], autoCreate: true, backup: { enabled: true, dir: root, intervalMs: NEVER } });
  await s.repository(Task).save({ projectId: "p", title: "a" });
  const g = await coreOf(s).backups!.create("manual");
  await s.repository(Task).save({ projectId: "p", title: "b" });
  await s.close();
  const plan = backupPlanOf("file", data, root)!;
  const r = await restoreGeneration("file", data, plan, g.name);
  console.log("B replaced", r.replaced?.name, fs.existsSync(root) ? fs.readdirSync(root) : "ROOT GONE", fs.readdirSync(data));
});

test("C: file data symlink", async () => {
  const data = path.join(dir, "data");
  const root = path.join(dir, "gens");
  const s = await createStorage({ url: `file:${data}`, entities: [Task], autoCreate: true, backup: { enabled: true, dir: root, intervalMs: NEVER } });
  await s.repository(Task).save({ projectId: "p", title: "a" });
  const g = await coreOf(s).backups!.create("manual");
  await s.close();
  const elsewhere = path.join(dir, "elsewhere");
  fs.cpSync(g.dataPath, elsewhere, { recursive: true });
  fs.rmSync(g.dataPath, { recursive: true });
  fs.symlinkSync(elsewhere, g.dataPath);
  let verdict = "passed";
  try { await verifyGeneration(g); } catch (e) { verdict = String(e); }
  console.log("C verify", verdict);
});

test("D: backup during an open transaction that rolls back", async () => {
  const db = path.join(dir, "app.db");
  const s = await createStorage({ url: `sqlite:${db}`, entities: [Task], autoCreate: true, backup: { enabled: true, intervalMs: NEVER } });
  await s.repository(Task).save({ projectId: "p", title: "committed" });
  let made: any;
  await s.transaction(async () => {
    await s.repository(Task).save({ projectId: "p", title: "rolled back" });
    made = coreOf(s).backups!.create("manual");
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    throw new Error("undo");
  }).catch((e) => console.log("tx", String(e)));
  made = await made;
  await s.close();
  const g = await createStorage({ url: `sqlite:${made.dataPath}`, entities: [Task] });
  console.log("D titles in generation", (await g.repository(Task).findAll()).map((t) => t.title));
  await g.close();
});

import { defineMigration } from "../../src/index.js";
test("E: file keep prunes the pre-migration generation during its own run", async () => {
  const data = path.join(dir, "data");
  const root = path.join(dir, "gens");
  const step = (version: number) => defineMigration({ version, name: `step${version}`, up: async (m) => void (await m.updateRows("tasks", (row) => ({ ...row, title: `${String(row["title"])}+${version}` }))), down: async () => {} });
  const broken = defineMigration({ version: 9, name: "broken", up: async () => { throw new Error("broken"); } });
  const s = await createStorage({ url: `file:${data}`, entities: [Task], autoCreate: true, migrations: [step(1), step(2), step(3), broken], backup: { enabled: true, dir: root, intervalMs: NEVER } });
  await s.repository(Task).save({ projectId: "p", title: "a" });
  await s.migrations.up().catch((e) => console.log("E up", String(e).slice(0, 80)));
  console.log("E gens", listGenerations(root).map((g) => g.manifest.reason));
  await s.close();
});

test("F: delete-mode storage open elsewhere", async () => {
  const db = path.join(dir, "app.db");
  const s = await createStorage({ url: `sqlite:${db}`, entities: [Task], autoCreate: true, sqlite: { journalMode: "delete" }, backup: { enabled: true, intervalMs: NEVER } });
  await s.repository(Task).save({ projectId: "p", title: "a" });
  const g = await coreOf(s).backups!.create("manual");
  await s.repository(Task).save({ projectId: "p", title: "b" });
  let verdict = "restored";
  try { await restoreGeneration("sqlite", db, backupPlanOf("sqlite", db, undefined)!, g.name); } catch (e) { verdict = String(e); }
  console.log("F", verdict, (await s.repository(Task).findAll()).map((t) => t.title));
  await s.close();
});
