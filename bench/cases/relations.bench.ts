/**
 * Issue 12, loading relations: `findAll({ include: { author: true, comments: { include: { author: true } } } })`
 * over 1,000 posts (100 authors, 5 comments a post) against the same tree built by hand from better-sqlite3:
 * two joins (posts with their authors, comments with theirs) and the grouping of the comments into their
 * posts' arrays, each author a fresh object per place it appears, as Strata returns them. On SQLite (goal:
 * at most 1.5x the raw time), and in memory and in JSON files against that same raw SQLite figure; on
 * PostgreSQL against the same two joins and grouping by hand with `pg` (goal: at most 1.5x); and against
 * TypeORM's `find({ relations })` on the same SQLite file (goal: Strata at least 3x faster). The include
 * costs 1 + 3 backend queries (one per included relation, whatever the rows: test/relations/include.test.ts).
 *
 * Cascade delete: deleting a parent whose 10,000 children go with it (onDelete CASCADE, an index on the
 * foreign key), on every backend, against raw SQLite's own `ON DELETE CASCADE` (better-sqlite3,
 * foreign_keys = ON) of the same shape (goal: at most 2x). The 10,000 children are re-inserted before each
 * iteration of either side, outside the timed part; only the delete is timed.
 *
 * The PostgreSQL cases run in a database made for the run (dropped after), and are skipped, saying why,
 * without STRATA_PG_URL.
 */
import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { Column, DataSource, Entity, JoinColumn, ManyToOne, OneToMany, PrimaryColumn } from "typeorm";
import type { Storage } from "../../src/index.js";
import { createStorage } from "../../src/index.js";
import type { BenchGroup, BenchPair } from "../harness.js";
import { createBenchDatabase } from "../bench-database.js";

@Entity("bench_rel_authors")
class BenchAuthor {
  @PrimaryColumn({ type: "integer" }) id!: number;
  @Column() name!: string;
}

@Entity("bench_rel_posts")
class BenchPost {
  @PrimaryColumn({ type: "integer" }) id!: number;
  @Column() title!: string;
  @Column({ type: "integer" }) authorId!: number;
  @ManyToOne(() => BenchAuthor, { nullable: false }) @JoinColumn({ name: "authorId" }) author?: BenchAuthor;
  @OneToMany(() => BenchComment, (c) => c.post) comments?: BenchComment[];
}

@Entity("bench_rel_comments")
class BenchComment {
  @PrimaryColumn({ type: "integer" }) id!: number;
  @Column() body!: string;
  @Column({ type: "integer" }) postId!: number;
  @ManyToOne(() => BenchPost, (p) => p.comments, { nullable: false }) @JoinColumn({ name: "postId" }) post?: BenchPost;
  @Column({ type: "integer" }) authorId!: number;
  @ManyToOne(() => BenchAuthor, { nullable: false }) @JoinColumn({ name: "authorId" }) author?: BenchAuthor;
}

@Entity("bench_rel_parents")
class BenchParent {
  @PrimaryColumn({ type: "integer" }) id!: number;
  @Column() name!: string;
}

@Entity("bench_rel_children")
class BenchChild {
  @PrimaryColumn({ type: "integer" }) id!: number;
  @Column() body!: string;
  @Column({ type: "integer" }) parentId!: number;
  @ManyToOne(() => BenchParent, { nullable: false, onDelete: "CASCADE" }) @JoinColumn({ name: "parentId" }) parent?: BenchParent;
}

const ENTITIES = [BenchAuthor, BenchPost, BenchComment, BenchParent, BenchChild];
const CHILDREN = 10_000;
/** The parent deleted by the cascade cases; another parent with no children stays, so the table is never empty. */
const PARENT = 1;
const POSTS = 1000;
const AUTHORS = 100;
const COMMENTS_PER_POST = 5;

async function fill(storage: Storage): Promise<void> {
  await storage.repository(BenchAuthor).saveMany(Array.from({ length: AUTHORS }, (_, i) => ({ id: i, name: `author ${i}` })));
  await storage.repository(BenchPost).saveMany(Array.from({ length: POSTS }, (_, i) => ({ id: i, title: `post ${i}`, authorId: (i * 7) % AUTHORS })));
  await storage
    .repository(BenchComment)
    .saveMany(Array.from({ length: POSTS * COMMENTS_PER_POST }, (_, i) => ({ id: i, body: `comment ${i}`, postId: (i * 13) % POSTS, authorId: (i * 3) % AUTHORS })));
}

const INCLUDE = { include: { author: true, comments: { include: { author: true } } } } as const;

type PostRow = { id: number; title: string; authorId: number; authorName: string };
type CommentRow = { id: number; body: string; postId: number; authorId: number; authorName: string };

/** The tree Strata returns, built by hand from the two joined result sets (rows in order of post id, then comment id). */
function buildTree(postRows: PostRow[], commentRows: CommentRow[]): object[] {
  const posts = postRows.map((r) => ({
    id: r.id,
    title: r.title,
    authorId: r.authorId,
    author: { id: r.authorId, name: r.authorName },
    comments: [] as object[],
  }));
  const byId = new Map(posts.map((p) => [p.id, p]));
  for (const c of commentRows) {
    byId.get(c.postId)!.comments.push({ id: c.id, body: c.body, postId: c.postId, authorId: c.authorId, author: { id: c.authorId, name: c.authorName } });
  }
  return posts;
}

const POSTS_SQL = `SELECT p.id, p.title, p."authorId", a.name AS "authorName" FROM bench_rel_posts p JOIN bench_rel_authors a ON a.id = p."authorId" ORDER BY p.id`;
const COMMENTS_SQL = `SELECT c.id, c.body, c."postId", c."authorId", a.name AS "authorName" FROM bench_rel_comments c JOIN bench_rel_authors a ON a.id = c."authorId" ORDER BY c."postId", c.id`;

const children = () => Array.from({ length: CHILDREN }, (_, i) => ({ id: i, body: `child ${i}`, parentId: PARENT }));

/** Cascade-delete pair of one storage: the parent and its 10,000 children are re-inserted before each delete. */
function cascadePair(backend: string, storage: Storage, anchor: Pick<BenchPair, "anchor" | "anchorRun" | "beforeAnchorRun">): BenchPair {
  return {
    name: `${backend}.delete cascading to 10,000`,
    ...anchor,
    minRatio: 0.5,
    beforeRun: async () => {
      await storage.repository(BenchParent).insert({ id: PARENT, name: "parent" });
      await storage.repository(BenchChild).saveMany(children());
    },
    run: async () => {
      if (!(await storage.repository(BenchParent).delete(PARENT))) throw new Error(`${backend}: the parent was not deleted`);
    },
  };
}

async function fillCascade(storage: Storage): Promise<void> {
  await storage.repository(BenchParent).saveMany([{ id: 0, name: "stays" }]);
}

export default async function relationsBench(): Promise<BenchGroup> {
  const dir = mkdtempSync(path.join(tmpdir(), "strata-bench-relations-"));
  const file = path.join(dir, "relations.db");
  const sqlite = await createStorage({ url: `sqlite:${file}`, entities: ENTITIES, autoCreate: true, cache: false });
  await fill(sqlite);
  await fillCascade(sqlite);
  const memory = await createStorage({ url: "memory:", entities: ENTITIES, cache: false });
  await fill(memory);
  await fillCascade(memory);
  const files = await createStorage({ url: `file:${path.join(dir, "files")}`, entities: ENTITIES, autoCreate: true, cache: false });
  await fill(files);
  await fillCascade(files);

  const raw = new Database(file, { readonly: true });
  const postsWithAuthors = raw.prepare(POSTS_SQL);
  const commentsWithAuthors = raw.prepare(COMMENTS_SQL);
  const rawTree = () => buildTree(postsWithAuthors.all() as PostRow[], commentsWithAuthors.all() as CommentRow[]);
  const anchor = "raw better-sqlite3: 2 joins + grouping";

  // TypeORM on the same SQLite file, through the same decorators.
  const typeorm = new DataSource({ type: "better-sqlite3", database: file, entities: [BenchAuthor, BenchPost, BenchComment], synchronize: false, logging: false });
  await typeorm.initialize();
  const typeormPosts = typeorm.getRepository(BenchPost);

  // Raw SQLite's own ON DELETE CASCADE, the same shape, in a database of its own (WAL, synchronous NORMAL, as Strata's).
  const cascadeDb = new Database(path.join(dir, "cascade.db"));
  cascadeDb.pragma("journal_mode = WAL");
  cascadeDb.pragma("synchronous = NORMAL");
  cascadeDb.pragma("foreign_keys = ON");
  cascadeDb.exec(`CREATE TABLE parents (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
    CREATE TABLE children (id INTEGER PRIMARY KEY, body TEXT NOT NULL, parentId INTEGER NOT NULL REFERENCES parents(id) ON DELETE CASCADE);
    CREATE INDEX idx_children_parentId ON children(parentId);
    INSERT INTO parents VALUES (0, 'stays');`);
  const insertParent = cascadeDb.prepare(`INSERT INTO parents (id, name) VALUES (?, ?)`);
  const insertChild = cascadeDb.prepare(`INSERT INTO children (id, body, parentId) VALUES (?, ?, ?)`);
  const deleteParent = cascadeDb.prepare(`DELETE FROM parents WHERE id = ?`);
  const refill = cascadeDb.transaction(() => {
    insertParent.run(PARENT, "parent");
    for (const c of children()) insertChild.run(c.id, c.body, c.parentId);
  });
  const cascadeAnchor = {
    anchor: "raw better-sqlite3 ON DELETE CASCADE",
    beforeAnchorRun: () => refill(),
    anchorRun: () => {
      if (deleteParent.run(PARENT).changes !== 1) throw new Error("raw SQLite: the parent was not deleted");
    },
  };

  const pairs: BenchPair[] = [
    { name: "sqlite.findAll include (1,000 posts)", anchor, minRatio: 0.67, run: () => sqlite.repository(BenchPost).findAll(INCLUDE), anchorRun: rawTree },
    { name: "memory.findAll include (1,000 posts)", anchor, minRatio: 1, run: () => memory.repository(BenchPost).findAll(INCLUDE), anchorRun: rawTree },
    { name: "file.findAll include (1,000 posts)", anchor, minRatio: 1, run: () => files.repository(BenchPost).findAll(INCLUDE), anchorRun: rawTree },
    {
      name: "sqlite.findAll include (1,000 posts)",
      anchor: "TypeORM find({ relations })",
      minRatio: 3,
      run: () => sqlite.repository(BenchPost).findAll(INCLUDE),
      anchorRun: () => typeormPosts.find({ relations: { author: true, comments: { author: true } } }),
    },
    cascadePair("memory", memory, cascadeAnchor),
    cascadePair("file", files, cascadeAnchor),
    cascadePair("sqlite", sqlite, cascadeAnchor),
  ];
  const closers: Array<() => Promise<void>> = [];

  const database = await createBenchDatabase("rel", "relations bench: the postgres cases are");
  if (database) {
    closers.push(() => database.drop());
    const url = new URL(database.url);
    const postgres = await createStorage({ url: url.href, entities: ENTITIES, autoCreate: true, cache: false });
    closers.unshift(() => postgres.close());
    await fill(postgres);
    await fillCascade(postgres);
    const pool = new pg.Pool({ connectionString: url.href, max: 10 });
    // A connection whose backend outlives pool.end() is terminated by DROP DATABASE ... WITH (FORCE).
    pool.on("error", () => {});
    closers.unshift(() => pool.end());
    const pgTree = async () => {
      const postRows = await pool.query<PostRow>(POSTS_SQL);
      const commentRows = await pool.query<CommentRow>(COMMENTS_SQL);
      return buildTree(postRows.rows, commentRows.rows);
    };
    pairs.push(
      {
        name: "postgres.findAll include (1,000 posts)",
        anchor: "raw pg: 2 joins + grouping",
        minRatio: 0.67,
        run: () => postgres.repository(BenchPost).findAll(INCLUDE),
        anchorRun: pgTree,
      },
      cascadePair("postgres", postgres, cascadeAnchor),
    );
  }

  return {
    pairs,
    close: async () => {
      await typeorm.destroy();
      raw.close();
      cascadeDb.close();
      await sqlite.close();
      await memory.close();
      await files.close();
      for (const close of closers) await close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
