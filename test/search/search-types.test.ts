/**
 * The types of `repo.search` with `select` and `include`: checked by `tsc -p tsconfig.json` (which includes
 * test/), run by vitest so that the calls also run. A wrong type here fails the typecheck, not the test run.
 */
import "reflect-metadata";
import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from "typeorm";
import { afterAll, beforeAll, describe, expect, expectTypeOf, test } from "vitest";
import type { Field, Include, IRepository, SearchOptions, SearchResult, SelectSearchOptions, Storage } from "../../src/index.js";
import { Repository, createStorage } from "../../src/index.js";

@Entity("search_type_writers")
class Writer {
  @PrimaryColumn({ type: "string" }) id: string;
  @Column({ type: "string" }) name: string;
}

@Entity("search_type_notes")
@Index(["body"], { fulltext: true })
class Note {
  @PrimaryColumn({ type: "string" }) id: string;
  @Column({ type: "string" }) title: string;
  @Column({ type: "string" }) body: string;
  @ManyToOne(() => Writer, { nullable: false }) @JoinColumn({ name: "writerId" }) writer?: Writer;
  @Column({ type: "string" }) writerId: string;
}

class NoteRepository extends Repository<Note, string> {
  constructor(storage: Storage) {
    super(storage, Note);
  }
  /** A repository method returning a searched projection needs no cast. */
  titled(text: string) {
    return this.search(text, { select: ["id", "title"], include: { writer: true } });
  }
}

describe("search types", () => {
  let storage: Storage;
  let notes: NoteRepository;
  beforeAll(async () => {
    storage = await createStorage({ url: "memory:", entities: [Writer, Note] });
    notes = storage.repository(NoteRepository);
    await storage.repository(Writer).save({ id: "w1", name: "Ada" });
    await notes.save({ id: "n1", title: "Hello", body: "apple pie", writerId: "w1" });
  });
  afterAll(() => storage.close());

  test("select gives SearchResult<Pick<T, ...>>; select and include add the relations; include alone keeps T", async () => {
    const picked = await notes.search("apple", { select: ["title"], snippet: true });
    expectTypeOf(picked).toEqualTypeOf<SearchResult<Pick<Note, "title">>[]>();
    expect(picked.map((r) => [r.entity, r.snippet])).toEqual([[{ title: "Hello" }, "<b>apple</b> pie"]]);

    const titled = await notes.titled("apple");
    expectTypeOf(titled).toEqualTypeOf<SearchResult<Pick<Note, "id" | "title" | "writer">>[]>();
    expect(titled[0]!.entity.writer?.name).toBe("Ada");

    const included = await notes.search("apple", { include: { writer: true } });
    expectTypeOf(included).toEqualTypeOf<SearchResult<Note>[]>();
    expectTypeOf(await notes.search("apple")).toEqualTypeOf<SearchResult<Note>[]>();

    // Options kept in a variable: SearchOptions<T> holds no select; SelectSearchOptions<T, S> does.
    const plain: SearchOptions<Note> = { limit: 5, include: { writer: true } };
    expectTypeOf(await notes.search("apple", plain)).toEqualTypeOf<SearchResult<Note>[]>();
    const projected: SelectSearchOptions<Note, "body"> = { select: ["body"] };
    expectTypeOf(await notes.search("apple", projected)).toEqualTypeOf<SearchResult<Pick<Note, "body">>[]>();

    // Through the public interface: the same overloads as the class's.
    const viaInterface: IRepository<Note, string> = notes;
    expectTypeOf(await viaInterface.search("apple", { select: ["title"], include: { writer: true } })).toEqualTypeOf<SearchResult<Pick<Note, "title" | "writer">>[]>();
    expectTypeOf(await viaInterface.search("apple", { select: ["title"] })).toEqualTypeOf<SearchResult<Pick<Note, "title">>[]>();
    expectTypeOf(await viaInterface.search("apple", { include: { writer: { select: ["name"] } } })).toEqualTypeOf<SearchResult<Note>[]>();
    // Fields in a variable: typed as the entity's fields they select; plain strings are refused.
    const fields: Field<Note>[] = ["title"];
    expectTypeOf(await notes.search("apple", { select: fields })).toEqualTypeOf<SearchResult<Pick<Note, Field<Note>>>[]>();
    const include: Include<Note> = { writer: true };
    expectTypeOf(await notes.search("apple", { select: ["title"], include })).toEqualTypeOf<SearchResult<Pick<Note, "title" | "writer">>[]>();
    const names: string[] = ["title"];
    // @ts-expect-error: a string[] may name anything
    await expect(notes.search("apple", { select: names })).resolves.toHaveLength(1);
    // @ts-expect-error: an include's select names the related entity's fields
    await expect(notes.search("apple", { select: ["title"], include: { writer: { select: ["title"] } } })).rejects.toThrow(/"title" is not a column \(in select\)/);

    // @ts-expect-error: "nope" is not a field of Note
    await expect(notes.search("apple", { select: ["nope"] })).rejects.toThrow(/"nope" is not a column \(in select\)/);
    // @ts-expect-error: title is a column, not a relation
    await expect(notes.search("apple", { include: { title: true } })).rejects.toThrow(/"title", which is not a relation/);
  });
});
