/**
 * An entity's table and columns as its column decorators declare them (TypeORM's metadata), read once per
 * class. Relations read their targets' through this module, never through the whole schema, so two
 * entities that point at each other are read without a cycle.
 */
import { getMetadataArgsStorage } from "typeorm";
import { SchemaError } from "../errors.js";
import { RESERVED_COLUMN_PREFIX, type ColumnSchema, type LogicalType } from "./entity-schema.js";
import { valueProblem } from "./row-values.js";

/** TypeORM type names (lower-cased) onto Strata's logical types. */
const TYPE_NAMES: ReadonlyMap<string, LogicalType> = new Map<string, LogicalType>([
  ["string", "string"], ["varchar", "string"], ["text", "string"], ["char", "string"],
  ["character varying", "string"], ["nvarchar", "string"], ["uuid", "string"],
  ["int", "integer"], ["integer", "integer"], ["int2", "integer"], ["int4", "integer"], ["int8", "integer"],
  ["smallint", "integer"], ["bigint", "integer"], ["tinyint", "integer"],
  ["number", "number"], ["real", "number"], ["float", "number"], ["float4", "number"], ["float8", "number"],
  ["double", "number"], ["double precision", "number"],
  ["boolean", "boolean"], ["bool", "boolean"],
  ["datetime", "datetime"], ["timestamp", "datetime"], ["timestamptz", "datetime"],
  ["timestamp with time zone", "datetime"], ["timestamp without time zone", "datetime"], ["date", "datetime"],
  ["simple-json", "json"], ["json", "json"], ["jsonb", "json"],
]);

/** Reflected design types (`design:type`) onto logical types. */
const DESIGN_TYPES: ReadonlyMap<Function, LogicalType> = new Map<Function, LogicalType>([
  [String, "string"], [Number, "number"], [Boolean, "boolean"], [Date, "datetime"],
]);

/** Column options Strata honours; any other option with a value is rejected rather than ignored. */
const KNOWN_COLUMN_OPTIONS = new Set([
  "type", "name", "nullable", "default", "unique", "primary", "length", "comment", "precision", "scale",
]);

export function inheritanceChain(target: Function): Function[] {
  const chain: Function[] = [];
  for (let t: unknown = target; typeof t === "function" && t !== Function.prototype; t = Object.getPrototypeOf(t)) {
    chain.push(t as Function);
  }
  return chain;
}

/** An entity's table and columns as its column decorators declare them, before its relations are read. */
export interface DeclaredTable {
  readonly entityName: string;
  readonly table: string;
  readonly chain: Function[];
  readonly columns: readonly ColumnSchema[];
  readonly primary: ColumnSchema;
}

const declaredTables = new WeakMap<Function, DeclaredTable>();

/**
 * The table and columns of `target`, read once. Relations read their target's through this, not through
 * {@link readEntitySchema}: two entities that point at each other would otherwise read each other forever.
 */
export function readDeclaredTable(target: Function): DeclaredTable {
  const known = declaredTables.get(target);
  if (known) return known;
  if (typeof target !== "function") {
    throw new SchemaError(`Expected an entity class, got ${describe(target)}`);
  }
  const args = getMetadataArgsStorage();
  const entityName = target.name || "(anonymous entity)";
  const table = args.tables.find((t) => t.target === target);
  if (!table) {
    throw new SchemaError(`${entityName} is not an entity: add @Entity() to the class`, { table: entityName });
  }
  if (table.type !== "regular") {
    throw new SchemaError(`${entityName}: table type "${table.type}" is not supported (only plain @Entity tables)`, {
      table: entityName,
    });
  }
  const tableName = table.name ?? entityName;
  const chain = inheritanceChain(target);

  const unsupported = (property: string, what: string): never => {
    throw new SchemaError(`${entityName}.${property}: ${what} is not supported by Strata`, {
      table: tableName,
      field: property,
    });
  };
  for (const e of args.filterEmbeddeds(chain)) unsupported(e.propertyName, "an embedded column");
  for (const r of args.filterRelationIds(chain)) unsupported(r.propertyName, "@RelationId");
  if (args.filterChecks(chain).length > 0) unsupported("(class)", "@Check");
  if (args.filterExclusions(chain).length > 0) unsupported("(class)", "@Exclusion");
  if (args.findTree(chain)) unsupported("(class)", "@Tree");

  const columns = declaredColumns(args.columns, chain).map((arg) =>
    readColumn(entityName, tableName, arg, args.findGenerated(chain, arg.propertyName)?.strategy),
  );
  const primaries = columns.filter((c) => c.primary);
  if (primaries.length === 0) {
    throw new SchemaError(`${entityName} has no primary column: add @PrimaryColumn() or @PrimaryGeneratedColumn()`, {
      table: tableName,
    });
  }
  if (primaries.length > 1) {
    throw new SchemaError(
      `${entityName}: composite primary keys (${primaries.map((c) => c.property).join(", ")}) are not supported`,
      { table: tableName, field: primaries[1]?.property },
    );
  }
  const primary = primaries[0]!;
  // Keys are strings or numbers everywhere (Key): a Date, boolean or json key would be compared by identity
  // in the memory engine and by value in SQL, so equal keys would make one row on SQLite and two in memory.
  if (primary.type !== "string" && primary.type !== "integer" && primary.type !== "number") {
    throw new SchemaError(`${entityName}.${primary.property}: a primary key of type ${primary.type} is not supported; use a string, integer or number column`, {
      table: tableName,
      field: primary.property,
    });
  }
  const declared: DeclaredTable = { entityName, table: tableName, chain, columns, primary };
  declaredTables.set(target, declared);
  return declared;
}

type ColumnArgs = ReturnType<typeof getMetadataArgsStorage>["columns"][number];

/**
 * The column decorators of `chain` (a class, then its ancestors) in declaration order: decorators run as
 * the class body is evaluated, so TypeORM records them in source order, a base class's before its
 * subclass's. A property declared again by a subclass keeps the base's position and takes the subclass's
 * options. (TypeORM's `filterColumns` keeps the first record of a property, the base's, and so cannot be used.)
 */
function declaredColumns(all: readonly ColumnArgs[], chain: readonly Function[]): ColumnArgs[] {
  const depth = (arg: ColumnArgs): number => chain.indexOf(arg.target as Function);
  const byProperty = new Map<string, ColumnArgs>();
  for (const arg of all) {
    if (depth(arg) < 0) continue;
    const known = byProperty.get(arg.propertyName);
    // Map keeps the first insertion's position; a set of an existing key replaces the value in place.
    if (!known || depth(arg) < depth(known)) byProperty.set(arg.propertyName, arg);
  }
  return [...byProperty.values()];
}

export function readColumn(
  entityName: string,
  table: string,
  arg: ColumnArgs,
  generation: "uuid" | "increment" | "rowid" | undefined,
): ColumnSchema {
  const property = arg.propertyName;
  const fail = (what: string): never => {
    throw new SchemaError(`${entityName}.${property}: ${what}`, { table, field: property });
  };
  const options = arg.options as Record<string, unknown>;
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined && !KNOWN_COLUMN_OPTIONS.has(key)) fail(`column option "${key}" is not supported by Strata`);
  }
  let role: ColumnSchema["role"];
  switch (arg.mode) {
    case "regular":
      break;
    case "version":
    case "createDate":
    case "updateDate":
      role = arg.mode;
      break;
    default:
      fail(`a ${arg.mode} column is not supported by Strata`);
  }
  let type: LogicalType | undefined;
  const declared = options["type"];
  if (typeof declared === "string") {
    type = TYPE_NAMES.get(declared.toLowerCase());
    if (!type) fail(`column type "${declared}" is not supported (use string, integer, number, boolean, datetime or json)`);
  } else if (typeof declared === "function") {
    type = DESIGN_TYPES.get(declared);
    if (!type) {
      // Unions (`number | null`), interfaces, `any` and arrays all reflect as Object or Array: guessing
      // would store a number as json, so ask for the type instead.
      fail(
        `the TypeScript type reflects as ${declared.name || "an unknown type"}, which does not say how to store it; ` +
          `give an explicit column type, e.g. @Column({ type: "integer", nullable: true }) or { type: "simple-json" }`,
      );
    }
  }
  if (role === "version") type = "integer";
  if (role === "createDate" || role === "updateDate") type = "datetime";
  if (generation === "increment") type = "integer";
  if (generation === "uuid") type = "string";
  if (generation === "rowid") return fail(`@PrimaryGeneratedColumn("rowid") is not supported; use "increment"`);
  if (!type) {
    fail(
      "the column type is unknown (no decorator metadata: esbuild and tsx emit none); give an explicit column type, " +
        'e.g. @Column({ type: "string" })',
    );
  }
  const primary = options["primary"] === true;
  const name = typeof options["name"] === "string" ? options["name"] : property;
  if (name.startsWith(RESERVED_COLUMN_PREFIX)) {
    fail(`the column name "${name}" starts with "${RESERVED_COLUMN_PREFIX}", which Strata keeps for its own columns: give the column another name (@Column({ name }))`);
  }
  const column: ColumnSchema = {
    property,
    name,
    type: type!,
    nullable: options["nullable"] === true && !primary,
    unique: options["unique"] === true,
    primary,
    ...(options["default"] !== undefined ? { default: readDefault(type!, options["default"], fail) } : {}),
    ...(generation ? { generated: generation } : {}),
    ...(role ? { role } : {}),
  };
  if (generation && !primary) fail("a generated column must be the primary column");
  return column;
}

function readDefault(type: LogicalType, value: unknown, fail: (what: string) => never): unknown {
  if (typeof value === "function") fail("a SQL-expression default is not supported; give a literal value");
  // A default of the wrong type would fail every save that relies on it: refuse it here, once.
  const problem = value === null ? undefined : valueProblem({ type } as ColumnSchema, value);
  if (problem) fail(`the default does not fit the column: ${problem}`);
  return value;
}

export function describe(value: unknown): string {
  return value === null ? "null" : typeof value;
}
