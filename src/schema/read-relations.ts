/**
 * An entity's relations, read from TypeORM's relation decorators (`@ManyToOne`, `@OneToMany`, `@OneToOne`,
 * `@ManyToMany`, with `@JoinColumn` and `@JoinTable`): the {@link RelationSchema}s `include` and relation
 * filters use, the {@link ForeignKeySchema}s every backend enforces, the foreign key columns a relation
 * implies when the entity does not declare them, and the join tables of many-to-many relations.
 *
 * Every problem of one entity's relations is listed in one `SchemaError`: unsupported options (eager, lazy,
 * cascade, deferrable...), a join column that is not the target's primary key, a foreign key column whose
 * type differs from the key it holds, a missing inverse side.
 */
import { getMetadataArgsStorage } from "typeorm";
import { SchemaError } from "../errors.js";
import type { ColumnSchema, EntitySchema, ForeignKeySchema, OnDelete, RelationKind, RelationSchema } from "./entity-schema.js";
import { buildEntitySchema, foreignKeyIndexName, foreignKeyName, impliedUniqueIndexName } from "./entity-schema.js";
import type { DeclaredTable } from "./read-declared-table.js";
import { readDeclaredTable } from "./read-declared-table.js";

type RelationArgs = ReturnType<ReturnType<typeof getMetadataArgsStorage>["filterRelations"]>[number];

/** What {@link readRelations} adds to an entity's schema. */
export interface RelationsRead {
  readonly relations: RelationSchema[];
  readonly foreignKeys: ForeignKeySchema[];
  /** Foreign key columns the entity does not declare itself, added after its own columns. */
  readonly impliedColumns: ColumnSchema[];
  /** Foreign key properties that must be unique (one-to-one owners). */
  readonly uniqueProperties: string[];
}

/** Relation options Strata honours; any other with a value is a problem rather than ignored. */
const ON_DELETE: ReadonlyMap<string, OnDelete> = new Map<string, OnDelete>([
  ["RESTRICT", "RESTRICT"],
  // NO ACTION differs from RESTRICT only for deferred checks, which Strata does not make.
  ["NO ACTION", "RESTRICT"],
  ["CASCADE", "CASCADE"],
  ["SET NULL", "SET NULL"],
]);

/** Reads the relations of the entity `target`, whose table and columns are `declared`. */
export function readRelations(target: Function, declared: DeclaredTable): RelationsRead {
  const args = getMetadataArgsStorage();
  const { entityName, table, chain } = declared;
  const problems: string[] = [];
  const read: RelationsRead = { relations: [], foreignKeys: [], impliedColumns: [], uniqueProperties: [] };
  const columnByName = new Map(declared.columns.map((c) => [c.name, c]));
  const seen = new Set<string>();
  for (const relation of args.filterRelations(chain)) {
    if (seen.has(relation.propertyName)) continue;
    seen.add(relation.propertyName);
    const problem = (what: string): void => void problems.push(`${entityName}.${relation.propertyName}: ${what}`);
    try {
      readRelation(relation, { target, declared, read, columnByName, problem });
    } catch (error) {
      if (!(error instanceof SchemaError)) throw error;
      problem(error.message);
    }
  }
  for (const column of declared.columns) {
    if (seen.has(column.property)) problems.push(`${entityName}.${column.property}: a property cannot be both a column and a relation`);
  }
  if (problems.length === 1) throw new SchemaError(problems[0]!, { table, field: firstField(problems[0]!) });
  if (problems.length > 1) {
    throw new SchemaError(`${entityName} has ${problems.length} relation problems:\n- ${problems.join("\n- ")}`, {
      table,
      field: firstField(problems[0]!),
    });
  }
  return read;
}

function firstField(problem: string): string | undefined {
  return /^[^.]+\.([^:]+):/.exec(problem)?.[1];
}

interface ReadContext {
  readonly target: Function;
  readonly declared: DeclaredTable;
  readonly read: RelationsRead;
  readonly columnByName: Map<string, ColumnSchema>;
  readonly problem: (what: string) => void;
}

function readRelation(relation: RelationArgs, context: ReadContext): void {
  const { problem } = context;
  const property = relation.propertyName;
  const options = relation.options;
  if (relation.isTreeParent || relation.isTreeChildren) problem("a tree relation is not supported by Strata");
  if (relation.isLazy || options.lazy) problem("a lazy relation is not supported by Strata: relations load only when a query includes them");
  if (options.eager) problem("an eager relation is not supported by Strata: relations load only when a query includes them (include)");
  if (options.cascade) problem("cascade is not supported by Strata: save writes the entity's own columns only; save related entities through their repository");
  if (options.deferrable) problem("a deferrable foreign key is not supported by Strata");
  if (options.createForeignKeyConstraints === false) problem("createForeignKeyConstraints: false is not supported: Strata enforces every relation's foreign key on every backend");
  if (options.persistence === false) problem("persistence: false is not supported by Strata");
  if (options.orphanedRowAction) problem("orphanedRowAction is not supported by Strata: use onDelete on the owning side");
  if (typeof relation.type === "string") {
    problem(`a relation target given by name ("${relation.type}") is not supported: give the class, as () => ${relation.type}`);
    return;
  }
  const targetClass = (relation.type as () => unknown)();
  if (typeof targetClass !== "function") {
    problem(`the relation's target is ${targetClass === undefined ? "undefined (an import cycle? keep the arrow function: () => Target)" : typeof targetClass}, not an entity class`);
    return;
  }
  const targetTable = readDeclaredTable(targetClass);
  const kind = relation.relationType as RelationKind;
  switch (kind) {
    case "many-to-one":
      return readOwner(relation, kind, targetClass, targetTable, context);
    case "one-to-one":
      if (joinColumnsOf(context.declared.chain, property).length > 0) return readOwner(relation, kind, targetClass, targetTable, context);
      return readInverse(relation, kind, targetClass, targetTable, context);
    case "one-to-many":
      return readInverse(relation, kind, targetClass, targetTable, context);
    case "many-to-many":
      return readManyToMany(relation, targetClass, targetTable, context);
  }
}

function joinColumnsOf(chain: Function[], property: string): ReturnType<ReturnType<typeof getMetadataArgsStorage>["filterJoinColumns"]> {
  const args = getMetadataArgsStorage();
  for (const cls of chain) {
    const found = args.filterJoinColumns(cls, property);
    if (found.length > 0) return found;
  }
  return [];
}

function joinTableOf(chain: Function[], property: string): ReturnType<ReturnType<typeof getMetadataArgsStorage>["findJoinTable"]> {
  const args = getMetadataArgsStorage();
  for (const cls of chain) {
    const found = args.findJoinTable(cls, property);
    if (found) return found;
  }
  return undefined;
}

/** The type a column holding `primary`'s values has: an increment key is an integer, a uuid a string. */
function keyType(primary: ColumnSchema): ColumnSchema["type"] {
  return primary.type;
}

/** TypeORM's default join column name: the property followed by the referenced column, camel-cased. */
function defaultJoinColumnName(property: string, referenced: ColumnSchema): string {
  return `${property}${referenced.property.charAt(0).toUpperCase()}${referenced.property.slice(1)}`;
}

/**
 * The foreign key column's property on the owning side of `property` of the entity `owner`: the declared
 * column whose database name is the join column's, or the implied column named after it.
 */
function ownerForeignKey(owner: DeclaredTable, property: string, referenced: ColumnSchema): { name: string; column?: ColumnSchema } {
  const joinColumns = joinColumnsOf(owner.chain, property);
  const name = joinColumns[0]?.name ?? defaultJoinColumnName(property, referenced);
  const column = owner.columns.find((c) => c.name === name);
  return column ? { name, column } : { name };
}

function readOwner(relation: RelationArgs, kind: RelationKind, targetClass: Function, target: DeclaredTable, context: ReadContext): void {
  const { declared, read, problem } = context;
  const property = relation.propertyName;
  const joinColumns = joinColumnsOf(declared.chain, property);
  if (joinColumns.length > 1) problem("a composite join column is not supported by Strata (primary keys are one column)");
  const referencedName = joinColumns[0]?.referencedColumnName;
  if (referencedName !== undefined && referencedName !== target.primary.property && referencedName !== target.primary.name) {
    problem(`@JoinColumn referencedColumnName "${referencedName}" is not supported: a foreign key holds the primary key of ${target.entityName} (${target.primary.property})`);
  }
  const fk = ownerForeignKey(declared, property, target.primary);
  const onDelete = ON_DELETE.get(String(relation.options.onDelete ?? "RESTRICT").toUpperCase());
  if (!onDelete) problem(`onDelete "${String(relation.options.onDelete)}" is not supported: use "RESTRICT" (the default), "CASCADE" or "SET NULL"`);
  let column = fk.column;
  if (column) {
    if (column.type !== keyType(target.primary)) {
      problem(`its foreign key column ${column.property} is of type ${column.type}, but holds ${target.entityName}.${target.primary.property}, of type ${keyType(target.primary)}`);
    }
    if (column.primary) problem(`its foreign key column ${column.property} is the primary key, which Strata does not support`);
    if (relation.options.nullable === false && column.nullable) {
      problem(`the relation says nullable: false but its foreign key column ${column.property} is nullable; make the column non-nullable`);
    }
  } else {
    column = {
      property: fk.name,
      name: fk.name,
      type: keyType(target.primary),
      nullable: relation.options.nullable !== false,
      unique: false,
      primary: false,
    };
    read.impliedColumns.push(column);
  }
  if (onDelete === "SET NULL" && !column.nullable) {
    problem(`onDelete "SET NULL" needs a nullable foreign key, but ${column.property} is not nullable`);
  }
  if (kind === "one-to-one") read.uniqueProperties.push(column.property);
  read.foreignKeys.push({
    name: foreignKeyName(declared.table, column.name),
    property: column.property,
    referencedTable: target.table,
    referencedColumn: target.primary.name,
    onDelete: onDelete ?? "RESTRICT",
    relation: `${declared.entityName}.${property}`,
  });
  read.relations.push({ property, kind, toMany: false, target: targetClass, sourceProperty: column.property, targetProperty: target.primary.property });
}

/** The property an inverse side names (`(post) => post.author`, or `"author"`). */
function inversePropertyOf(relation: RelationArgs): string | undefined {
  const inverse = relation.inverseSideProperty;
  if (typeof inverse === "string") return inverse;
  if (typeof inverse === "function") {
    const picked = (inverse as (o: unknown) => unknown)(new Proxy({}, { get: (_t, key) => String(key) }));
    return typeof picked === "string" ? picked : undefined;
  }
  return undefined;
}

/** The relation `property` of the entity `owner`, as declared. */
function relationArgs(owner: DeclaredTable, property: string): RelationArgs | undefined {
  return getMetadataArgsStorage().filterRelations(owner.chain).find((r) => r.propertyName === property);
}

function readInverse(relation: RelationArgs, kind: RelationKind, targetClass: Function, target: DeclaredTable, context: ReadContext): void {
  const { declared, read, problem } = context;
  const property = relation.propertyName;
  const inverse = inversePropertyOf(relation);
  const what = kind === "one-to-many" ? "@OneToMany" : "@OneToOne without @JoinColumn";
  if (inverse === undefined) {
    problem(`${what} needs the owning side: name it, as (${lowerFirst(target.entityName)}) => ${lowerFirst(target.entityName)}.${lowerFirst(declared.entityName)}`);
    return;
  }
  const owning = relationArgs(target, inverse);
  const expected = kind === "one-to-many" ? "many-to-one" : "one-to-one";
  if (!owning || owning.relationType !== expected) {
    problem(`${what} names ${target.entityName}.${inverse} as its owning side, which is not a @${expected === "many-to-one" ? "ManyToOne" : "OneToOne with @JoinColumn"} relation`);
    return;
  }
  if (expected === "one-to-one" && joinColumnsOf(target.chain, inverse).length === 0) {
    problem(`neither side of the one-to-one with ${target.entityName}.${inverse} has @JoinColumn: put it on the side that holds the foreign key`);
    return;
  }
  const owningTarget = typeof owning.type === "function" ? (owning.type as () => unknown)() : undefined;
  if (owningTarget !== context.target && !(typeof owningTarget === "function" && context.target.prototype instanceof owningTarget)) {
    problem(`its owning side ${target.entityName}.${inverse} points at another entity`);
    return;
  }
  const fk = ownerForeignKey(target, inverse, declared.primary);
  read.relations.push({
    property,
    kind,
    toMany: kind === "one-to-many",
    target: targetClass,
    sourceProperty: declared.primary.property,
    targetProperty: fk.column?.property ?? fk.name,
  });
}

/** The join tables of many-to-many relations, one schema per owning (class, property), shared by both sides. */
const joinTables = new WeakMap<Function, Map<string, EntitySchema>>();

function readManyToMany(relation: RelationArgs, targetClass: Function, target: DeclaredTable, context: ReadContext): void {
  const { declared, read, problem } = context;
  const property = relation.propertyName;
  // The join table's columns are [id, owner's key, target's key]: this side's key is the owner's when this
  // side has @JoinTable, the target's when the other side has it.
  let schema: EntitySchema | undefined;
  let ownsJoinTable: boolean;
  if (joinTableOf(declared.chain, property)) {
    ownsJoinTable = true;
    schema = joinTableSchema(context.target, declared, property, target, problem);
  } else {
    ownsJoinTable = false;
    const inverse = inversePropertyOf(relation);
    const owning = inverse === undefined ? undefined : relationArgs(target, inverse);
    if (inverse === undefined || !owning || owning.relationType !== "many-to-many" || !joinTableOf(target.chain, inverse)) {
      problem(
        inverse === undefined
          ? "@ManyToMany needs @JoinTable on this side, or the name of the other side's (which has @JoinTable) as its second argument"
          : `@ManyToMany names ${target.entityName}.${inverse} as its owning side, which is not a @ManyToMany with @JoinTable`,
      );
      return;
    }
    schema = joinTableSchema(targetClass, target, inverse, declared, problem);
  }
  if (!schema) return;
  const [ownerColumn, inverseColumn] = [schema.columns[1]!, schema.columns[2]!];
  const [sourceColumn, targetColumn] = ownsJoinTable ? [ownerColumn, inverseColumn] : [inverseColumn, ownerColumn];
  read.relations.push({
    property,
    kind: "many-to-many",
    toMany: true,
    target: targetClass,
    sourceProperty: declared.primary.property,
    targetProperty: target.primary.property,
    joinTable: { schema, sourceProperty: sourceColumn.property, targetProperty: targetColumn.property },
  });
}

/**
 * The join table of the many-to-many `property` of `ownerClass` (the side with `@JoinTable`): an
 * `id` key, the owner's key column and the target's, unique together, each a foreign key that
 * cascades (deleting a row removes its links). Columns: `[id, owner column, target column]`.
 */
function joinTableSchema(
  ownerClass: Function,
  owner: DeclaredTable,
  property: string,
  target: DeclaredTable,
  problem: (what: string) => void,
): EntitySchema | undefined {
  const known = joinTables.get(ownerClass)?.get(property);
  if (known) return known;
  const declaredJoin = joinTableOf(owner.chain, property)!;
  const name = declaredJoin.name ?? `${owner.table}_${property}_${target.table}`;
  const ownColumn = declaredJoin.joinColumns?.[0]?.name ?? `${lowerFirst(owner.entityName)}Id`;
  const targetColumn = declaredJoin.inverseJoinColumns?.[0]?.name ?? `${lowerFirst(target.entityName)}Id`;
  let ok = true;
  if ((declaredJoin.joinColumns?.length ?? 0) > 1 || (declaredJoin.inverseJoinColumns?.length ?? 0) > 1) {
    problem("a composite join column is not supported by Strata (primary keys are one column)");
    ok = false;
  }
  if (ownColumn === targetColumn) {
    problem(`the join table "${name}" would have two columns named "${ownColumn}": name them with @JoinTable({ joinColumn: { name }, inverseJoinColumn: { name } })`);
    ok = false;
  }
  for (const column of [ownColumn, targetColumn]) {
    if (column === "id") {
      problem(`the join table "${name}" keeps "id" for its own key: give the join column another name`);
      ok = false;
    }
  }
  if (declaredJoin.database || declaredJoin.schema) {
    problem("@JoinTable database and schema options are not supported by Strata");
    ok = false;
  }
  if (!ok) return undefined;
  const columns: ColumnSchema[] = [
    { property: "id", name: "id", type: "integer", nullable: false, unique: false, primary: true, generated: "increment" },
    { property: ownColumn, name: ownColumn, type: keyType(owner.primary), nullable: false, unique: false, primary: false },
    { property: targetColumn, name: targetColumn, type: keyType(target.primary), nullable: false, unique: false, primary: false },
  ];
  const schema = buildEntitySchema({
    entityName: name,
    table: name,
    target: JoinTable,
    columns,
    indexes: [
      { name: impliedUniqueIndexName(name, [ownColumn, targetColumn]), properties: [ownColumn, targetColumn], unique: true },
      { name: foreignKeyIndexName(name, targetColumn), properties: [targetColumn], unique: false },
    ],
    foreignKeys: [
      { name: foreignKeyName(name, ownColumn), property: ownColumn, referencedTable: owner.table, referencedColumn: owner.primary.name, onDelete: "CASCADE", relation: `${owner.entityName}.${property}` },
      { name: foreignKeyName(name, targetColumn), property: targetColumn, referencedTable: target.table, referencedColumn: target.primary.name, onDelete: "CASCADE", relation: `${owner.entityName}.${property}` },
    ],
  });
  let byProperty = joinTables.get(ownerClass);
  if (!byProperty) joinTables.set(ownerClass, (byProperty = new Map()));
  byProperty.set(property, schema);
  return schema;
}

/** The `target` of a join table's schema: its rows are links, not entities. */
export function JoinTable(): void {}

function lowerFirst(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/** Every join table of `schemas`' relations, once each. */
export function joinTablesOf(schemas: Iterable<EntitySchema>): EntitySchema[] {
  const found = new Map<string, EntitySchema>();
  for (const schema of schemas) {
    for (const relation of schema.relations) {
      if (relation.joinTable) found.set(relation.joinTable.schema.table, relation.joinTable.schema);
    }
  }
  return [...found.values()];
}

