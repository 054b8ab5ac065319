/**
 * Foreign keys on the SQL backends: the constraints autoCreate writes (parents first, a cycle on
 * PostgreSQL added after both tables), violations as the agreed IntegrityErrors (README, "Relations"),
 * CASCADE several levels deep, SET NULL, RESTRICT, a cascade rolled back with its transaction, and
 * introspection reading them back. Then migrations (createTable foreignKeys, addForeignKey, dropForeignKey)
 * and generate on every migration backend (memory included).
 */
import "reflect-metadata";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "vitest";
import type { MigrationContext, Storage, StorageConfig } from "../../src/index.js";
import { copyStorage, createStorage, defineMigration, IntegrityError, MigrationError, readEntitySchema, SchemaError } from "../../src/index.js";
import { migrationFileText } from "../../src/cli/migration-file.js";
import { diffSchema } from "../../src/migrations/diff-schema.js";
import { describeSchema, schemaOfTable } from "../../src/schema/table-schema.js";
import { joinTablesOf } from "../../src/schema/read-relations.js";
import { coreOf } from "../../src/storage-core.js";
import type { SchemaEditor, TableDescription } from "../../src/spi/index.js";
import { Author, Category, Comment, Left, Post, Right, SFK_ENTITIES, TreeNode } from "../fixtures/sfk-entities.js";
import { migrationBackends } from "../migrations/migration-backends.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "../postgres/pg-test-database.js";
import { backendSelected } from "./sql-backend-cases.js";

/** Runs `work` with the storage's schema editor, in a transaction rolled back after. */
async function withEditor<T>(storage: Storage, work: (editor: SchemaEditor) => Promise<T>): Promise<T> {
  const tx = await coreOf(storage).backend.begin();
  try {
    return await work(tx.schema!());
  } finally {
    await tx.rollback();
  }
}

async function describe_(storage: Storage, table: string): Promise<TableDescription | undefined> {
  return withEditor(storage, (editor) => editor.describeTable(table));
}

/** The rows of `table`, read through the data SPI (every backend). */
async function count(storage: Storage, table: string): Promise<number> {
  const tx = await coreOf(storage).backend.begin();
  try {
    return await tx.count(schemaOfTable((await tx.schema!().describeTable(table))!), [[]]);
  } finally {
    await tx.rollback();
  }
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (error: unknown) => error as Error,
  );
}

type Open = () => Promise<Storage>;

function foreignKeyCases(name: string, open: Open): void {
  describe(`${name}: foreign keys`, () => {
    let storage: Storage;
    beforeEach(async () => {
      storage = await open();
    });
    afterEach(async () => {
      await storage.close();
    });

    async function seed(): Promise<{ post: Post }> {
      await storage.repository(Author).saveMany([{ id: "ada", name: "Ada" } as Author, { id: "bob", name: "Bob" } as Author]);
      const post = await storage.repository(Post).save({ title: "t", authorId: "ada", editorId: "bob" } as Post);
      return { post };
    }

    test("autoCreate writes each entity's foreign keys, and introspection reads them back as the entities declare them", async () => {
      for (const entity of SFK_ENTITIES) {
        const wanted = describeSchema(readEntitySchema(entity)).foreignKeys ?? [];
        const actual = (await describe_(storage, readEntitySchema(entity).table))!.foreignKeys;
        expect(actual, entity.name).toEqual([...wanted].sort((a, b) => (a.name < b.name ? -1 : 1)));
      }
      expect((await describe_(storage, "sfk_posts"))!.foreignKeys).toEqual([
        { name: "fk_sfk_posts_authorId", column: "authorId", referencedTable: "sfk_authors", referencedColumn: "id", onDelete: "CASCADE" },
        { name: "fk_sfk_posts_editorId", column: "editorId", referencedTable: "sfk_authors", referencedColumn: "id", onDelete: "SET NULL" },
      ]);
    });

    test("a write naming a missing parent is the agreed IntegrityError, and nothing is written", async () => {
      const { post } = await seed();
      const posts = storage.repository(Post);
      const insert = await rejection(posts.insert({ title: "x", authorId: "zed" } as Post));
      expect(insert).toBeInstanceOf(IntegrityError);
      expect(insert.message).toBe(`Post.author: no sfk_authors row has id "zed"`);
      expect(insert).toMatchObject({ table: "sfk_posts", field: "authorId" });
      const update = await rejection(posts.update(post.id, { editorId: "nobody" }));
      expect(update.message).toBe(`Post.editor: no sfk_authors row has id "nobody"`);
      expect(update).toMatchObject({ table: "sfk_posts", field: "editorId" });
      const comment = await rejection(storage.repository(Comment).save({ text: "c", postId: 999 } as Comment));
      expect(comment.message).toBe(`Comment.post: no sfk_posts row has id 999`);
      const many = await rejection(posts.saveMany([{ title: "a", authorId: "ada" }, { title: "b", authorId: "bob" }, { title: "c", authorId: "eve" }] as Post[]));
      expect(many).toBeInstanceOf(IntegrityError);
      expect(many.message).toBe(`saveMany item 2: Post.author: no sfk_authors row has id "eve"`);
      expect(await posts.count()).toBe(1);
      expect((await posts.findById(post.id))!.editorId).toBe("bob");
    });

    test("a self-reference within one saveMany is satisfied; a row pointing outside it is not", async () => {
      const nodes = storage.repository(TreeNode);
      await nodes.saveMany([{ id: "b", parentId: "a" }, { id: "a", parentId: null }] as TreeNode[]);
      const error = await rejection(nodes.saveMany([{ id: "c", parentId: "a" }, { id: "d", parentId: "x" }] as TreeNode[]));
      expect(error.message).toBe(`saveMany item 1: TreeNode.parent: no sfk_nodes row has id "x"`);
      expect(await nodes.count()).toBe(2);
    });

    test("RESTRICT refuses the delete with the agreed IntegrityError, even when a cascade reaches it, and nothing is deleted", async () => {
      const { post } = await seed();
      await storage.repository(Comment).save({ text: "c", postId: post.id } as Comment);
      const direct = await rejection(storage.repository(Post).delete(post.id));
      expect(direct).toBeInstanceOf(IntegrityError);
      expect(direct.message).toBe(`sfk_posts row ${post.id} is still referenced by sfk_comments (Comment.post, onDelete RESTRICT)`);
      expect(direct).toMatchObject({ table: "sfk_posts" });
      // Deleting the author cascades to the post, which the comment holds: the whole delete is undone.
      const cascaded = await rejection(storage.repository(Author).delete("ada"));
      expect(cascaded.message).toBe(`sfk_posts row ${post.id} is still referenced by sfk_comments (Comment.post, onDelete RESTRICT)`);
      const many = await rejection(storage.repository(Author).deleteMany({ name: { $in: ["Ada", "Bob"] } }));
      expect(many.message).toBe(`sfk_posts row ${post.id} is still referenced by sfk_comments (Comment.post, onDelete RESTRICT)`);
      expect(await storage.repository(Author).count()).toBe(2);
      expect(await storage.repository(Post).count()).toBe(1);
    });

    test("a RESTRICT self-reference: one deleteMany of a parent with its children succeeds, whatever the row order; the parent alone is refused", async () => {
      const categories = storage.repository(Category);
      await categories.saveMany([{ id: "a", parentId: null }, { id: "b", parentId: "a" }, { id: "c", parentId: "b" }, { id: "z", parentId: null }] as Category[]);
      const error = await rejection(categories.delete("a"));
      expect(error.message).toBe(`sfk_categories row "a" is still referenced by sfk_categories (Category.parent, onDelete RESTRICT)`);
      expect(await categories.deleteMany({ id: { $in: ["a", "b", "c"] } })).toBe(3);
      expect((await categories.findAll()).map((c) => c.id)).toEqual(["z"]);
    });

    test("CASCADE deletes level after level, SET NULL empties the foreign key, and both roll back with their transaction", async () => {
      await seed();
      const nodes = storage.repository(TreeNode);
      await nodes.saveMany([{ id: "r", parentId: null }, { id: "c1", parentId: "r" }, { id: "c2", parentId: "c1" }, { id: "c3", parentId: "c2" }, { id: "o", parentId: null }] as TreeNode[]);
      await expect(
        storage.transaction(async () => {
          await nodes.delete("r");
          await storage.repository(Author).delete("bob");
          expect(await nodes.count()).toBe(1);
          throw new Error("undo");
        }),
      ).rejects.toThrow("undo");
      expect(await nodes.count()).toBe(5);
      expect((await storage.repository(Post).findAll())[0]!.editorId).toBe("bob");
      await nodes.delete("r");
      expect((await nodes.findAll()).map((n) => n.id)).toEqual(["o"]);
      await storage.repository(Author).delete("bob");
      expect((await storage.repository(Post).findAll())[0]!.editorId).toBeNull();
      await storage.repository(Author).delete("ada");
      expect(await storage.repository(Post).count()).toBe(0);
    });

    test("inside a transaction a violation is the same IntegrityError", async () => {
      await seed();
      const error = await rejection(storage.transaction(() => storage.repository(Post).save({ title: "x", authorId: "nobody" } as Post)));
      expect(error).toBeInstanceOf(IntegrityError);
      expect(error.message).toBe(`Post.author: no sfk_authors row has id "nobody"`);
    });

    test("copy into this backend: children sorting before their parents, a row before the row it references, and a cycle all arrive, with their foreign keys", async () => {
      const source = await createStorage({ url: "sqlite::memory:", entities: SFK_ENTITIES, autoCreate: true });
      try {
        await source.repository(Author).save({ id: "ada", name: "Ada" } as Author);
        await source.repository(Post).save({ title: "t", authorId: "ada" } as Post);
        await source.repository(TreeNode).saveMany([{ id: "z", parentId: null }, { id: "a", parentId: "z" }] as TreeNode[]);
        await source.repository(Left).save({ id: "l", rightId: null } as Left);
        await source.repository(Right).save({ id: "r", leftId: "l" } as Right);
        await source.repository(Left).update("l", { rightId: "r" });
        await storage.close();
        storage = await open();
        // The target is emptied by --force: the copy replaces every table.
        await copyStorage(source, storage, { force: true });
        expect((await describe_(storage, "sfk_posts"))!.foreignKeys).toHaveLength(2);
        expect((await describe_(storage, "sfk_left"))!.foreignKeys).toHaveLength(1);
        expect(await storage.repository(TreeNode).count()).toBe(2);
        expect((await rejection(storage.repository(Post).save({ title: "x", authorId: "none" } as Post))).message).toBe(`Post.author: no sfk_authors row has id "none"`);
      } finally {
        await source.close();
      }
    });

    test("two tables that reference each other (a cycle) are created and enforced", async () => {
      const lefts = storage.repository(Left);
      const rights = storage.repository(Right);
      await lefts.save({ id: "l", rightId: null } as Left);
      await rights.save({ id: "r", leftId: "l" } as Right);
      await lefts.update("l", { rightId: "r" });
      expect((await rejection(rights.save({ id: "r2", leftId: "none" } as Right))).message).toBe(`Right.left: no sfk_left row has id "none"`);
      expect((await rejection(lefts.delete("l"))).message).toBe(`sfk_left row "l" is still referenced by sfk_right (Right.left, onDelete RESTRICT)`);
      await rights.delete("r");
      expect((await lefts.findById("l"))!.rightId).toBeNull();
    });
  });
}

describe.skipIf(!backendSelected("sqlite"))("sqlite", () => {
  foreignKeyCases("sqlite", () => createStorage({ url: "sqlite::memory:", entities: SFK_ENTITIES, autoCreate: true }));

  test("sqlite: foreign key enforcement is on, and stays on for a second storage on the same file", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "strata-sfk-"));
    try {
      const url = `sqlite:${path.join(dir, "db.sqlite")}`;
      for (let i = 0; i < 2; i++) {
        const storage = await createStorage({ url, entities: SFK_ENTITIES, autoCreate: true });
        try {
          expect(await withEditor(storage, (editor) => editor.sql!("PRAGMA foreign_keys", []))).toEqual([[1]]);
          expect((await rejection(storage.repository(Post).save({ title: "x", authorId: "none" } as Post))).message).toBe(`Post.author: no sfk_authors row has id "none"`);
        } finally {
          await storage.close();
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const pgSkip = backendSelected("postgres") ? pgSkipReason() : "BACKENDS excludes postgres";
describe.skipIf(pgSkip !== undefined)("postgres", () => {
  let db: PgTestDatabase;
  beforeAll(async () => {
    db = await PgTestDatabase.create(PG_URL!);
  });
  afterAll(async () => {
    await db?.drop();
  });
  foreignKeyCases("postgres", async () => createStorage({ url: await db.freshSchemaUrl(), entities: SFK_ENTITIES, autoCreate: true }));

  test("postgres: the cycle's forward foreign key is added after both tables, and opening again adds nothing twice", async () => {
    const url = await db.freshSchemaUrl();
    for (let i = 0; i < 2; i++) {
      const storage = await createStorage({ url, entities: SFK_ENTITIES, autoCreate: true });
      try {
        expect((await describe_(storage, "sfk_left"))!.foreignKeys).toEqual([
          { name: "fk_sfk_left_rightId", column: "rightId", referencedTable: "sfk_right", referencedColumn: "id", onDelete: "SET NULL" },
        ]);
        expect((await describe_(storage, "sfk_right"))!.foreignKeys).toHaveLength(1);
      } finally {
        await storage.close();
      }
    }
  });
});

/** Version 1 of the migration cases: authors, posts (authorId, no foreign key yet) and comments referencing posts with CASCADE. */
const base = defineMigration({
  version: 1,
  name: "base",
  async up(m) {
    await m.createTable("sfk_authors", { id: { type: "string", primary: true }, name: { type: "string" } });
    await m.createTable("sfk_posts", {
      id: { type: "integer", primary: true, generated: "increment" },
      authorId: { type: "string", nullable: true },
      title: { type: "string", nullable: true },
    });
    await m.createTable(
      "sfk_comments",
      { id: { type: "integer", primary: true, generated: "increment" }, postId: { type: "integer" } },
      { foreignKeys: [{ column: "postId", references: { table: "sfk_posts" }, onDelete: "CASCADE" }] },
    );
    await m.insertRows("sfk_authors", [{ id: "ada", name: "Ada" }]);
    await m.insertRows("sfk_posts", [{ id: 1, authorId: "ada" }, { id: 2, authorId: "ada" }]);
    await m.insertRows("sfk_comments", [{ postId: 1 }, { postId: 2 }]);
  },
});

const checks: Array<[string, (m: MigrationContext) => Promise<unknown>, string]> = [
  ["a missing referenced table", (m) => m.addForeignKey("sfk_posts", "authorId", { table: "nope" }), `Table "nope" does not exist`],
  ["a missing column", (m) => m.addForeignKey("sfk_posts", "writerId", { table: "sfk_authors" }), `Table "sfk_posts" has no column "writerId"`],
  [
    "a referenced column that is not the primary key",
    (m) => m.addForeignKey("sfk_posts", "authorId", { table: "sfk_authors", column: "name" }),
    `Foreign key "fk_sfk_posts_authorId" of table "sfk_posts" must reference the primary key of table "sfk_authors" ("id"), not "name"`,
  ],
  [
    "types that differ",
    (m) => m.addForeignKey("sfk_posts", "title", { table: "sfk_comments" }),
    `Foreign key "fk_sfk_posts_title" of table "sfk_posts": column "title" holds string values but "sfk_comments"."id" holds integer values`,
  ],
  [
    "an onDelete Strata does not know",
    (m) => m.addForeignKey("sfk_posts", "authorId", { table: "sfk_authors" }, { onDelete: "SET DEFAULT" as never }),
    `Foreign key "fk_sfk_posts_authorId" of table "sfk_posts": onDelete must be "RESTRICT", "CASCADE" or "SET NULL", got the string "SET DEFAULT"`,
  ],
  [
    "SET NULL on a column that is not nullable",
    (m) => m.addForeignKey("sfk_comments", "postId", { table: "sfk_posts" }, { onDelete: "SET NULL", name: "fk_other" }),
    `Foreign key "fk_other" of table "sfk_comments" sets column "postId" to null when its row is deleted (onDelete "SET NULL"), but the column is not nullable`,
  ],
  ["a name the table already uses", (m) => m.addForeignKey("sfk_comments", "postId", { table: "sfk_posts" }), `Table "sfk_comments" already has a foreign key "fk_sfk_comments_postId"`],
  ["dropping a foreign key the table lacks", (m) => m.dropForeignKey("sfk_posts", "fk_nope"), `Table "sfk_posts" has no foreign key "fk_nope"`],
  [
    "dropping a referenced table",
    (m) => m.dropTable("sfk_posts"),
    `Cannot drop table "sfk_posts": foreign key "fk_sfk_comments_postId" of table "sfk_comments" references it; drop that foreign key first (m.dropForeignKey)`,
  ],
];

for (const backend of migrationBackends()) {
  const sql = backend.name === "sqlite" || backend.name === "postgres";
  describe(`${backend.name}: foreign keys in migrations`, () => {
    let config: StorageConfig;
    let cleanup: () => Promise<void>;
    let storage: Storage | undefined;
    let dir: string;
    beforeEach(async () => {
      ({ config, cleanup } = await backend.fresh());
      dir = mkdtempSync(path.join(tmpdir(), "strata-sfk-generate-"));
    });
    afterEach(async () => {
      await storage?.close();
      storage = undefined;
      await cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    async function migrate(...migrations: ReturnType<typeof defineMigration>[]): Promise<unknown> {
      storage = await createStorage({ ...config, migrations: [base, ...migrations] });
      return storage.migrations.up().then(
        () => undefined,
        (error: unknown) => error,
      );
    }

    test("createTable with foreignKeys makes them (self-references too) with an index on each column", async () => {
      const error = await migrate(
        defineMigration({
          version: 2,
          name: "tree",
          async up(m) {
            await m.createTable(
              "sfk_tree",
              { id: { type: "string", primary: true }, parentId: { type: "string", nullable: true } },
              { foreignKeys: [{ column: "parentId", references: { table: "sfk_tree" }, onDelete: "SET NULL", name: "fk_tree_parent" }] },
            );
          },
        }),
      );
      expect(error).toBeUndefined();
      const tree = (await describe_(storage!, "sfk_tree"))!;
      expect(tree.foreignKeys).toEqual([{ name: "fk_tree_parent", column: "parentId", referencedTable: "sfk_tree", referencedColumn: "id", onDelete: "SET NULL" }]);
      expect(tree.indexes).toContainEqual({ name: "idx_sfk_tree_parentId", columns: ["parentId"], unique: false });
      expect((await describe_(storage!, "sfk_comments"))!.foreignKeys).toEqual([
        { name: "fk_sfk_comments_postId", column: "postId", referencedTable: "sfk_posts", referencedColumn: "id", onDelete: "CASCADE" },
      ]);
    });

    test("addForeignKey over a row that breaks it is an IntegrityError naming the table, and nothing changes", async () => {
      const error = await migrate(
        defineMigration({
          version: 2,
          name: "orphan",
          async up(m) {
            await m.insertRows("sfk_posts", [{ id: 3, authorId: "ghost" }]);
            await m.addForeignKey("sfk_posts", "authorId", { table: "sfk_authors" });
          },
        }),
      );
      expect(error).toBeInstanceOf(MigrationError);
      const cause = (error as MigrationError).cause;
      expect(cause).toBeInstanceOf(IntegrityError);
      expect((cause as IntegrityError).message).toBe(
        `Cannot add foreign key "fk_sfk_posts_authorId" to table "sfk_posts": a row has authorId "ghost", which no sfk_authors row has as id; fix or delete such rows first`,
      );
      expect(cause).toMatchObject({ table: "sfk_posts", field: "authorId" });
      expect((await describe_(storage!, "sfk_posts"))!.foreignKeys ?? []).toEqual([]);
      expect((await storage!.migrations.status()).map((s) => `${s.version}:${s.state}`)).toEqual(["1:applied", "2:pending"]);
    });

    test("addForeignKey then dropForeignKey: rows, the rows referencing the table (CASCADE) and the key generator are kept", async () => {
      const add = defineMigration({ version: 2, name: "add", up: (m) => m.addForeignKey("sfk_posts", "authorId", { table: "sfk_authors" }, { onDelete: "CASCADE" }) });
      expect(await migrate(add)).toBeUndefined();
      expect((await describe_(storage!, "sfk_posts"))!.foreignKeys).toEqual([
        { name: "fk_sfk_posts_authorId", column: "authorId", referencedTable: "sfk_authors", referencedColumn: "id", onDelete: "CASCADE" },
      ]);
      expect((await describe_(storage!, "sfk_posts"))!.indexes).toContainEqual({ name: "idx_sfk_posts_authorId", columns: ["authorId"], unique: false });
      expect(await count(storage!, "sfk_posts")).toBe(2);
      expect(await count(storage!, "sfk_comments")).toBe(2);
      await storage!.close();
      storage = await createStorage({
        ...config,
        migrations: [
          base,
          add,
          defineMigration({
            version: 3,
            name: "drop",
            async up(m) {
              await m.dropForeignKey("sfk_posts", "fk_sfk_posts_authorId");
              await m.insertRows("sfk_posts", [{ authorId: "ghost" }]);
            },
          }),
        ],
      });
      await storage.migrations.up();
      expect((await describe_(storage, "sfk_posts"))!.foreignKeys ?? []).toEqual([]);
      expect(await count(storage, "sfk_posts")).toBe(3);
      expect(await count(storage, "sfk_comments")).toBe(2);
      if (sql) {
        const tx = await coreOf(storage).backend.begin();
        try {
          // The generator went on from 2: the rewrite of the definition kept it.
          expect((await tx.schema!().sql!(`SELECT id FROM sfk_posts WHERE "authorId" = 'ghost'`, [])).map((r) => Number((r as unknown[])[0]))).toEqual([3]);
        } finally {
          await tx.rollback();
        }
      }
    });

    if (sql) {
      test("a foreign key added by a migration is enforced: a later insertRows naming a missing row fails with its message", async () => {
        const error = await migrate(
          defineMigration({ version: 2, name: "add", up: (m) => m.addForeignKey("sfk_posts", "authorId", { table: "sfk_authors" }) }),
          defineMigration({ version: 3, name: "orphan", up: (m) => m.insertRows("sfk_posts", [{ authorId: "ghost" }]) }),
        );
        const cause = (error as MigrationError).cause;
        expect(cause).toBeInstanceOf(IntegrityError);
        expect((cause as Error).message).toBe(`sfk_posts.authorId: no sfk_authors row has id "ghost"`);
        expect((await storage!.migrations.status()).map((s) => `${s.version}:${s.state}`)).toEqual(["1:applied", "2:applied", "3:pending"]);
      });
    }

    test.each(checks)("%s is a SchemaError", async (_name, change, message) => {
      const error = await migrate(defineMigration({ version: 2, name: "failing", up: (m) => change(m).then(() => undefined) }));
      const cause = (error as MigrationError).cause;
      expect(cause).toBeInstanceOf(SchemaError);
      expect((cause as Error).message).toBe(message);
    });

    test("generate emits the entities' tables parents first, with their foreign keys (a cycle's added after), and once applied finds no difference", async () => {
      storage = await createStorage({ ...config, entities: SFK_ENTITIES, migrations: dir, autoCreate: false });
      const schemas = SFK_ENTITIES.map(readEntitySchema);
      const all = [...schemas, ...joinTablesOf(schemas)];
      const found = await withEditor(storage, (editor) => diffSchema(all, editor));
      const created = found.up.map((l) => /m\.createTable\("([^"]+)"/.exec(l)?.[1]).filter(Boolean);
      expect(created.indexOf("sfk_authors")).toBeLessThan(created.indexOf("sfk_posts"));
      expect(created.indexOf("sfk_posts")).toBeLessThan(created.indexOf("sfk_comments"));
      const posts = found.up.find((l) => l.includes(`m.createTable("sfk_posts"`))!;
      expect(posts).toContain(`foreignKeys: [`);
      expect(posts).toContain(`{ column: "authorId", references: { table: "sfk_authors", column: "id" }, onDelete: "CASCADE", name: "fk_sfk_posts_authorId" }`);
      expect(found.up).toContain(`await m.addForeignKey("sfk_right", "leftId", { table: "sfk_left", column: "id" }, { onDelete: "RESTRICT", name: "fk_sfk_right_leftId" });`);
      expect(found.down[0]).toBe(`await m.dropForeignKey("sfk_right", "fk_sfk_right_leftId");`);
      writeFileSync(path.join(dir, "0001-generated.mjs"), migrationFileText(1, "generated", found.up, found.down));
      await storage.migrations.up();
      expect(await withEditor(storage, (editor) => diffSchema(all, editor))).toEqual({ up: [], down: [], warnings: [] });
      // A foreign key the entities no longer declare is dropped, and down adds it back.
      const withoutEditor = all.map((s) => (s.table === "sfk_posts" ? { ...s, foreignKeys: s.foreignKeys.filter((f) => f.property !== "editorId") } : s));
      const dropped = await withEditor(storage, (editor) => diffSchema(withoutEditor, editor));
      expect(dropped.up).toEqual([`await m.dropForeignKey("sfk_posts", "fk_sfk_posts_editorId");`]);
      expect(dropped.down).toEqual([`await m.addForeignKey("sfk_posts", "editorId", { table: "sfk_authors", column: "id" }, { onDelete: "SET NULL", name: "fk_sfk_posts_editorId" });`]);
      await storage.migrations.down();
      expect((await withEditor(storage, (editor) => editor.listTables())).filter((t) => t.startsWith("sfk_"))).toEqual([]);
    });
  });
}
