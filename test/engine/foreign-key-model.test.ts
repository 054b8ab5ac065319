/**
 * Foreign keys against a reference model: random trees of parents, children (which may also point at an
 * earlier child, a self-reference) and grandchildren, each foreign key with a random onDelete, under random
 * deletes and deleteMany, some inside a transaction that rolls back. The model finds what a delete reaches by
 * a fixpoint over every row (no index, no order), the engine through its foreign key indexes level by level;
 * after each step every row of every table, the lookups by foreign key and whether a delete was refused must
 * agree. Run on the memory backend and the file backend (reopened at the end: the journal holds the cascades).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { openBackend } from "../../src/conformance/index.js";
import { IntegrityError } from "../../src/index.js";
import type { Backend, Key } from "../../src/spi/index.js";
import type { EntitySchema, OnDelete, Row } from "../../src/schema/entity-schema.js";
import type { NormalizedWhere } from "../../src/query/query.js";
import { schemaOfTable } from "../../src/schema/table-schema.js";

const ON_DELETE = fc.constantFrom<OnDelete>("RESTRICT", "CASCADE", "SET NULL");

interface Rules {
  readonly childParent: OnDelete;
  readonly childSibling: OnDelete;
  readonly grandchildChild: OnDelete;
}

/** efk_m_parents <- efk_m_children (parentId; siblingId -> efk_m_children) <- efk_m_grandchildren (childId, no declared index). */
function schemasFor(rules: Rules): EntitySchema[] {
  const key = { name: "id", type: "integer", nullable: false, primary: true, unique: false } as const;
  const ref = (name: string) => ({ name, type: "integer", nullable: true, primary: false, unique: false }) as const;
  return [
    schemaOfTable({ name: "efk_m_parents", columns: [key], indexes: [] }),
    schemaOfTable({
      name: "efk_m_children",
      columns: [key, ref("parentId"), ref("siblingId")],
      indexes: [
        { name: "idx_efk_m_children_parentId", columns: ["parentId"], unique: false },
        { name: "idx_efk_m_children_siblingId", columns: ["siblingId", "parentId"], unique: false },
      ],
      foreignKeys: [
        { name: "fk_efk_m_children_parentId", column: "parentId", referencedTable: "efk_m_parents", referencedColumn: "id", onDelete: rules.childParent },
        { name: "fk_efk_m_children_siblingId", column: "siblingId", referencedTable: "efk_m_children", referencedColumn: "id", onDelete: rules.childSibling },
      ],
    }),
    // No index under its foreign key (as a migration may make it): the engine builds its own lookup.
    schemaOfTable({
      name: "efk_m_grandchildren",
      columns: [key, ref("childId")],
      indexes: [],
      foreignKeys: [{ name: "fk_efk_m_grandchildren_childId", column: "childId", referencedTable: "efk_m_children", referencedColumn: "id", onDelete: rules.grandchildChild }],
    }),
  ];
}

/** Table -> key -> row: the reference model. */
type Model = Map<string, Map<number, Row>>;

/** What deleting `keys` of `table` does in the model: the new state, or "refused". A fixpoint over every row. */
function modelDelete(model: Model, schemas: readonly EntitySchema[], table: string, keys: readonly number[]): Model | "refused" {
  const doomed = new Map<string, Set<number>>(schemas.map((s) => [s.table, new Set<number>()]));
  for (const k of keys) if (model.get(table)!.has(k)) doomed.get(table)!.add(k);
  for (let changed = true; changed; ) {
    changed = false;
    for (const schema of schemas) {
      for (const fk of schema.foreignKeys) {
        if (fk.onDelete !== "CASCADE") continue;
        for (const [k, row] of model.get(schema.table)!) {
          if (doomed.get(fk.referencedTable)!.has(row[fk.property] as number) && !doomed.get(schema.table)!.has(k)) {
            doomed.get(schema.table)!.add(k);
            changed = true;
          }
        }
      }
    }
  }
  const next: Model = new Map();
  for (const schema of schemas) {
    const rows = new Map<number, Row>();
    for (const [k, row] of model.get(schema.table)!) {
      if (doomed.get(schema.table)!.has(k)) continue;
      let out = row;
      for (const fk of schema.foreignKeys) {
        if (!doomed.get(fk.referencedTable)!.has(row[fk.property] as number)) continue;
        if (fk.onDelete === "RESTRICT") return "refused";
        if (fk.onDelete === "SET NULL") out = { ...out, [fk.property]: null };
      }
      rows.set(k, out);
    }
    next.set(schema.table, rows);
  }
  return next;
}

const tree = fc.record({
  parents: fc.integer({ min: 1, max: 4 }),
  children: fc.array(fc.record({ parent: fc.nat(5), sibling: fc.nat(12) }), { maxLength: 10 }),
  grandchildren: fc.array(fc.nat(12), { maxLength: 12 }),
});

const step = fc.record({
  table: fc.constantFrom("efk_m_parents", "efk_m_children", "efk_m_grandchildren"),
  keys: fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 3 }),
  many: fc.boolean(),
  rolledBack: fc.boolean(),
});

async function rowsOf(backend: Backend, schema: EntitySchema): Promise<Row[]> {
  return backend.session.find(schema, { where: [[]], orderBy: [{ column: schema.primary, direction: "asc" }], offset: 0 });
}

async function expectSame(backend: Backend, schemas: readonly EntitySchema[], model: Model): Promise<void> {
  for (const schema of schemas) {
    const expected = [...model.get(schema.table)!.values()].sort((a, b) => (a["id"] as number) - (b["id"] as number));
    expect(await rowsOf(backend, schema), schema.table).toEqual(expected);
    // The lookup a cascade uses: rows by foreign key value, through the index (or the engine's own).
    for (const fk of schema.foreignKeys) {
      const column = schema.columnsByProperty.get(fk.property)!;
      for (const value of [1, 2, 3]) {
        const where: NormalizedWhere = [[{ column, op: "eq", value }]];
        expect(await backend.session.count(schema, where), `${schema.table}.${fk.property} = ${value}`).toBe(expected.filter((r) => r[fk.property] === value).length);
      }
    }
  }
}

async function run(open: (schemas: EntitySchema[]) => Promise<{ backend: Backend; reopen?: () => Promise<Backend>; done: () => void }>): Promise<void> {
  await fc.assert(
    fc.asyncProperty(fc.record({ childParent: ON_DELETE, childSibling: ON_DELETE, grandchildChild: ON_DELETE }), tree, fc.array(step, { minLength: 1, maxLength: 6 }), async (rules, shape, steps) => {
      const schemas = schemasFor(rules);
      const [parents, children, grandchildren] = schemas as [EntitySchema, EntitySchema, EntitySchema];
      const { backend, reopen, done } = await open(schemas);
      let current = backend;
      try {
        const model: Model = new Map(schemas.map((s) => [s.table, new Map()]));
        const put = async (schema: EntitySchema, row: Row) => {
          await backend.session.insert(schema, row);
          model.get(schema.table)!.set(row["id"] as number, row);
        };
        for (let id = 1; id <= shape.parents; id++) await put(parents, { id });
        // Children point at an existing parent (or none) and at an earlier child (or none): every insert is valid.
        for (const [i, c] of shape.children.entries()) {
          const id = i + 1;
          await put(children, { id, parentId: c.parent >= 1 && c.parent <= shape.parents ? c.parent : null, siblingId: c.sibling >= 1 && c.sibling <= id ? c.sibling : null });
        }
        for (const [i, c] of shape.grandchildren.entries()) await put(grandchildren, { id: i + 1, childId: c >= 1 && c <= shape.children.length ? c : null });
        // A missing parent is refused, also by a row pointing at itself through another key.
        await expect(backend.session.insert(grandchildren, { id: 100, childId: 99 })).rejects.toThrow(IntegrityError);
        let state = model;
        for (const s of steps) {
          const schema = schemas.find((x) => x.table === s.table)!;
          const expected = modelDelete(state, schemas, s.table, s.keys);
          const remove = async (session: Pick<Backend["session"], "delete" | "deleteMany">) => {
            if (s.many) await session.deleteMany(schema, [[{ column: schema.primary, op: "in", value: s.keys }]]);
            else for (const key of new Set(s.keys)) await session.delete(schema, key as Key);
          };
          if (s.rolledBack) {
            const tx = await current.begin();
            try {
              await remove(tx).catch((error: unknown) => {
                if (!(error instanceof IntegrityError)) throw error;
              });
            } finally {
              await tx.rollback();
            }
            await expectSame(current, schemas, state);
            continue;
          }
          let refused = false;
          if (s.many) {
            await remove(current.session).catch((error: unknown) => {
              if (!(error instanceof IntegrityError)) throw error;
              refused = true;
            });
            expect(refused).toBe(expected === "refused");
            if (expected !== "refused") state = expected;
          } else {
            // Key after key: each delete is refused or applied whole on its own.
            for (const key of new Set(s.keys)) {
              const after = modelDelete(state, schemas, s.table, [key]);
              let keyRefused = false;
              await current.session.delete(schema, key as Key).catch((error: unknown) => {
                if (!(error instanceof IntegrityError)) throw error;
                keyRefused = true;
              });
              expect(keyRefused).toBe(after === "refused");
              if (after !== "refused") state = after;
            }
          }
          await expectSame(current, schemas, state);
        }
        if (reopen) {
          current = await reopen();
          await expectSame(current, schemas, state);
        }
      } finally {
        await current.close();
        done();
      }
    }),
    { numRuns: Number(process.env["FK_MODEL_RUNS"] ?? 150) },
  );
}

describe("foreign keys: random trees under random deletes against a reference model", () => {
  test("memory", async () => {
    await run(async (schemas) => ({ backend: await openBackend({ url: "memory:" }, schemas), done: () => {} }));
  }, 120_000);

  test("file, reopened after the deletes", async () => {
    await run(async (schemas) => {
      const dir = mkdtempSync(join(tmpdir(), "efk-model-"));
      const config = { url: `file:${dir}`, autoCreate: true, file: { fsync: "never" as const } };
      const backend = await openBackend(config, schemas);
      return {
        backend,
        reopen: async () => {
          await backend.close();
          return openBackend(config, schemas);
        },
        done: () => rmSync(dir, { recursive: true, force: true }),
      };
    });
  }, 240_000);
});
