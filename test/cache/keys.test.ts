/** The cache keys, built and read back by one module (src/cache/keys.ts). */
import "reflect-metadata";
import { describe, expect, test } from "vitest";
import { Column, Entity, PrimaryColumn } from "typeorm";
import { encodeTableName, entityKeysGlob, keyVersionKey, TableKeys, tableOfKey, tableVersionKey } from "../../src/cache/keys.js";
import { normalizeQuery } from "../../src/query/normalize-query.js";
import { readEntitySchema } from "../../src/schema/read-entity-schema.js";
import { Item } from "./cache-test-kit.js";

@Entity("odd|name*[x]")
class Odd {
  @PrimaryColumn({ type: "string" }) id: string;
  @Column({ type: "string" }) name: string;
}

@Entity("cache_items")
class ItemOtherShape {
  @PrimaryColumn({ type: "string" }) id: string;
  @Column({ type: "integer" }) name: number;
}

function keysOf(entity: Function, mark = "m0", version = 0, epoch = 0, generation = 0): TableKeys {
  const keys = new TableKeys(readEntitySchema(entity));
  keys.rebuild(mark, version, epoch, generation);
  return keys;
}

describe("cache keys", () => {
  test("the table read back from an L2 key is the one it was built for, whatever the id or the table name holds", () => {
    for (const entity of [Item, Odd]) {
      const keys = keysOf(entity);
      for (const id of ["x", "a|b|c", "|", "", 42, "e|m0.0.abc|t|1"]) expect(tableOfKey(keys.l2Entity(id))).toBe(keys.table);
    }
    expect(keysOf(Odd).table).toBe(encodeTableName("odd|name*[x]"));
    expect(keysOf(Odd).table).not.toContain("|");
  });

  test("every part of the schema mark moves the keys: applied migrations, schema version, entity shape", () => {
    const base = keysOf(Item);
    for (const other of [keysOf(Item, "mOther"), keysOf(Item, "m0", 1), keysOf(ItemOtherShape)]) {
      expect(other.entity("x")).not.toBe(base.entity("x"));
      expect(other.l2Entity("x")).not.toBe(base.l2Entity("x"));
      expect(other.query("count", {})).not.toBe(base.query("count", {}));
      expect(other.space).not.toBe(base.space); // announced with a write: a peer on another space drops its own keys
    }
    expect(base.l2Entity("x")).toBe(`e|${base.space}|${base.table}|x`);
    expect(keysOf(Item, "m0", 0, 3, 5).space).toBe(base.space); // writes do not move it
  });

  test("L1 entity keys: two tables never share one, nor an entity key a query key", () => {
    const item = keysOf(Item);
    const odd = keysOf(Odd);
    for (const id of ["x", 42, "", "q|x"]) {
      expect(item.entity(id)).not.toBe(odd.entity(id));
      expect(item.entity(id).startsWith("q|")).toBe(false);
    }
    expect(keysOf(Item).entity("x")).toBe(item.entity("x")); // built alike, the same key
  });

  test("a bulk write's epoch moves L1 entity keys only; a write's generation moves query keys only; L2 keys move with neither", () => {
    const base = keysOf(Item);
    const bulk = keysOf(Item, "m0", 0, 1, 0);
    const write = keysOf(Item, "m0", 0, 0, 1);
    expect(bulk.entity("x")).not.toBe(base.entity("x"));
    expect(bulk.query("rows", { a: 1 })).toBe(base.query("rows", { a: 1 }));
    expect(write.query("rows", { a: 1 })).not.toBe(base.query("rows", { a: 1 }));
    expect(write.entity("x")).toBe(base.entity("x"));
    expect(bulk.l2Entity("x")).toBe(base.l2Entity("x"));
  });

  test("query keys: a Date and the string that looks like it differ, columns are named by property, rows and count differ", () => {
    const keys = keysOf(Item);
    const date = new Date(0);
    expect(keys.query("rows", { where: date })).not.toBe(keys.query("rows", { where: date.toISOString() }));
    expect(keys.query("rows", { column: { property: "name", other: 1 } })).toBe(keys.query("rows", { column: { property: "name", other: 2 } }));
    expect(keys.query("rows", {})).not.toBe(keys.query("count", {}));
  });

  test("query keys hold a projection's columns: queries differing only in select never share a key", () => {
    const schema = readEntitySchema(Item);
    const keys = keysOf(Item);
    const key = (query: object) => keys.query("rows", normalizeQuery(schema, query));
    const full = key({ where: { name: "a" } });
    const name = key({ where: { name: "a" }, select: ["name"] });
    expect(name).not.toBe(full);
    expect(key({ where: { name: "a" }, select: ["quantity"] })).not.toBe(name);
    expect(key({ where: { name: "a" }, select: ["name", "quantity"] })).not.toBe(name);
    // The same columns in another order (or with the key, which a projection always reads) are the same rows.
    expect(key({ where: { name: "a" }, select: ["name", "id"] })).toBe(name);
    expect(key({ where: { name: "a" }, select: ["quantity", "name"] })).toBe(key({ where: { name: "a" }, select: ["name", "quantity"] }));
    const listed = schema.columns.filter((c) => c.property === "id" || c.property === "name").map((c) => c.property);
    expect(name).toContain(`"select":${JSON.stringify(listed)}`);
  });

  test("the L2 glob of a table matches its entity keys of every schema version, and no other table's", () => {
    // The glob as Redis reads it: * any run, ? one character, [..] a class, \ escapes.
    const matches = (glob: string, text: string) => {
      const source = glob.replace(/\\(.)|([*?])|([.+^${}()|[\]])/g, (_m, escaped: string, wild: string, special: string) =>
        escaped !== undefined ? escaped.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") : wild === "*" ? "[\\s\\S]*" : wild === "?" ? "[\\s\\S]" : `\\${special}`,
      );
      return new RegExp(`^${source}$`).test(text);
    };
    const odd = keysOf(Odd);
    const later = keysOf(Odd, "m1", 3);
    const item = keysOf(Item);
    const glob = entityKeysGlob("p*:", odd.table);
    expect(matches(glob, `p*:${odd.l2Entity("x")}`)).toBe(true);
    expect(matches(glob, `p*:${later.l2Entity("a|b")}`)).toBe(true);
    expect(matches(glob, `p*:${item.l2Entity("x")}`)).toBe(false);
    expect(matches(glob, `pX:${odd.l2Entity("x")}`)).toBe(false); // the prefix's * is literal
    expect(matches(entityKeysGlob("p*:"), `p*:${item.l2Entity("x")}`)).toBe(true);
    expect(matches(entityKeysGlob("p*:"), `p*:v:${item.l2Entity("x")}`)).toBe(false); // version keys are not entries
    expect(matches(entityKeysGlob("p*:"), `pX:${item.l2Entity("x")}`)).toBe(false);
    // encodeURIComponent leaves * in a table name: it must match only itself.
    expect(matches(entityKeysGlob("p:", "a*"), "p:e|m0.0.s|a*|1")).toBe(true);
    expect(matches(entityKeysGlob("p:", "a*"), "p:e|m0.0.s|aXYZ|1")).toBe(false);
  });

  test("the Redis version keys keep the format that Redis data written by earlier releases uses", () => {
    expect(keyVersionKey("strata:", "e|m0.0.abcdefgh|cache_items|a|b")).toBe("strata:v:e|m0.0.abcdefgh|cache_items|a|b");
    expect(tableVersionKey("strata:", "odd%7Cname*%5Bx%5D")).toBe("strata:t:odd%7Cname*%5Bx%5D");
  });
});
