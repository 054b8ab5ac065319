/**
 * The {@link SchemaEditor} of the SQL backends: DDL with quoted identifiers (names are checked by the
 * migration context before they get here), and introspection from the catalog (SQLite's pragmas,
 * PostgreSQL's pg_catalog). Runs on the transaction's connection, so on both databases a migration's DDL
 * commits or rolls back with its record.
 *
 * DDL cannot take bound parameters, so a column default is written as a literal: only a number, a
 * boolean, or a string with every quote doubled, produced from the logical value by
 * {@link SqlSchemaDialect.literal}; nothing else is ever spliced in.
 */
import type { SchemaEditor, TableColumn, TableDescription, TableIndex } from "../../spi/index.js";
import { SchemaError } from "../../errors.js";
import type { LogicalType } from "../../schema/entity-schema.js";
import { POSTGRES_COLUMN_TYPES, POSTGRES_INCREMENT_PRIMARY_KEY } from "../postgres/postgres-dialect.js";
import { SQLITE_COLUMN_TYPES, SQLITE_INCREMENT_PRIMARY_KEY } from "../sqlite/sqlite-dialect.js";
import { impliedUniqueIndexName } from "../../schema/entity-schema.js";

/** Runs statements on one connection; rows come back as arrays in select-list order. */
export interface SchemaRunner {
  all(text: string, params: readonly unknown[], prepared: boolean): unknown[][] | Promise<unknown[][]>;
  run(text: string, params: readonly unknown[], prepared: boolean): number | Promise<number>;
}

/** What differs between SQLite and PostgreSQL in DDL and introspection. */
export interface SqlSchemaDialect {
  readonly name: "sqlite" | "postgres";
  /** The column type in DDL for a logical type (without nullability). */
  columnType(type: LogicalType): string;
  /** The whole column definition of an `increment` primary key. */
  readonly incrementPrimaryKey: string;
  /** A column default as a SQL literal. */
  literal(type: LogicalType, value: unknown): string;
  /** A stored default (catalog text) back as a logical value; undefined when it is not a plain literal. */
  parseDefault(type: LogicalType, text: string | null): unknown;
  listTables(run: SchemaRunner): Promise<string[]>;
  describeTable(run: SchemaRunner, name: string): Promise<TableDescription | undefined>;
  /** `ALTER TABLE ... ALTER/DROP` support for NOT NULL added afterwards. */
  readonly canSetNotNull: boolean;
}

/** A double-quoted identifier; a quote inside is doubled. */
export function quoteName(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A string as a SQL literal, every single quote doubled. */
export function stringLiteral(value: string): string {
  if (value.includes("\u0000")) throw new SchemaError("A column default cannot contain a NUL character");
  return `'${value.replace(/'/g, "''")}'`;
}

export class SqlSchemaEditor implements SchemaEditor {
  /** Statements run, for dry runs and logs. */
  readonly statements: string[] = [];

  constructor(
    private readonly dialect: SqlSchemaDialect,
    private readonly runner: SchemaRunner,
    /** Maps a driver error (a duplicate in a new unique index...) to a Strata error. */
    private readonly mapError: (error: unknown) => unknown = (error) => error,
  ) {}

  private async exec(text: string, params: readonly unknown[] = []): Promise<void> {
    this.statements.push(text);
    try {
      await this.runner.run(text, params, false);
    } catch (error) {
      throw this.mapError(error);
    }
  }

  private async existing(name: string): Promise<TableDescription> {
    const table = await this.describeTable(name);
    if (!table) throw new SchemaError(`Table "${name}" does not exist`, { table: name });
    return table;
  }

  private columnDefinition(table: string, column: TableColumn): string {
    if (column.primary && column.generated === "increment") return `${quoteName(column.name)} ${this.dialect.incrementPrimaryKey}`;
    let text = `${quoteName(column.name)} ${this.dialect.columnType(column.type)}`;
    if (column.primary) text += " PRIMARY KEY";
    else if (!column.nullable) text += " NOT NULL";
    if (column.default !== undefined && column.default !== null) text += ` DEFAULT ${this.literal(table, column)}`;
    return text;
  }

  private literal(table: string, column: TableColumn): string {
    try {
      return this.dialect.literal(column.type, column.default);
    } catch (error) {
      throw new SchemaError(`The default of column "${column.name}" of table "${table}" cannot be stored: ${(error as Error).message}`, { table, field: column.name, cause: error });
    }
  }

  private indexStatement(table: string, index: TableIndex): string {
    return `CREATE ${index.unique ? "UNIQUE " : ""}INDEX ${quoteName(index.name)} ON ${quoteName(table)} (${index.columns.map(quoteName).join(", ")})`;
  }

  async createTable(table: TableDescription): Promise<void> {
    if (await this.describeTable(table.name)) throw new SchemaError(`Table "${table.name}" already exists`, { table: table.name });
    const primaries = table.columns.filter((c) => c.primary);
    if (primaries.length !== 1) throw new SchemaError(`Table "${table.name}" needs exactly one primary column, got ${primaries.length}`, { table: table.name });
    await this.exec(`CREATE TABLE ${quoteName(table.name)} (${table.columns.map((c) => this.columnDefinition(table.name, c)).join(", ")})`);
    const indexes = [...table.indexes];
    for (const c of table.columns) {
      if (c.unique && !c.primary && !indexes.some((i) => i.unique && i.columns.length === 1 && i.columns[0] === c.name)) {
        indexes.push({ name: impliedUniqueIndexName(table.name, [c.name]), columns: [c.name], unique: true });
      }
    }
    for (const index of indexes) await this.exec(this.indexStatement(table.name, index));
  }

  async dropTable(name: string): Promise<void> {
    await this.existing(name);
    await this.exec(`DROP TABLE ${quoteName(name)}`);
  }

  async renameTable(from: string, to: string): Promise<void> {
    await this.existing(from);
    if (await this.describeTable(to)) throw new SchemaError(`Cannot rename table "${from}": table "${to}" already exists`, { table: to });
    await this.exec(`ALTER TABLE ${quoteName(from)} RENAME TO ${quoteName(to)}`);
  }

  async addColumn(table: string, column: TableColumn): Promise<void> {
    const described = await this.existing(table);
    if (described.columns.some((c) => c.name === column.name)) {
      throw new SchemaError(`Table "${table}" already has a column "${column.name}"`, { table, field: column.name });
    }
    if (column.primary) throw new SchemaError(`Cannot add primary column "${column.name}" to table "${table}": a table's primary key is set when it is created`, { table, field: column.name });
    if (!column.nullable && (column.default === undefined || column.default === null)) {
      const [[count]] = (await this.runner.all(`SELECT COUNT(*) FROM ${quoteName(table)}`, [], false)) as [[number | string]];
      if (Number(count) > 0) {
        throw new SchemaError(`Column "${column.name}" added to table "${table}" is not nullable: give it a default for the ${count} existing rows`, { table, field: column.name });
      }
      if (!this.dialect.canSetNotNull) {
        // SQLite cannot add a NOT NULL column without a default, even to an empty table.
        throw new SchemaError(`Column "${column.name}" added to table "${table}" is not nullable: give it a default (SQLite requires one)`, { table, field: column.name });
      }
    }
    await this.exec(`ALTER TABLE ${quoteName(table)} ADD COLUMN ${this.columnDefinition(table, { ...column, unique: false })}`);
    if (column.unique) await this.exec(this.indexStatement(table, { name: impliedUniqueIndexName(table, [column.name]), columns: [column.name], unique: true }));
  }

  async dropColumn(table: string, name: string): Promise<void> {
    const described = await this.existing(table);
    const column = described.columns.find((c) => c.name === name);
    if (!column) throw new SchemaError(`Table "${table}" has no column "${name}"`, { table, field: name });
    if (column.primary) throw new SchemaError(`Cannot drop the primary column "${name}" of table "${table}"`, { table, field: name });
    // As on the memory backend: indexes on the column go with it (SQLite would refuse otherwise).
    for (const index of described.indexes) if (index.columns.includes(name)) await this.exec(`DROP INDEX ${quoteName(index.name)}`);
    await this.exec(`ALTER TABLE ${quoteName(table)} DROP COLUMN ${quoteName(name)}`);
  }

  async renameColumn(table: string, from: string, to: string): Promise<void> {
    const described = await this.existing(table);
    if (!described.columns.some((c) => c.name === from)) throw new SchemaError(`Table "${table}" has no column "${from}"`, { table, field: from });
    if (described.columns.some((c) => c.name === to)) {
      throw new SchemaError(`Cannot rename column "${from}" of table "${table}": column "${to}" already exists`, { table, field: to });
    }
    await this.exec(`ALTER TABLE ${quoteName(table)} RENAME COLUMN ${quoteName(from)} TO ${quoteName(to)}`);
  }

  async createIndex(table: string, index: TableIndex): Promise<void> {
    const described = await this.existing(table);
    for (const c of index.columns) {
      if (!described.columns.some((d) => d.name === c)) throw new SchemaError(`Table "${table}" has no column "${c}"`, { table, field: c });
    }
    await this.exec(this.indexStatement(table, index));
  }

  async dropIndex(table: string, name: string): Promise<void> {
    const described = await this.existing(table);
    if (!described.indexes.some((i) => i.name === name)) throw new SchemaError(`Table "${table}" has no index "${name}"`, { table });
    await this.exec(`DROP INDEX ${quoteName(name)}`);
  }

  listTables(): Promise<string[]> {
    return this.dialect.listTables(this.runner);
  }

  describeTable(name: string): Promise<TableDescription | undefined> {
    return this.dialect.describeTable(this.runner, name);
  }

  /** Rows (as arrays) for a statement that returns some; an empty list for one that does not. */
  async sql(text: string, params: readonly unknown[]): Promise<unknown[]> {
    this.statements.push(text);
    try {
      if (/^\s*(select|with|values|pragma|explain|show)\b/i.test(text) || /\breturning\b/i.test(text)) return await this.runner.all(text, params, false);
      await this.runner.run(text, params, false);
      return [];
    } catch (error) {
      throw this.mapError(error);
    }
  }
}


function sqliteTypeOf(declared: string): LogicalType {
  const t = declared.toUpperCase();
  if (t.includes("JSON")) return "json";
  if (t.includes("BOOL")) return "boolean";
  if (t.includes("DATE") || t.includes("TIME")) return "datetime";
  if (t.includes("INT")) return "integer";
  if (t.includes("REAL") || t.includes("FLOA") || t.includes("DOUB") || t.includes("NUM")) return "number";
  return "string";
}

function plainLiteral(type: LogicalType, value: unknown, dateAs: (d: Date) => string, boolAs: (b: boolean) => string): string {
  switch (type) {
    case "integer":
    case "number":
      if (typeof value !== "number" || !Number.isFinite(value)) throw new Error(`expected a finite number, got ${typeof value}`);
      return String(value);
    case "boolean":
      if (typeof value !== "boolean") throw new Error(`expected a boolean, got ${typeof value}`);
      return boolAs(value);
    case "datetime":
      if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw new Error("expected a valid Date");
      return dateAs(value);
    case "json":
      return stringLiteral(JSON.stringify(value));
    case "string":
      if (typeof value !== "string") throw new Error(`expected a string, got ${typeof value}`);
      return stringLiteral(value);
  }
}

function unquote(text: string): string | undefined {
  const m = /^'((?:[^']|'')*)'/.exec(text);
  return m ? m[1]!.replace(/''/g, "'") : undefined;
}

function parsePlainDefault(type: LogicalType, text: string | null, parseDate: (t: string) => Date | undefined): unknown {
  if (text === null || text.toUpperCase() === "NULL") return undefined;
  const raw = text.replace(/^\((.*)\)$/, "$1");
  switch (type) {
    case "integer":
    case "number": {
      const n = Number(raw.replace(/::[\w ]+$/, "").replace(/^'(.*)'$/, "$1"));
      return Number.isFinite(n) ? n : undefined;
    }
    case "boolean":
      return /^(1|true|'t')/i.test(raw) ? true : /^(0|false|'f')/i.test(raw) ? false : undefined;
    case "datetime":
      return parseDate(raw);
    case "json": {
      const s = unquote(raw);
      try {
        return s === undefined ? undefined : JSON.parse(s);
      } catch {
        return undefined;
      }
    }
    case "string":
      return unquote(raw);
  }
}

export const sqliteSchemaDialect: SqlSchemaDialect = {
  name: "sqlite",
  columnType: (type) => SQLITE_COLUMN_TYPES[type],
  incrementPrimaryKey: SQLITE_INCREMENT_PRIMARY_KEY,
  canSetNotNull: false,
  literal: (type, value) => plainLiteral(type, value, (d) => String(d.getTime()), (b) => (b ? "1" : "0")),
  parseDefault: (type, text) => parsePlainDefault(type, text, (t) => (/^-?\d+$/.test(t) ? new Date(Number(t)) : undefined)),
  async listTables(run) {
    const rows = await run.all(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name`, [], false);
    return rows.map((r) => String(r[0]));
  },
  async describeTable(run, name) {
    const exists = await run.all(`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?`, [name], false);
    if (exists.length === 0) return undefined;
    const createText = String(exists[0]![0] ?? "");
    // cid, name, type, notnull, dflt_value, pk
    const info = await run.all(`SELECT cid, name, type, "notnull", dflt_value, pk FROM pragma_table_info(?)`, [name], false);
    const indexList = await run.all(`SELECT name, "unique", origin FROM pragma_index_list(?)`, [name], false);
    const indexes: TableIndex[] = [];
    for (const [indexName, unique, origin] of indexList) {
      if (origin === "pk") continue;
      const cols = await run.all(`SELECT name FROM pragma_index_info(?) ORDER BY seqno`, [indexName], false);
      indexes.push({ name: String(indexName), columns: cols.map((c) => String(c[0])), unique: Number(unique) === 1 });
    }
    const columns: TableColumn[] = info.map(([, colName, declared, notnull, dflt, pk]) => {
      const type = sqliteTypeOf(String(declared ?? ""));
      const primary = Number(pk) > 0;
      const fallback = sqliteSchemaDialect.parseDefault(type, dflt as string | null);
      const increment = primary && /AUTOINCREMENT/i.test(createText);
      return {
        name: String(colName),
        type,
        nullable: !primary && Number(notnull) === 0,
        ...(fallback !== undefined ? { default: fallback } : {}),
        primary,
        unique: false,
        ...(increment ? { generated: "increment" as const } : {}),
      };
    });
    return { name, columns, indexes };
  },
};


function postgresTypeOf(formatted: string): LogicalType {
  const t = formatted.toLowerCase();
  if (t.startsWith("json")) return "json";
  if (t === "boolean") return "boolean";
  if (t.startsWith("timestamp") || t === "date") return "datetime";
  if (t === "bigint" || t === "integer" || t === "smallint") return "integer";
  if (t === "double precision" || t === "real" || t.startsWith("numeric")) return "number";
  return "string";
}

export const postgresSchemaDialect: SqlSchemaDialect = {
  name: "postgres",
  columnType: (type) => POSTGRES_COLUMN_TYPES[type],
  incrementPrimaryKey: POSTGRES_INCREMENT_PRIMARY_KEY,
  canSetNotNull: true,
  literal: (type, value) =>
    plainLiteral(
      type,
      value,
      (d) => `${stringLiteral(d.toISOString())}::timestamptz`,
      (b) => (b ? "TRUE" : "FALSE"),
    ),
  parseDefault: (type, text) =>
    parsePlainDefault(type, text, (t) => {
      const s = unquote(t);
      const d = s === undefined ? undefined : new Date(s);
      return d && !Number.isNaN(d.getTime()) ? d : undefined;
    }),
  async listTables(run) {
    const rows = await run.all(`SELECT c.relname FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') ORDER BY c.relname`, [], false);
    return rows.map((r) => String(r[0]));
  },
  async describeTable(run, name) {
    const found = await run.all(`SELECT c.oid FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') AND c.relname = $1`, [name], false);
    if (found.length === 0) return undefined;
    const oid = found[0]![0];
    const cols = await run.all(
      `SELECT a.attname, format_type(a.atttypid, NULL), a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attidentity,
              EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisprimary AND a.attnum = ANY(i.indkey))
         FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
      [oid],
      false,
    );
    const idx = await run.all(
      `SELECT ic.relname, i.indisunique, array_to_json(ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(attnum, n)
              JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.n))::text
         FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
        WHERE i.indrelid = $1 AND NOT i.indisprimary ORDER BY ic.relname`,
      [oid],
      false,
    );
    const columns: TableColumn[] = cols.map(([attname, type, notnull, dflt, identity, primary]) => {
      const logical = postgresTypeOf(String(type));
      const isPrimary = primary === true;
      const increment = isPrimary && (identity === "d" || identity === "a" || /^nextval\(/.test(String(dflt ?? "")));
      const fallback = increment ? undefined : postgresSchemaDialect.parseDefault(logical, (dflt as string | null) ?? null);
      return {
        name: String(attname),
        type: logical,
        nullable: !isPrimary && notnull !== true,
        ...(fallback !== undefined ? { default: fallback } : {}),
        primary: isPrimary,
        unique: false,
        ...(increment ? { generated: "increment" as const } : {}),
      };
    });
    const indexes: TableIndex[] = idx.map(([relname, unique, columnsJson]) => ({
      name: String(relname),
      columns: JSON.parse(String(columnsJson)) as string[],
      unique: unique === true,
    }));
    return { name, columns, indexes };
  },
};
