import "reflect-metadata";
import { test, expect } from "vitest";
import { Entity, Column, PrimaryGeneratedColumn, VersionColumn } from "typeorm";
import { createStorage, Repository, ConcurrencyError } from "../src/index.js";

@Entity("tasks") class Task { @PrimaryGeneratedColumn("uuid") id: string; @Column() title: string; @Column({ type: "integer", nullable: true }) priority: number | null; @VersionColumn() version: number; }

test("smoke", async () => {
  const storage = await createStorage({ url: "memory:", entities: [Task] });
  const tasks = storage.repository(Task);
  const t = await tasks.save({ title: "a", priority: 1 } as Task);
  expect(t.version).toBe(1);
  const u = await tasks.update(t.id, { title: "b", version: 1 });
  expect(u.version).toBe(2);
  await expect(tasks.update(t.id, { title: "c", version: 1 })).rejects.toBeInstanceOf(ConcurrencyError);
  await expect(storage.transaction(async () => { await tasks.save({ title: "x", priority: null } as Task); throw new Error("no"); })).rejects.toThrow("no");
  expect(await tasks.count()).toBe(1);
  expect(await tasks.findAll({ where: { priority: { $ne: 5 } } })).toHaveLength(1);
});
