/** Reading relation decorators into the schema: relations, foreign keys, implied columns, join tables, problems. */
import "reflect-metadata";
import { Column, Entity, JoinColumn, JoinTable, ManyToMany, ManyToOne, OneToMany, OneToOne, PrimaryColumn, PrimaryGeneratedColumn } from "typeorm";
import { describe, expect, test } from "vitest";
import { createStorage, SchemaError } from "../../src/index.js";
import { readEntitySchema } from "../../src/schema/read-entity-schema.js";

@Entity("rs_authors")
class Author {
  @PrimaryGeneratedColumn("uuid") id!: string;
  @Column() name!: string;
  @OneToMany(() => Post, (p) => p.author) posts?: Post[];
  @OneToOne(() => Profile, (p) => p.author) profile?: Profile | null;
}

@Entity("rs_tags")
class Tag {
  @PrimaryColumn() slug!: string;
  @ManyToMany(() => Post, (p) => p.tags) posts?: Post[];
}

@Entity("rs_posts")
class Post {
  @PrimaryGeneratedColumn("increment") id!: number;
  @Column() title!: string;
  @ManyToOne(() => Author, (a) => a.posts, { nullable: false, onDelete: "CASCADE" }) @JoinColumn({ name: "authorId" }) author?: Author;
  @Column() authorId!: string;
  @ManyToOne(() => Author, { onDelete: "SET NULL" }) editor?: Author | null;
  @ManyToMany(() => Tag, (t) => t.posts) @JoinTable({ name: "rs_post_tags" }) tags?: Tag[];
}

@Entity("rs_profiles")
class Profile {
  @PrimaryGeneratedColumn("increment") id!: number;
  @OneToOne(() => Author, (a) => a.profile) @JoinColumn() author?: Author;
}

describe("relation schema", () => {
  test("an owning many-to-one uses the declared foreign key column and records its foreign key", () => {
    const post = readEntitySchema(Post);
    const author = post.relationsByProperty.get("author")!;
    expect(author).toMatchObject({ kind: "many-to-one", toMany: false, target: Author, sourceProperty: "authorId", targetProperty: "id" });
    expect(post.foreignKeys).toContainEqual({
      name: "fk_rs_posts_authorId", property: "authorId", referencedTable: "rs_authors", referencedColumn: "id", onDelete: "CASCADE", relation: "Post.author",
    });
    expect(post.indexes).toContainEqual({ name: "idx_rs_posts_authorId", properties: ["authorId"], unique: false });
  });

  test("a many-to-one without a declared column implies a nullable one named after the property and the key", () => {
    const post = readEntitySchema(Post);
    expect(post.columnsByProperty.get("editorId")).toMatchObject({ name: "editorId", type: "string", nullable: true, primary: false });
    expect(post.foreignKeys.find((f) => f.property === "editorId")?.onDelete).toBe("SET NULL");
  });

  test("the inverse sides pair by the owner's foreign key", () => {
    const author = readEntitySchema(Author);
    expect(author.relationsByProperty.get("posts")).toMatchObject({ kind: "one-to-many", toMany: true, sourceProperty: "id", targetProperty: "authorId" });
    expect(author.relationsByProperty.get("profile")).toMatchObject({ kind: "one-to-one", toMany: false, sourceProperty: "id", targetProperty: "authorId" });
    expect(author.foreignKeys).toEqual([]);
    const profile = readEntitySchema(Profile);
    expect(profile.indexes).toContainEqual({ name: "uq_rs_profiles_authorId", properties: ["authorId"], unique: true });
  });

  test("both sides of a many-to-many share one join table, with cascading foreign keys", () => {
    const tags = readEntitySchema(Post).relationsByProperty.get("tags")!;
    const posts = readEntitySchema(Tag).relationsByProperty.get("posts")!;
    expect(tags.joinTable!.schema).toBe(posts.joinTable!.schema);
    const join = tags.joinTable!.schema;
    expect(join.table).toBe("rs_post_tags");
    expect(join.columns.map((c) => [c.property, c.type])).toEqual([["id", "integer"], ["postId", "integer"], ["tagId", "string"]]);
    expect(tags.joinTable).toMatchObject({ sourceProperty: "postId", targetProperty: "tagId" });
    expect(posts.joinTable).toMatchObject({ sourceProperty: "tagId", targetProperty: "postId" });
    expect(join.foreignKeys.map((f) => [f.property, f.referencedTable, f.onDelete])).toEqual([["postId", "rs_posts", "CASCADE"], ["tagId", "rs_tags", "CASCADE"]]);
  });

  test("unsupported options are all listed in one SchemaError naming entity and property", () => {
    @Entity("rs_bad_parent") class BadParent { @PrimaryColumn() id!: string; }
    @Entity("rs_bad")
    class Bad {
      @PrimaryColumn() id!: string;
      @ManyToOne(() => BadParent, { eager: true }) a?: BadParent;
      @ManyToOne(() => BadParent, { cascade: true }) b?: BadParent;
      @ManyToOne(() => BadParent, { onDelete: "SET NULL", nullable: false }) c?: BadParent;
      @Column({ type: "integer" }) dId!: number;
      @ManyToOne(() => BadParent) d?: BadParent;
    }
    let error: unknown;
    try { readEntitySchema(Bad); } catch (e) { error = e; }
    expect(error).toBeInstanceOf(SchemaError);
    const message = (error as SchemaError).message;
    expect(message).toContain("Bad has 4 relation problems");
    expect(message).toContain("Bad.a: an eager relation");
    expect(message).toContain("Bad.b: cascade");
    expect(message).toContain("Bad.c: onDelete \"SET NULL\" needs a nullable foreign key");
    expect(message).toContain("Bad.d: its foreign key column dId is of type integer");
    expect((error as SchemaError).table).toBe("rs_bad");
  });

  test("a relation whose target is not among the storage's entities is a SchemaError at createStorage", async () => {
    await expect(createStorage({ backend: "memory", entities: [Post, Tag, Profile] })).rejects.toThrow(/Post.author: its target Author is not among the storage's entities/);
  });

  test("createStorage opens with relations and creates the join table", async () => {
    const storage = await createStorage({ backend: "memory", entities: [Author, Post, Tag, Profile], autoCreate: true });
    try {
      expect(storage.isConnected).toBe(true);
    } finally {
      await storage.close();
    }
  });
});
