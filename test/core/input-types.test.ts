/**
 * The input types of writes (`EntityInput<T>` for save/insert/saveMany, `Patch<T>` for update): checked by
 * `tsc -p tsconfig.json` (which includes test/), so user code needs no `as T` cast; a `@ts-expect-error`
 * line that stops being an error fails the typecheck. Run by vitest so that the calls also run.
 */
import "reflect-metadata";
import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, VersionColumn } from "typeorm";
import { afterAll, beforeAll, describe, expect, expectTypeOf, test } from "vitest";
import type { EntityInput, Patch, Storage } from "../../src/index.js";
import { Repository, ValidationError, createStorage } from "../../src/index.js";

@Entity("input_type_tasks")
class Task {
  @PrimaryGeneratedColumn("uuid") id: string;
  @Column({ type: "string" }) title: string;
  @Column({ type: "integer", default: 0 }) priority: number;
  @Column({ type: "string", nullable: true }) note: string | null;
  @CreateDateColumn() createdAt: Date;
  @VersionColumn() version: number;
  /** A method: not a field, so never part of an input. */
  label(): string {
    return `${this.title} (${this.priority})`;
  }
}

class TaskRepository extends Repository<Task, string> {
  constructor(storage: Storage) {
    super(storage, Task);
  }
}

describe("input types", () => {
  let storage: Storage;
  let tasks: TaskRepository;
  beforeAll(async () => {
    storage = await createStorage({ url: "memory:", entities: [Task] });
    tasks = storage.repository(TaskRepository);
  });
  afterAll(() => storage.close());

  test("save, insert and saveMany take an object literal without generated, versioned, dated or defaulted fields", async () => {
    const saved = await tasks.save({ title: "Write docs" });
    expectTypeOf(saved).toEqualTypeOf<Task>();
    expect(saved).toMatchObject({ title: "Write docs", priority: 0, note: null, version: 1 });
    const inserted = await tasks.insert({ title: "Ship", priority: 5 });
    expect(inserted.priority).toBe(5);
    const batch = await tasks.saveMany([{ title: "a" }, { title: "b", note: "n" }]);
    expect(batch.succeeded).toBe(2);
  });

  test("a wrong field type or an unknown field is a type error, and a method is not an input", () => {
    expectTypeOf<EntityInput<Task>>().toHaveProperty("title");
    expectTypeOf<EntityInput<Task>>().not.toHaveProperty("label");
    // @ts-expect-error title is a string
    const wrongType: EntityInput<Task> = { title: 1 };
    // @ts-expect-error no such field
    const unknownField: EntityInput<Task> = { title: "x", titel: "y" };
    expect([wrongType, unknownField]).toHaveLength(2);
  });

  test("update takes a Patch of any fields, typed as the entity's", async () => {
    const saved = await tasks.save({ title: "Move me" });
    const updated = await tasks.update(saved.id, { priority: 3 });
    expectTypeOf(updated).toEqualTypeOf<Task>();
    expect(updated).toMatchObject({ title: "Move me", priority: 3, version: 2 });
    expectTypeOf<Patch<Task>>().not.toHaveProperty("label");
    // @ts-expect-error priority is a number
    const wrong: Patch<Task> = { priority: "high" };
    expect(wrong).toBeDefined();
  });

  test("types cannot see which columns are required: leaving one out is a ValidationError naming it", async () => {
    await expect(tasks.save({ priority: 1 })).rejects.toThrow(ValidationError);
    await expect(tasks.save({ priority: 1 })).rejects.toThrow(/title/);
  });
});
