/**
 * Issue 12, loading relations: `findAll({ include: { author: true, comments: { include: { author: true } } } })`
 * over 1,000 posts (100 authors, 5 comments a post) against the same tree built by hand from better-sqlite3:
 * two joins (posts with their authors, comments with theirs) and the grouping of the comments into their
 * posts' arrays, each author a fresh object per place it appears, as Strata returns them. On SQLite (goal:
 * at most 1.5x the raw time), and in memory and in JSON files against that same raw SQLite figure.
 */
import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
import { Column, Entity, JoinColumn, ManyToOne, OneToMany, PrimaryColumn } from "typeorm";
import type { Storage } from "../../src/index.js";
import { createStorage } from "../../src/index.js";
import type { BenchGroup } from "../harness.js";

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

const ENTITIES = [BenchAuthor, BenchPost, BenchComment];
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

export default async function relationsBench(): Promise<BenchGroup> {
  const dir = mkdtempSync(path.join(tmpdir(), "strata-bench-relations-"));
  const file = path.join(dir, "relations.db");
  const sqlite = await createStorage({ url: `sqlite:${file}`, entities: ENTITIES, autoCreate: true, cache: false });
  await fill(sqlite);
  const memory = await createStorage({ url: "memory:", entities: ENTITIES, cache: false });
  await fill(memory);
  const files = await createStorage({ url: `file:${path.join(dir, "files")}`, entities: ENTITIES, autoCreate: true, cache: false });
  await fill(files);

  const raw = new Database(file, { readonly: true });
  const postsWithAuthors = raw.prepare(
    `SELECT p.id, p.title, p.authorId, a.name AS authorName FROM bench_rel_posts p JOIN bench_rel_authors a ON a.id = p.authorId ORDER BY p.id`,
  );
  const commentsWithAuthors = raw.prepare(
    `SELECT c.id, c.body, c.postId, c.authorId, a.name AS authorName FROM bench_rel_comments c JOIN bench_rel_authors a ON a.id = c.authorId ORDER BY c.postId, c.id`,
  );
  type PostRow = { id: number; title: string; authorId: number; authorName: string };
  type CommentRow = { id: number; body: string; postId: number; authorId: number; authorName: string };
  const rawTree = () => {
    const posts = (postsWithAuthors.all() as PostRow[]).map((r) => ({
      id: r.id,
      title: r.title,
      authorId: r.authorId,
      author: { id: r.authorId, name: r.authorName },
      comments: [] as object[],
    }));
    const byId = new Map(posts.map((p) => [p.id, p]));
    for (const c of commentsWithAuthors.all() as CommentRow[]) {
      byId.get(c.postId)!.comments.push({ id: c.id, body: c.body, postId: c.postId, authorId: c.authorId, author: { id: c.authorId, name: c.authorName } });
    }
    return posts;
  };
  const anchor = "raw better-sqlite3: 2 joins + grouping";
  return {
    pairs: [
      { name: "sqlite.findAll include (1,000 posts)", anchor, minRatio: 0.67, run: () => sqlite.repository(BenchPost).findAll(INCLUDE), anchorRun: rawTree },
      { name: "memory.findAll include (1,000 posts)", anchor, minRatio: 1, run: () => memory.repository(BenchPost).findAll(INCLUDE), anchorRun: rawTree },
      { name: "file.findAll include (1,000 posts)", anchor, minRatio: 1, run: () => files.repository(BenchPost).findAll(INCLUDE), anchorRun: rawTree },
    ],
    close: async () => {
      raw.close();
      await sqlite.close();
      await memory.close();
      await files.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
