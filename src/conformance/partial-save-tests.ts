/**
 * Partial saves (README, "Repositories": `save`): on an existing row, a field left undefined or absent keeps
 * its stored value and `null` sets null; on insert, absent fields get their default or null, and a required
 * one left out is a `ValidationError`. Through `save` and `saveMany`, inside transactions, with the optimistic
 * lock, and read back through the cache where the storage has one (each case reads before it writes, so a
 * cached copy is there to go stale).
 */
import assert from "node:assert/strict";
import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn, VersionColumn } from "typeorm";
import { ConcurrencyError, IntegrityError, ValidationError } from "../errors.js";
import type { StorageError } from "../errors.js";
import type { Storage } from "../storage.js";

/** A post as issue reports described it: required, defaulted, nullable, json, unique and dated fields, and a version. */
@Entity("conf_posts")
export class ConfPost {
  @PrimaryColumn({ type: "string" }) id: string;
  @Column({ type: "string" }) authorId: string;
  @Column({ type: "string" }) title: string;
  @Column({ type: "string", nullable: true, unique: true }) slug: string | null;
  @Column({ type: "simple-json", nullable: true }) tags: unknown;
  @Column({ type: "integer", default: 0 }) viewCount: number;
  @Column({ type: "boolean", default: false }) published: boolean;
  @Column({ type: "datetime", nullable: true }) publishedAt: Date | null;
  @CreateDateColumn() createdAt: Date;
  @UpdateDateColumn() updatedAt: Date;
  @VersionColumn() version: number;
}

/** The entities of these cases, for the target's `open`. */
export const PARTIAL_SAVE_ENTITIES: Function[] = [ConfPost];

/** Empties the group's table. */
export async function resetPartialSaveTables(storage: Storage): Promise<void> {
  await storage.repository(ConfPost).deleteMany({});
}

type Test = (name: string, fn: () => Promise<void>) => void;

async function rejectsWith(promise: Promise<unknown>, type: new (...args: never[]) => StorageError, mentions: readonly string[] = []): Promise<StorageError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof type, `expected ${type.name}, got ${(error as Error)?.constructor?.name}: ${(error as Error)?.message}`);
    for (const text of mentions) assert.ok((error as Error).message.includes(text), `expected the message to mention ${JSON.stringify(text)}: ${(error as Error).message}`);
    return error as StorageError;
  }
  assert.fail(`expected ${type.name}, but the call succeeded`);
}

/** A complete post: every field set, none to its default. */
function fullPost(id: string, fields: Partial<ConfPost> = {}): Partial<ConfPost> {
  return {
    id,
    authorId: "ada",
    title: `title ${id}`,
    slug: `slug-${id}`,
    tags: ["db", { nested: [1, 2] }],
    viewCount: 42,
    published: true,
    publishedAt: new Date(1_700_000_000_123),
    ...fields,
  };
}

/** The fields of an entity, as a plain object to compare. */
const plain = (entity: object | null | undefined) => (entity === null || entity === undefined ? null : { ...entity });

const pause = () => new Promise((resolve) => setTimeout(resolve, 5));

/** Registers the partial save cases; `storage()` is the group's storage, its `conf_posts` table empty before each case. */
export function registerPartialSaveTests(test: Test, storage: () => Storage): void {
  const posts = () => storage().repository(ConfPost);

  /** Saves a complete post and reads it once, so that a cache holds it before the case writes. */
  const seed = async (id: string, fields: Partial<ConfPost> = {}) => {
    const saved = await posts().save(fullPost(id, fields));
    assert.deepEqual(plain(await posts().findById(id)), plain(saved));
    await pause(); // the update date of a later write must be able to move on
    return saved;
  };

  test("save of a partial entity changes only the fields it gives and returns the whole stored entity", async () => {
    const original = await seed("p1");
    const saved = await posts().save({ id: "p1", authorId: "ada", title: "renamed" });
    assert.ok(saved instanceof ConfPost);
    assert.deepEqual(plain(saved), {
      ...plain(original),
      title: "renamed",
      version: original.version + 1,
      updatedAt: saved.updatedAt,
    });
    assert.equal(saved.createdAt.getTime(), original.createdAt.getTime(), "the create date never changes");
    assert.ok(saved.updatedAt.getTime() > original.updatedAt.getTime(), "the update date moves on");
    assert.deepEqual(plain(await posts().findById("p1")), plain(saved), "read back (through the cache, where there is one)");
    assert.deepEqual((await posts().findAll({ where: { id: "p1" } })).map(plain), [plain(saved)]);
  });

  test("undefined keeps the stored value and null sets null", async () => {
    const original = await seed("p1");
    const saved = await posts().save({ id: "p1", authorId: "ada", title: original.title, slug: null, tags: undefined, publishedAt: null, viewCount: 0 });
    assert.equal(saved.slug, null);
    assert.equal(saved.publishedAt, null);
    assert.equal(saved.viewCount, 0, "a value equal to the default is still written");
    assert.deepEqual(saved.tags, original.tags);
    assert.equal(saved.title, original.title);
    assert.equal(saved.authorId, original.authorId);
    assert.equal(saved.published, true, "a defaulted field left out is not reset to its default");
    assert.deepEqual(plain(await posts().findById("p1")), plain(saved));
  });

  test("a partial save may leave out required fields of a row that exists", async () => {
    const original = await seed("p1");
    const saved = await posts().save({ id: "p1", slug: null, published: false });
    assert.deepEqual(plain(saved), { ...plain(original), slug: null, published: false, version: original.version + 1, updatedAt: saved.updatedAt });
    assert.ok(saved.updatedAt.getTime() > original.updatedAt.getTime());
    assert.deepEqual(plain(await posts().findById("p1")), plain(saved));
  });

  test("a create date given to a partial save of an existing row is ignored", async () => {
    const original = await seed("p1");
    const saved = await posts().save({ id: "p1", title: "t", createdAt: new Date(0) });
    assert.equal(saved.createdAt.getTime(), original.createdAt.getTime());
    assert.equal((await posts().findById("p1"))?.createdAt.getTime(), original.createdAt.getTime());
  });

  test("save of a partial new entity inserts it with defaults and nulls for what it leaves out", async () => {
    const saved = await posts().save({ id: "n1", authorId: "bob", title: "new" });
    assert.equal(saved.version, 1);
    assert.equal(saved.viewCount, 0);
    assert.equal(saved.published, false);
    assert.equal(saved.slug, null);
    assert.equal(saved.tags, null);
    assert.ok(saved.createdAt instanceof Date && saved.updatedAt instanceof Date);
    assert.deepEqual(plain(await posts().findById("n1")), plain(saved));
  });

  test("a new entity without a required field is a ValidationError naming it, and nothing is written", async () => {
    assert.equal(await posts().findById("n1"), null); // a cache may now hold the miss
    const error = await rejectsWith(posts().save({ id: "n1", title: "no author" }), ValidationError, ["authorId"]);
    assert.equal(error.field, "authorId");
    assert.equal(error.table, "conf_posts");
    await rejectsWith(posts().insert({ id: "n2", authorId: "bob" }), ValidationError, ["title"]);
    assert.equal(await posts().findById("n1"), null);
    assert.equal(await posts().count(), 0);
    // The same fields are enough for a row that exists.
    await seed("n1");
    assert.equal((await posts().save({ id: "n1", title: "no author needed" })).authorId, "ada");
  });

  test("a stale version is a ConcurrencyError for a partial save too, and nothing is written", async () => {
    const original = await seed("p1");
    const second = await posts().save({ id: "p1", title: "second", version: original.version });
    assert.equal(second.version, original.version + 1);
    await rejectsWith(posts().save({ id: "p1", title: "stale", version: original.version }), ConcurrencyError, ["p1"]);
    await rejectsWith(posts().save({ id: "p1", authorId: "eve", title: "stale", slug: "s", version: original.version }), ConcurrencyError);
    const stored = await posts().findById("p1");
    assert.equal(stored?.title, "second");
    assert.equal(stored?.authorId, "ada");
    assert.equal(stored?.version, second.version);
    const third = await posts().save({ id: "p1", viewCount: 1, version: second.version });
    assert.deepEqual(plain(third), { ...plain(second), viewCount: 1, version: second.version + 1, updatedAt: third.updatedAt });
  });

  test("a partial save that takes a unique value of another row is an IntegrityError, and nothing is written", async () => {
    await seed("p1");
    const other = await seed("p2");
    await rejectsWith(posts().save({ id: "p2", title: "x", slug: "slug-p1" }), IntegrityError);
    assert.deepEqual(plain(await posts().findById("p2")), plain(other));
  });

  test("inside a transaction, a partial save is merged in the transaction's view; a rollback leaves the stored row and the cache", async () => {
    const original = await seed("p1");
    await rejectsWith(
      storage().transaction(async () => {
        const saved = await posts().save({ id: "p1", authorId: "ada", title: "inside", tags: null });
        assert.deepEqual(plain(saved), { ...plain(original), title: "inside", tags: null, version: original.version + 1, updatedAt: saved.updatedAt });
        assert.deepEqual(plain(await posts().findById("p1")), plain(saved), "the transaction reads its own merged row");
        throw new ValidationError("roll back");
      }),
      ValidationError,
      ["roll back"],
    );
    assert.deepEqual(plain(await posts().findById("p1")), plain(original));
    const committed = await storage().transaction(async () => {
      await posts().save({ id: "p1", authorId: "ada", title: "first" });
      return posts().save({ id: "p1", viewCount: 7 }); // required fields left out: kept
    });
    assert.deepEqual(plain(committed), { ...plain(original), title: "first", viewCount: 7, version: original.version + 2, updatedAt: committed.updatedAt });
    assert.deepEqual(plain(await posts().findById("p1")), plain(committed));
  });

  test("saveMany mixes complete, partial and new entities, in order, keeping what partial ones leave out", async () => {
    const a = await seed("a");
    const b = await seed("b");
    const c = await seed("c");
    const result = await posts().saveMany(
      [
        fullPost("a", { title: "a full", viewCount: 1, published: false, tags: null }),
        { id: "b", authorId: "ada", title: "b partial" },
        { id: "new1", authorId: "bob", title: "new partial" },
        fullPost("new2"),
        { id: "b", viewCount: 9 }, // after the first save of b in the same batch: both apply (required fields left out: kept)
        { id: "c", authorId: "ada", title: c.title, slug: null, version: c.version },
      ],
      { chunkSize: 4 },
    );
    assert.deepEqual(result, { total: 6, succeeded: 6, failed: 0, errors: [] });
    const stored = new Map((await posts().findByIds(["a", "b", "c", "new1", "new2"])).map((p) => [p.id, p]));
    assert.equal(stored.size, 5);
    assert.deepEqual({ ...plain(stored.get("a")), updatedAt: null }, { ...plain(a), title: "a full", viewCount: 1, published: false, tags: null, version: a.version + 1, updatedAt: null });
    assert.deepEqual({ ...plain(stored.get("b")), updatedAt: null }, { ...plain(b), title: "b partial", viewCount: 9, version: b.version + 2, updatedAt: null });
    assert.deepEqual({ ...plain(stored.get("c")), updatedAt: null }, { ...plain(c), slug: null, version: c.version + 1, updatedAt: null });
    assert.equal(stored.get("new1")?.viewCount, 0);
    assert.equal(stored.get("new1")?.slug, null);
    assert.equal(stored.get("new2")?.viewCount, 42);
    assert.equal(stored.get("b")!.createdAt.getTime(), b.createdAt.getTime());
    assert.ok(stored.get("b")!.updatedAt.getTime() > b.updatedAt.getTime());
  });

  test("saveMany of many partial entities giving the same fields, over existing and new rows, across chunks", async () => {
    const existing = new Map<string, ConfPost>();
    for (let i = 0; i < 6; i++) existing.set(`e${i}`, await posts().save(fullPost(`e${i}`, { viewCount: i })));
    const batch = [
      ...[...existing.keys()].map((id, i) => ({ id, authorId: "zed", title: `retitled ${i}`, slug: i % 2 === 0 ? null : `s${i}` })),
      ...[0, 1, 2].map((i) => ({ id: `n${i}`, authorId: "zed", title: `new ${i}`, slug: `n${i}` })),
    ];
    assert.deepEqual(await posts().saveMany(batch, { chunkSize: 4 }), { total: 9, succeeded: 9, failed: 0, errors: [] });
    for (const [id, before] of existing) {
      const i = Number(id.slice(1));
      const after = await posts().findById(id);
      assert.deepEqual({ ...plain(after), updatedAt: null }, { ...plain(before), authorId: "zed", title: `retitled ${i}`, slug: i % 2 === 0 ? null : `s${i}`, version: before.version + 1, updatedAt: null });
    }
    for (const i of [0, 1, 2]) assert.deepEqual([(await posts().findById(`n${i}`))?.viewCount, (await posts().findById(`n${i}`))?.version], [0, 1]);
    // A unique clash inside a run of partial rows: named, and nothing of the batch written.
    const clash = [{ id: "e0", authorId: "x", title: "t0", slug: "free" }, { id: "e1", authorId: "x", title: "t1", slug: "n2" }];
    await rejectsWith(posts().saveMany(clash), IntegrityError, ["item 1"]);
    assert.equal((await posts().findById("e0"))?.slug, null);
  });

  test("atomic saveMany with a partial new entity missing a required field names it and writes nothing", async () => {
    const a = await seed("a");
    const batch = [{ id: "a", title: "changed" }, fullPost("new1"), { id: "new2", title: "no author" }, { id: "a", viewCount: 3 }];
    const error = await rejectsWith(posts().saveMany(batch, { chunkSize: 2 }), ValidationError, ["item 2", "authorId"]);
    assert.equal(error.field, "authorId");
    assert.deepEqual(plain(await posts().findById("a")), plain(a));
    assert.equal(await posts().count(), 1);
    assert.equal(await posts().findById("new1"), null);
  });

  test("non-atomic saveMany writes the good partial entities and reports the one that cannot be inserted", async () => {
    const a = await seed("a");
    const batch = [{ id: "a", title: "changed" }, { id: "new2", title: "no author" }, fullPost("new1"), { id: "a", version: a.version, viewCount: 3 }];
    const result = await posts().saveMany(batch, { atomic: false, chunkSize: 2 });
    assert.equal(result.succeeded, 2);
    assert.deepEqual(result.errors.map((e) => [e.index, e.error.constructor.name, e.error.field]), [[1, "ValidationError", "authorId"], [3, "ConcurrencyError", "version"]]);
    const stored = await posts().findById("a");
    assert.deepEqual({ ...plain(stored), updatedAt: null }, { ...plain(a), title: "changed", version: a.version + 1, updatedAt: null });
    assert.equal(await posts().findById("new2"), null);
    assert.equal((await posts().findById("new1"))?.title, "title new1");
  });
}
