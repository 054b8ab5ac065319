import { getMetadataArgsStorage } from "typeorm";
import { SchemaError } from "../errors.js";
import type { ColumnSchema, EntitySchema, IndexSchema } from "./entity-schema.js";
import { buildEntitySchema, checkIndexNameFree, defaultFullTextIndexName, foreignKeyIndexName, impliedUniqueIndexName } from "./entity-schema.js";
import { readDeclaredTable } from "./read-declared-table.js";
import { readRelations } from "./read-relations.js";

const cache = new WeakMap<Function, EntitySchema>();

/**
 * Reads the TypeORM decorator metadata of `target` into an {@link EntitySchema}.
 * Throws {@link SchemaError} naming the entity and property for anything unsupported.
 */
export function readEntitySchema(target: Function): EntitySchema {
  const known = cache.get(target);
  if (known) return known;
  const schema = buildSchema(target);
  cache.set(target, schema);
  return schema;
}

function buildSchema(target: Function): EntitySchema {
  const declared = readDeclaredTable(target);
  const { entityName, table: tableName, chain, primary } = declared;
  const args = getMetadataArgsStorage();
  const unsupported = (property: string, what: string): never => {
    throw new SchemaError(`${entityName}.${property}: ${what} is not supported by Strata`, {
      table: tableName,
      field: property,
    });
  };
  const columns = [...declared.columns];
  const relationsRead = readRelations(target, declared);
  columns.push(...relationsRead.impliedColumns);

  const names = new Set<string>();
  for (const c of columns) {
    if (names.has(c.name)) {
      throw new SchemaError(`${entityName}.${c.property}: column name "${c.name}" is used twice`, {
        table: tableName,
        field: c.property,
      });
    }
    names.add(c.name);
  }
  const byProperty = new Map(columns.map((c) => [c.property, c]));
  const onlyOne = (role: ColumnSchema["role"]): void => {
    const found = columns.filter((c) => c.role === role);
    if (found.length > 1) unsupported(found[1]!.property, `a second @${role} column`);
  };

  const indexes: IndexSchema[] = [];
  const indexProperties = (columnsArg: unknown, where: string): string[] => {
    const list = propertyNames(columnsArg);
    for (const p of list) {
      if (!byProperty.has(p)) unsupported(p, `${where} on a property that is not a column`);
    }
    return list;
  };
  const fullTextProperties = new Set<string>();
  let fullTextName: string | undefined;
  for (const idx of args.filterIndices(chain)) {
    // A property-level @Index() records the property in `columns` as a one-element array.
    const properties = indexProperties(idx.columns, "@Index");
    if (properties.length === 0) unsupported(idx.name ?? "(class)", "@Index without columns");
    if (idx.fulltext) {
      if (idx.where || idx.spatial || idx.unique) unsupported(properties[0]!, "a unique, partial or spatial fulltext @Index");
      for (const p of properties) {
        const column = byProperty.get(p)!;
        if (column.type !== "string") {
          throw new SchemaError(`${entityName}.${p}: a fulltext @Index takes string columns only, and this one is ${column.type}`, { table: tableName, field: p });
        }
        fullTextProperties.add(p);
      }
      // One full-text index per entity: every fulltext @Index adds to it, under one name.
      if (idx.name !== undefined) {
        if (fullTextName !== undefined && fullTextName !== idx.name) {
          unsupported(properties[0]!, `a second full-text index name ("${idx.name}" besides "${fullTextName}": an entity has one full-text index, name it once)`);
        }
        fullTextName = idx.name;
      }
      continue;
    }
    if (idx.where || idx.spatial) unsupported(properties[0]!, "a partial or spatial @Index");
    indexes.push({
      name: idx.name ?? `idx_${tableName}_${properties.join("_")}`,
      properties,
      unique: idx.unique === true,
    });
  }
  // `@Column({ unique: true })` also lands here, as a one-column unique constraint.
  for (const u of args.filterUniques(chain)) {
    const properties = indexProperties(u.columns, "@Unique");
    if (properties.length === 1 && properties[0] === primary.property) continue;
    const name = u.name ?? impliedUniqueIndexName(tableName, properties);
    if (!indexes.some((i) => i.unique && i.properties.join() === properties.join())) {
      indexes.push({ name, properties, unique: true });
    }
  }
  // A one-to-one's foreign key is unique (one row per target row); every foreign key gets an index, which
  // the engine needs to find the rows pointing at a deleted row and SQL needs to cascade without a scan.
  for (const property of relationsRead.uniqueProperties) {
    if (!indexes.some((i) => i.unique && i.properties.length === 1 && i.properties[0] === property)) {
      indexes.push({ name: impliedUniqueIndexName(tableName, [byProperty.get(property)!.name]), properties: [property], unique: true });
    }
  }
  for (const fk of relationsRead.foreignKeys) {
    if (!indexes.some((i) => i.properties[0] === fk.property)) {
      indexes.push({ name: foreignKeyIndexName(tableName, byProperty.get(fk.property)!.name), properties: [fk.property], unique: false });
    }
  }

  // The full-text index's columns in the entity's column order, whatever order the decorators ran in.
  const fullText =
    fullTextProperties.size === 0 ? undefined : { name: fullTextName ?? defaultFullTextIndexName(tableName), properties: columns.filter((c) => fullTextProperties.has(c.property)).map((c) => c.property) };
  for (const index of indexes) checkIndexNameFree(index.name, tableName);
  if (fullText !== undefined) {
    checkIndexNameFree(fullText.name, tableName);
    if (indexes.some((i) => i.name === fullText.name)) unsupported(fullText.properties[0]!, `a full-text index named like another index ("${fullText.name}")`);
  }
  // Refused here, with the entity's names: the builder would take the first of each.
  for (const role of ["version", "createDate", "updateDate"] as const) onlyOne(role);
  return buildEntitySchema({
    entityName,
    table: tableName,
    target,
    columns,
    indexes,
    foreignKeys: relationsRead.foreignKeys,
    relations: relationsRead.relations,
    ...(fullText ? { fullText } : {}),
  });
}

/** The property names an `@Index`/`@Unique` columns argument lists: an array, or a function picking them. */
function propertyNames(columnsArg: unknown): string[] {
  if (Array.isArray(columnsArg)) return columnsArg.map(String);
  if (typeof columnsArg === "function") {
    const picked = (columnsArg as (o: unknown) => unknown)(new Proxy({}, { get: (_t, key) => String(key) }));
    return Array.isArray(picked) ? picked.map(String) : Object.keys(picked as object);
  }
  return [];
}

