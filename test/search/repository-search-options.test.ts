/**
 * `repo.search`'s options as a careless caller passes them: what is not an option object, or not a value the
 * option takes, is a QueryError naming the option (as `findAll` does), never silently the default.
 */
import "reflect-metadata";
import { afterEach, describe, expect, test } from "vitest";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { createStorage, QueryError, type Storage } from "../../src/index.js";

@Entity("search_option_notes")
@Index(["text"], { fulltext: true })
class Note {
  @PrimaryColumn({ type: "integer" }) id: number;
  @Column({ type: "string" }) text: string;
}

let storage: Storage | undefined;
afterEach(async () => {
  await storage?.close();
  storage = undefined;
});

describe("memory: repo.search options", () => {
  test("an array for the options or for snippet, and a null limit, are QueryErrors naming them", async () => {
    storage = await createStorage({ url: "memory:", entities: [Note] });
    const notes = storage.repository(Note);
    await notes.save({ id: 1, text: "apple pie" });
    await expect(notes.search("apple", [] as never)).rejects.toThrow(QueryError);
    await expect(notes.search("apple", [] as never)).rejects.toThrow(/search options must be an object/);
    await expect(notes.search("apple", { snippet: [] as never })).rejects.toThrow(/search snippet must be true, false or/);
    await expect(notes.search("apple", { limit: null as never })).rejects.toThrow(/limit must be a non-negative integer, got null/);
    // What is accepted still is.
    expect((await notes.search("apple", { snippet: {}, limit: 1 })).map((r) => r.snippet)).toEqual(["<b>apple</b> pie"]);
  });
});
