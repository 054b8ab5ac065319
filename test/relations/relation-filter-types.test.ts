/**
 * The types of relation filters in `where`: checked by `tsc -p tsconfig.json` (which includes test/), run by
 * vitest so that the normalization runs too. A wrong type here fails the typecheck, not the test run.
 */
import "reflect-metadata";
import { describe, expect, test } from "vitest";
import { RfPost } from "../../src/conformance/relation-filter-tests.js";
import type { Where } from "../../src/index.js";
import { QueryError } from "../../src/index.js";
import { normalizeWhere } from "../../src/query/normalize-query.js";
import { readEntitySchema } from "../../src/schema/read-entity-schema.js";
import { tablesRead } from "../../src/query/tables-read.js";

const schema = readEntitySchema(RfPost);

describe("relation filter types", () => {
  test("to-one conditions, null, to-many quantifiers, nesting and OR arrays type-check as Where", () => {
    const wheres: Where<RfPost>[] = [
      { author: { name: "Ada" } },
      { author: null },
      { author: [{ name: "Ada" }, { rank: { $gt: 1 } }] },
      { comments: { $some: { approved: true } } },
      { comments: { $none: { body: null }, $every: { approved: { $ne: false } } } },
      { comments: { $some: { author: { name: "Ada" } } }, tags: { $every: { color: "red" } } },
      { authorId: "a1", title: { $like: "I%" } },
    ];
    for (const where of wheres) expect(normalizeWhere(schema, where)).toHaveLength(1);
    // @ts-expect-error a to-many relation takes $some, $none or $every, not conditions
    const bare: Where<RfPost> = { comments: { approved: true } };
    // @ts-expect-error a field of the related entity must exist
    const unknown: Where<RfPost> = { author: { nickname: "Ada" } };
    // @ts-expect-error a value must fit the related field's type
    const wrong: Where<RfPost> = { comments: { $some: { approved: "yes" } } };
    for (const where of [bare, unknown, wrong]) expect(() => normalizeWhere(schema, where)).toThrow(QueryError);
  });

  test("tablesRead lists the related and join tables a where reads, nested ones included, once each", () => {
    expect(tablesRead(normalizeWhere(schema, { title: "x" }))).toEqual([]);
    const read = tablesRead(normalizeWhere(schema, [{ tags: { $some: { color: "red" } } }, { comments: { $some: { author: { name: "Ada" } } }, author: {} }]));
    expect(read.map((t) => t.table)).toEqual(["rf_post_tags", "rf_tags", "rf_comments", "rf_authors"]);
  });
});
