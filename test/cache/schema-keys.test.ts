/**
 * Cache keys follow the schema across restarts: a process opened after a migration (run by another
 * process, e.g. `strata migrate up`) never reads L2 entries written under the old schema.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { Column, Entity, PrimaryColumn } from "typeorm";
import { createStorage, defineMigration } from "../../src/index.js";

@Entity("notes")
class NoteV1 {
  @PrimaryColumn({ type: "string" }) id: string;
  @Column({ type: "string" }) title: string;
  @Column({ type: "boolean" }) done: boolean;
}

@Entity("notes")
class NoteV2 {
  @PrimaryColumn({ type: "string" }) id: string;
  @Column({ type: "string" }) title: string;
  @Column({ type: "integer", default: 0 }) priority: number;
  @Column({ type: "boolean" }) done: boolean;
}

const create = defineMigration({
  version: 1,
  name: "create-notes",
  async up(m) {
    await m.createTable("notes", { id: { type: "string", primary: true }, title: { type: "string" }, done: { type: "boolean" } });
  },
});
const retitle = defineMigration({
  version: 2,
  name: "retitle-notes",
  async up(m) {
    await m.updateRows("notes", () => ({ title: "migrated" }));
  },
});
const addPriority = defineMigration({
  version: 3,
  name: "add-priority",
  async up(m) {
    await m.addColumn("notes", "priority", { type: "integer", default: 7 });
  },
});

const dir = mkdtempSync(path.join(tmpdir(), "strata-schema-keys-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function migrate(url: string, migrations: ReturnType<typeof defineMigration>[]): Promise<void> {
  const cli = await createStorage({ url, migrations, autoCreate: false, cache: false });
  await cli.migrations.up();
  await cli.close();
}

describe("sqlite: cache keys across migrations run elsewhere", () => {
  test("a data migration and a new column are both seen after a restart, though the file L2 kept old entries", async () => {
    const url = `sqlite:${path.join(dir, "notes.db")}`;
    const l2 = { type: "file" as const, dir: path.join(dir, "l2") };
    await migrate(url, [create]);

    const before = await createStorage({ url, entities: [NoteV1], cache: { l2 } });
    await before.repository(NoteV1).save({ id: "a", title: "original", done: true });
    expect((await before.repository(NoteV1).findById("a"))?.title).toBe("original");
    await before.close();

    await migrate(url, [create, retitle]);
    const afterData = await createStorage({ url, entities: [NoteV1], cache: { l2 } });
    expect((await afterData.repository(NoteV1).findById("a"))?.title).toBe("migrated");
    await afterData.close();

    await migrate(url, [create, retitle, addPriority]);
    const afterShape = await createStorage({ url, entities: [NoteV2], cache: { l2 } });
    expect({ ...(await afterShape.repository(NoteV2).findById("a")) }).toEqual({ id: "a", title: "migrated", priority: 7, done: true });
    await afterShape.close();
  });
});
