import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { MigrationError, StorageError, UnsupportedError, createStorage, defineMigration, readEntitySchema } from "../../src/index.js";
import { createMemoryBackend } from "../../src/backends/memory/memory-backend.js";
import { resolveConfig } from "../../src/config/storage-config.js";
import { isKnownBackend } from "../../src/spi/backend-registry.js";
import { openBackend } from "../../src/conformance/index.js";
import { Project, Task, TaskRepository, User } from "../../entities/index.js";

const work = mkdtempSync(path.join(tmpdir(), "strata-memory-backup-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("memory: backup", () => {
  test("writes a file-backend directory that createStorage opens with the same data", async () => {
    const notes = defineMigration({
      version: 1,
      name: "create-notes",
      async up(m) {
        await m.createTable("notes", { id: { type: "string", primary: true }, body: { type: "string" } });
        await m.insertRows("notes", [{ id: "n1", body: "kept too" }]);
      },
    });
    const storage = await createStorage({ url: "memory:", entities: [User, Project, Task], migrations: [notes] });
    await storage.migrations.up();
    const tasks = storage.repository(TaskRepository);
    const due = new Date(Date.UTC(2030, 4, 6, 7, 8, 9, 10));
    const saved = await tasks.save({ projectId: "p", title: "Back me up", priority: 3, dueAt: due, labels: ["a"] } as Task);
    const target = path.join(work, "copy");
    await storage.backup(target);
    await storage.close();

    const copy = await createStorage({ url: `file:${target}`, entities: [User, Project, Task], migrations: [notes] });
    const restored = await copy.repository(TaskRepository).findById(saved.id);
    expect({ ...restored }).toEqual({ ...saved });
    expect(restored!.dueAt).toEqual(due);
    expect((await copy.migrations.status()).map((s) => s.state)).toEqual(["applied"]);
    await copy.close();
  });

  test("refuses a target that already holds data, and changes nothing there", async () => {
    const target = path.join(work, "taken");
    const first = await createStorage({ url: `file:${target}`, entities: [User], autoCreate: true });
    await first.repository(User).save({ id: "u", email: "u@example.com", name: "Kept" } as User);
    await first.close();
    const storage = await createStorage({ url: "memory:", entities: [User] });
    await storage.repository(User).save({ id: "v", email: "v@example.com", name: "New" } as User);
    await expect(storage.backup(target)).rejects.toThrow(MigrationError);
    await storage.close();
    const reopened = await createStorage({ url: `file:${target}`, entities: [User] });
    expect((await reopened.repository(User).findAll()).map((u) => u.name)).toEqual(["Kept"]);
    await reopened.close();
  });

  test("a target that is a file is refused", async () => {
    const file = path.join(work, "plain-file");
    mkdirSync(work, { recursive: true });
    writeFileSync(file, "not a directory");
    const storage = await createStorage({ url: "memory:", entities: [User] });
    const error = await storage.backup(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect((error as Error).message).toContain(file);
    await storage.close();
  });

  test("a memory backend opened bare, as the SPI suite opens it, backs up too: the copy module comes with its context", async () => {
    const users = readEntitySchema(User);
    const backend = await openBackend({ url: "memory:", autoCreate: true }, [users]);
    const createdAt = new Date(Date.UTC(2031, 0, 2, 3, 4, 5, 6));
    await backend.session.insert(users, { id: "b", email: "b@example.com", name: "Bare", createdAt });
    const target = path.join(work, "bare");
    await backend.backup(target);
    await backend.close();
    const copy = await createStorage({ url: `file:${target}`, entities: [User] });
    expect((await copy.repository(User).findAll()).map((u) => ({ ...u }))).toEqual([{ id: "b", email: "b@example.com", name: "Bare", createdAt }]);
    await copy.close();
  });

  test("a memory backend built without BackendContext.backupToDirectory says how to get it, and writes nothing", async () => {
    const { backendSource: _source, ...config } = resolveConfig({ url: "memory:" }, isKnownBackend);
    const backend = await createMemoryBackend({ config, schemas: [readEntitySchema(User)], logger: config.logger });
    const target = path.join(work, "never");
    const error = await backend.backup(target).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsupportedError);
    expect((error as Error).message).toMatch(/without BackendContext\.backupToDirectory.*createStorage/);
    expect(existsSync(target)).toBe(false);
    await backend.close();
  });
});
