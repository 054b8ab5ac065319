/**
 * The folded companion of an index on a string column (sql-table-statements.ts), on each SQL backend: made
 * with its index by autoCreate, `m.createTable` and `m.createIndex`, dropped with it by `m.dropIndex` and
 * `m.dropColumn`, never seen by introspection or by generate; and a table made by an older version (plain
 * indexes, no companion) still reads back as the entities declare it, with no difference to generate.
 */
import "reflect-metadata";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { SchemaError } from "../../src/errors.js";
import { diffSchema } from "../../src/migrations/diff-schema.js";
import type { Migration, Storage, StorageConfig } from "../../src/index.js";
import { createStorage, readEntitySchema } from "../../src/index.js";
import { coreOf } from "../../src/storage-core.js";
import { migrationBackends } from "../migrations/migration-backends.js";

@Entity("places")
@Index(["name"])
@Index(["pop"])
class Place {
  @PrimaryColumn({ type: "varchar" }) id: string;
  @Column({ type: "varchar" }) name: string;
  @Column({ type: "integer", nullable: true }) pop: number | null;
}

/** The index names the database's own catalog lists for `table`, companions included, sorted. */
async function catalogIndexes(storage: Storage, backend: string, table: string): Promise<string[]> {
  const tx = await coreOf(storage).backend.begin();
  try {
    const text =
      backend === "sqlite"
        ? `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL`
        : `SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = $1 AND indexname NOT LIKE '%_pkey'`;
    const rows = (await tx.schema!().sql!(text, [table])) as unknown[][];
    return rows.map((r) => String(r[0])).sort();
  } finally {
    await tx.rollback();
  }
}

async function describe_(storage: Storage, table: string) {
  const tx = await coreOf(storage).backend.begin();
  try {
    return await tx.schema!().describeTable(table);
  } finally {
    await tx.rollback();
  }
}

async function diff(storage: Storage) {
  const tx = await coreOf(storage).backend.begin();
  try {
    return await diffSchema([readEntitySchema(Place)], tx.schema!());
  } finally {
    await tx.rollback();
  }
}

/** An index name longer than PostgreSQL keeps (63 bytes): it stores the name cut, as it does a long @Index name. */
const LONG_INDEX_NAME = `idx_places_name_${"x".repeat(54)}`;

@Entity("places")
@Index(LONG_INDEX_NAME, ["name"])
class LongNamedPlace {
  @PrimaryColumn({ type: "varchar" }) id: string;
  @Column({ type: "varchar" }) name: string;
}

/** An index of its own named as a companion would be: `idx_places_name`'s on a string column. */
@Entity("places")
@Index("idx_places_name", ["name"])
@Index("idx_places_name__folded", ["pop"])
class CompanionNamedPlace {
  @PrimaryColumn({ type: "varchar" }) id: string;
  @Column({ type: "varchar" }) name: string;
  @Column({ type: "integer", nullable: true }) pop: number | null;
}

test("an entity index named as a folded companion (<name>__folded) is a SchemaError naming the table and the index", () => {
  expect(() => readEntitySchema(CompanionNamedPlace)).toThrow(SchemaError);
  expect(() => readEntitySchema(CompanionNamedPlace)).toThrow(/"places".*idx_places_name__folded|idx_places_name__folded.*"places"/);
});

const createPlaces: Migration = {
  version: 1,
  name: "create-places",
  async up(m) {
    await m.createTable("places", { id: { type: "string", primary: true }, name: { type: "string" }, pop: { type: "integer", nullable: true } });
    await m.createIndex("places", ["name"], { name: "idx_places_name" });
    await m.createIndex("places", ["pop"], { name: "idx_places_pop" });
  },
  async down(m) {
    await m.dropTable("places");
  },
};

const dropNameIndex: Migration = {
  version: 2,
  name: "drop-name-index",
  async up(m) {
    await m.dropIndex("places", "idx_places_name");
  },
  async down(m) {
    await m.createIndex("places", ["name"], { name: "idx_places_name" });
  },
};

const PLACES = [
  { id: "1", name: "San José", pop: 10 },
  { id: "2", name: "SANTA Ana", pop: null },
  { id: "3", name: "san diego", pop: 30 },
  { id: "4", name: "Sanaa", pop: 20 },
];

for (const backend of migrationBackends().filter((b) => b.name === "sqlite" || b.name === "postgres")) {
  describe(`${backend.name}: the folded companion of an index on a string column`, () => {
    let config: StorageConfig;
    let cleanup: () => Promise<void>;
    let storage: Storage | undefined;
    beforeEach(async () => {
      ({ config, cleanup } = await backend.fresh());
    });
    afterEach(async () => {
      await storage?.close();
      storage = undefined;
      await cleanup();
    });

    test("autoCreate makes it beside the index; introspection and generate see only the declared indexes", async () => {
      storage = await createStorage({ ...config, entities: [Place], autoCreate: true, cache: false });
      expect(await catalogIndexes(storage, backend.name, "places")).toEqual(["idx_places_name", "idx_places_name__folded", "idx_places_pop"]);
      expect((await describe_(storage, "places"))?.indexes.map((i) => i.name)).toEqual(["idx_places_name", "idx_places_pop"]);
      expect(await diff(storage)).toEqual({ up: [], down: [], warnings: [] });
      const places = storage.repository(Place);
      await places.saveMany(PLACES);
      // The range the prefix allows is exact: "Sanaa" and "SANTA Ana" share "san" but not "san ".
      expect((await places.findAll({ where: { name: { $ilike: "san %" } } })).map((p) => p.id)).toEqual(["1", "3"]);
      expect((await places.findAll({ where: { name: { $ilike: "SAN%" } } })).map((p) => p.id)).toEqual(["1", "2", "3", "4"]);
      // Nulls first ascending, last descending, as on every backend.
      expect((await places.findAll({ orderBy: { pop: "asc" } })).map((p) => p.id)).toEqual(["2", "1", "4", "3"]);
      expect((await places.findAll({ orderBy: { pop: "desc" } })).map((p) => p.id)).toEqual(["3", "4", "1", "2"]);
    });

    test("an index whose name is longer than PostgreSQL keeps: its companion is still hidden, nothing to generate", async () => {
      storage = await createStorage({ ...config, entities: [LongNamedPlace], autoCreate: true, cache: false });
      expect(await catalogIndexes(storage, backend.name, "places")).toHaveLength(2);
      expect((await describe_(storage, "places"))?.indexes.map((i) => i.columns)).toEqual([["name"]]);
      const tx = await coreOf(storage).backend.begin();
      try {
        expect(await diffSchema([readEntitySchema(LongNamedPlace)], tx.schema!())).toEqual({ up: [], down: [], warnings: [] });
      } finally {
        await tx.rollback();
      }
    });

    test("m.createIndex makes it, m.dropIndex drops it with its index, and down() brings both back", async () => {
      storage = await createStorage({ ...config, entities: [Place], migrations: [createPlaces, dropNameIndex], autoCreate: false, cache: false });
      await storage.migrations.up({ to: 1 });
      expect(await catalogIndexes(storage, backend.name, "places")).toEqual(["idx_places_name", "idx_places_name__folded", "idx_places_pop"]);
      expect(await diff(storage)).toEqual({ up: [], down: [], warnings: [] });
      await storage.migrations.up();
      expect(await catalogIndexes(storage, backend.name, "places")).toEqual(["idx_places_pop"]);
      expect((await diff(storage)).up).toEqual([`await m.createIndex("places", ["name"], { name: "idx_places_name" });`]);
      await storage.migrations.down();
      expect(await catalogIndexes(storage, backend.name, "places")).toEqual(["idx_places_name", "idx_places_name__folded", "idx_places_pop"]);
    });

    test("m.createIndex named as a folded companion (<name>__folded) is a SchemaError naming the table and the index; nothing changes", async () => {
      // Else m.dropIndex("idx_places_pop") would drop it too, and introspection would hide it beside idx_places_pop.
      const companionNamed: Migration = {
        version: 2,
        name: "companion-named",
        async up(m) {
          await m.createIndex("places", ["name"], { name: "idx_places_pop__folded" });
        },
      };
      storage = await createStorage({ ...config, entities: [Place], migrations: [createPlaces, companionNamed], autoCreate: false, cache: false });
      await storage.migrations.up({ to: 1 });
      const failure = await storage.migrations.up().then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(Error);
      expect(String((failure as Error).message)).toMatch(/idx_places_pop__folded/);
      expect(((failure as Error).cause ?? failure) instanceof SchemaError).toBe(true);
      expect(await catalogIndexes(storage, backend.name, "places")).toEqual(["idx_places_name", "idx_places_name__folded", "idx_places_pop"]);
    });

    test("m.dropColumn drops the column's index and its companion", async () => {
      const dropName: Migration = {
        version: 2,
        name: "drop-name",
        async up(m) {
          await m.dropColumn("places", "name");
        },
      };
      storage = await createStorage({ ...config, entities: [Place], migrations: [createPlaces, dropName], autoCreate: false, cache: false });
      await storage.migrations.up();
      expect(await catalogIndexes(storage, backend.name, "places")).toEqual(["idx_places_pop"]);
    });

    test("a table an older version made (plain indexes, no companion) reads back the same: nothing to generate, same answers", async () => {
      const legacy: Migration = {
        version: 1,
        name: "legacy-places",
        async up(m) {
          const text = backend.name === "sqlite" ? "TEXT" : 'text COLLATE "C"';
          const integer = backend.name === "sqlite" ? "INTEGER" : "bigint";
          await m.sql(`CREATE TABLE "places" ("id" ${text} PRIMARY KEY, "name" ${text} NOT NULL, "pop" ${integer})`);
          await m.sql(`CREATE INDEX "idx_places_name" ON "places" ("name")`);
          await m.sql(`CREATE INDEX "idx_places_pop" ON "places" ("pop")`);
        },
      };
      storage = await createStorage({ ...config, entities: [Place], migrations: [legacy], autoCreate: false, cache: false });
      await storage.migrations.up();
      expect(await catalogIndexes(storage, backend.name, "places")).toEqual(["idx_places_name", "idx_places_pop"]);
      expect(await diff(storage)).toEqual({ up: [], down: [], warnings: [] });
      const places = storage.repository(Place);
      await places.saveMany(PLACES);
      expect((await places.findAll({ where: { name: { $ilike: "san %" } } })).map((p) => p.id)).toEqual(["1", "3"]);
      expect((await places.findAll({ orderBy: { pop: "asc" } })).map((p) => p.id)).toEqual(["2", "1", "4", "3"]);
      expect((await places.findAll({ orderBy: { pop: "desc" } })).map((p) => p.id)).toEqual(["3", "4", "1", "2"]);
    });
  });
}
