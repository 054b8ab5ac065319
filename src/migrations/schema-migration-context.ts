/**
 * The `m` a migration receives, built on a backend's {@link SchemaEditor} and the migration's own
 * transaction, so that every change it makes commits (or rolls back) with its record.
 */
import { randomUUID } from "node:crypto";
import type { Key, SchemaEditor, TableColumn, TableDescription, TableForeignKey, TableIndex, TransactionHandle } from "../spi/index.js";
import { QueryError, SchemaError, StorageError, UnsupportedError, ValidationError } from "../errors.js";
import { normalizeWhere } from "../query/normalize-query.js";
import type { NormalizedWhere } from "../query/query.js";
import type { EntitySchema, Row } from "../schema/entity-schema.js";
import { copyJson, describeValue, storedValue, valueProblem } from "../schema/row-values.js";
import { checkIdentifier, schemaOfTable } from "../schema/table-schema.js";
import type { MigrationColumn, MigrationContext, MigrationForeignKey } from "./migration-context.js";
import type { OnDelete } from "../schema/entity-schema.js";
import { checkIndexNameFree, defaultFullTextIndexName, foreignKeyIndexName, foreignKeyName, isLogicalType, LOGICAL_TYPES } from "../schema/entity-schema.js";
import {
  columnExistsError,
  columnMissingError,
  foreignKeyExistsError,
  foreignKeyMissingError,
  indexMissingError,
  primaryColumnAddedError,
  primaryColumnDroppedError,
  referencedTableError,
  renameColumnExistsError,
  renameTableExistsError,
  tableExistsError,
  tableMissingError,
} from "../schema/schema-change-errors.js";

/** Rows read and rewritten at a time by `updateRows`. */
const BATCH_SIZE = 500;

function toTableColumn(table: string, name: string, column: MigrationColumn): TableColumn {
  checkIdentifier(name, "Column name", table);
  if (typeof column !== "object" || column === null || !isLogicalType(column.type)) {
    throw new SchemaError(`Column "${name}" of table "${table}": type must be one of ${LOGICAL_TYPES.join(", ")}, got ${describeValue(column?.type)}`, {
      table,
      field: name,
    });
  }
  if (column.generated !== undefined && column.generated !== "uuid" && column.generated !== "increment") {
    throw new SchemaError(`Column "${name}" of table "${table}": generated must be "uuid" or "increment"`, { table, field: name });
  }
  const primary = column.primary === true;
  return {
    name,
    type: column.type,
    nullable: primary ? false : column.nullable === true,
    ...(column.default !== undefined ? { default: column.default } : {}),
    primary,
    unique: column.unique === true,
    ...(column.generated ? { generated: column.generated } : {}),
  };
}

function toIndex(table: string, columns: string[], options: { unique?: boolean; name?: string } = {}): TableIndex {
  if (!Array.isArray(columns) || columns.length === 0) throw new SchemaError(`An index on table "${table}" needs at least one column`, { table });
  for (const c of columns) checkIdentifier(c, "Index column", table);
  const name = options.name ?? `${options.unique ? "uq" : "idx"}_${table}_${columns.join("_")}`;
  checkIndexNameFree(checkIdentifier(name, "Index name", table), table);
  return { name, columns: [...columns], unique: options.unique === true };
}

/**
 * The full-text index name `name` (checked as any identifier), or the default one of `table` (a checked
 * table name): `fts_<table>`, which may be longer than an identifier Strata accepts from a user for a table
 * name of 60 characters or more. A default name of any table is taken as given, not only `table`'s: a table
 * renamed by a migration keeps its index's name (`fts_<old name>`), which introspection reports and
 * `generate` writes out.
 */
function fullTextIndexName(table: string, name: string | undefined): string {
  if (name === undefined) return defaultFullTextIndexName(table);
  const prefix = defaultFullTextIndexName("");
  if (name.startsWith(prefix)) {
    const named = name.slice(prefix.length);
    try {
      if (defaultFullTextIndexName(checkIdentifier(named, "Table name")) === name) return name;
    } catch {
      // Not a table's default name: checked as any other name below, whose error names the index.
    }
  }
  return checkIdentifier(name, "Full-text index name", table);
}

const ON_DELETE: readonly OnDelete[] = ["RESTRICT", "CASCADE", "SET NULL"];

/**
 * A migration's foreign key of `table` (described by `table`, its columns and foreign keys so far) as the
 * editor takes it, after every check that makes it valid on every backend: the column exists, the
 * referenced table (`parent`, the table itself for a self-reference) exists and the referenced column is
 * its primary key, both hold the same type, `onDelete` is one Strata knows and SET NULL has a nullable
 * column to empty, and the name is free in the table.
 */
function toForeignKey(table: TableDescription, spec: MigrationForeignKey, parent: TableDescription | undefined): TableForeignKey {
  const name = table.name;
  if (typeof spec !== "object" || spec === null) throw new SchemaError(`A foreign key of table "${name}" must be an object { column, references: { table } }`, { table: name });
  checkIdentifier(spec.column, "Foreign key column", name);
  const column = table.columns.find((c) => c.name === spec.column);
  if (!column) throw columnMissingError(name, spec.column);
  const fkName = checkIdentifier(spec.name ?? foreignKeyName(name, spec.column), "Foreign key name", name);
  const referencedTable = checkIdentifier(spec.references?.table, "Referenced table name", name);
  if (!parent) throw tableMissingError(referencedTable);
  const key = parent.columns.find((c) => c.primary)!;
  const referencedColumn = spec.references.column ?? key.name;
  if (referencedColumn !== key.name) {
    if (!parent.columns.some((c) => c.name === referencedColumn)) throw columnMissingError(referencedTable, referencedColumn);
    throw new SchemaError(`Foreign key "${fkName}" of table "${name}" must reference the primary key of table "${referencedTable}" ("${key.name}"), not "${referencedColumn}"`, {
      table: name,
      field: spec.column,
    });
  }
  if (column.type !== key.type) {
    throw new SchemaError(`Foreign key "${fkName}" of table "${name}": column "${column.name}" holds ${column.type} values but "${referencedTable}"."${key.name}" holds ${key.type} values`, {
      table: name,
      field: column.name,
    });
  }
  const onDelete = spec.onDelete ?? "RESTRICT";
  if (!ON_DELETE.includes(onDelete)) {
    throw new SchemaError(`Foreign key "${fkName}" of table "${name}": onDelete must be "RESTRICT", "CASCADE" or "SET NULL", got ${describeValue(onDelete)}`, { table: name, field: column.name });
  }
  if (onDelete === "SET NULL" && !column.nullable) {
    throw new SchemaError(`Foreign key "${fkName}" of table "${name}" sets column "${column.name}" to null when its row is deleted (onDelete "SET NULL"), but the column is not nullable`, {
      table: name,
      field: column.name,
    });
  }
  if ((table.foreignKeys ?? []).some((f) => f.name === fkName)) throw foreignKeyExistsError(name, fkName);
  return { name: fkName, column: column.name, referencedTable, referencedColumn, onDelete };
}

/**
 * The index a foreign key's column gets, as a relation's does (read-relations.ts), or undefined when an index
 * (or the column's own key or unique constraint) already starts with it.
 */
function foreignKeyIndex(table: TableDescription, indexes: readonly TableIndex[], fk: TableForeignKey): TableIndex | undefined {
  const column = table.columns.find((c) => c.name === fk.column);
  if (column?.primary || column?.unique || indexes.some((i) => i.columns[0] === fk.column)) return undefined;
  return { name: checkIndexNameFree(foreignKeyIndexName(table.name, fk.column), table.name), columns: [fk.column], unique: false };
}

/**
 * Builds `m` for one migration. `touched` collects the tables it changed (for cache invalidation).
 */
export function createMigrationContext(
  backendName: string,
  editor: SchemaEditor,
  tx: TransactionHandle,
  touched: Set<string>,
  /** The entity mapping a table, if any: its dated and versioned columns are filled by insertRows. */
  entityOf: (table: string) => EntitySchema | undefined = () => undefined,
): MigrationContext {
  // The checks of the tables, columns and indexes a change needs (or must not find) are made here, once
  // for every backend, before the editor runs: the editors only make the change (the engine's editor keeps
  // its own guards for callers of the SPI without this context, with these same errors).
  const existing = async (table: string): Promise<TableDescription> => {
    const description = await editor.describeTable(table);
    if (!description) throw tableMissingError(table);
    return description;
  };
  const absent = async (table: string, error: () => SchemaError): Promise<void> => {
    if (await editor.describeTable(table)) throw error();
  };
  const columnOf = (table: TableDescription, name: string): TableColumn => {
    const column = table.columns.find((c) => c.name === name);
    if (!column) throw columnMissingError(table.name, name);
    return column;
  };
  const tableSchema = async (table: string): Promise<EntitySchema> => {
    checkIdentifier(table, "Table name");
    return schemaOfTable(await existing(table));
  };
  const checkRow = (schema: EntitySchema, row: Row, fill: boolean): Row => {
    const out: Row = {};
    for (const key of Object.keys(row)) {
      if (!schema.columnsByProperty.has(key) && row[key] !== undefined) {
        throw new ValidationError(`Table "${schema.table}" has no column "${key}"`, { table: schema.table, field: key });
      }
    }
    for (const column of schema.columns) {
      let value = row[column.property];
      if (value === undefined && !fill) continue;
      if (value === undefined || value === null) {
        if (column.primary && column.generated === "uuid") value = randomUUID();
        else if (column.primary && column.generated === "increment") value = null;
        else value = value === undefined && column.default !== undefined ? copyJson(column.default) : null;
      }
      if (value === null) {
        if (column.primary && column.generated === undefined) {
          throw new ValidationError(
            `Table "${schema.table}": the primary key "${column.name}" is missing (give it; a uuid key is generated only where an entity of the storage maps the table and says so)`,
            { table: schema.table, field: column.name },
          );
        }
        if (!column.nullable && !(column.primary && column.generated === "increment")) {
          throw new ValidationError(`Table "${schema.table}", column "${column.name}": null is not allowed (the column is not nullable)`, { table: schema.table, field: column.name });
        }
      } else {
        const problem = valueProblem(column, value);
        if (problem) throw new ValidationError(`Table "${schema.table}", column "${column.name}": ${problem}`, { table: schema.table, field: column.name });
      }
      out[column.property] = value === null ? null : storedValue(column, value);
    }
    return out;
  };

  return {
    backend: backendName,
    async createTable(name, columns, options = {}) {
      checkIdentifier(name, "Table name");
      const list = Object.entries(columns ?? {}).map(([c, column]) => toTableColumn(name, c, column));
      const indexes = (options.indexes ?? []).map((i) => toIndex(name, i.columns, i));
      await absent(name, () => tableExistsError(name));
      let table: TableDescription = { name, columns: list, indexes, foreignKeys: [] };
      for (const spec of options.foreignKeys ?? []) {
        const referenced = spec?.references?.table;
        // A self-reference names the table being created; any other table must exist already.
        const parent = referenced === name ? table : typeof referenced === "string" ? await editor.describeTable(referenced) : undefined;
        const fk = toForeignKey(table, spec, parent?.columns.some((c) => c.primary) ? parent : undefined);
        const index = foreignKeyIndex(table, table.indexes, fk);
        table = { ...table, indexes: index ? [...table.indexes, index] : table.indexes, foreignKeys: [...table.foreignKeys!, fk] };
      }
      await editor.createTable(table);
      touched.add(name);
    },
    async dropTable(name) {
      await existing(checkIdentifier(name, "Table name"));
      // A table another table's foreign key references is not dropped from under it (SQLite would delete or
      // empty the referencing rows, PostgreSQL refuse): the same SchemaError everywhere.
      for (const other of await editor.listTables()) {
        if (other === name) continue;
        const fk = (await editor.describeTable(other))?.foreignKeys?.find((f) => f.referencedTable === name);
        if (fk) throw referencedTableError(name, other, fk.name);
      }
      await editor.dropTable(name);
      touched.add(name);
    },
    async renameTable(from, to) {
      checkIdentifier(from, "Table name");
      checkIdentifier(to, "Table name");
      await existing(from);
      await absent(to, () => renameTableExistsError(from, to));
      await editor.renameTable(from, to);
      touched.add(from).add(to);
    },
    async addColumn(table, name, column) {
      checkIdentifier(table, "Table name");
      const added = toTableColumn(table, name, column);
      const described = await existing(table);
      if (described.columns.some((c) => c.name === added.name)) throw columnExistsError(table, added.name);
      if (added.primary) throw primaryColumnAddedError(table, added.name);
      await editor.addColumn(table, added);
      touched.add(table);
    },
    async dropColumn(table, name) {
      checkIdentifier(table, "Table name");
      checkIdentifier(name, "Column name", table);
      if (columnOf(await existing(table), name).primary) throw primaryColumnDroppedError(table, name);
      await editor.dropColumn(table, name);
      touched.add(table);
    },
    async renameColumn(table, from, to) {
      checkIdentifier(table, "Table name");
      checkIdentifier(from, "Column name", table);
      checkIdentifier(to, "Column name", table);
      const described = await existing(table);
      columnOf(described, from);
      if (described.columns.some((c) => c.name === to)) throw renameColumnExistsError(table, from, to);
      await editor.renameColumn(table, from, to);
      touched.add(table);
    },
    async createIndex(table, columns, options) {
      checkIdentifier(table, "Table name");
      const index = toIndex(table, columns, options);
      const described = await existing(table);
      for (const c of index.columns) columnOf(described, c);
      await editor.createIndex(table, index);
      touched.add(table);
    },
    async dropIndex(table, name) {
      checkIdentifier(table, "Table name");
      checkIdentifier(name, "Index name", table);
      if (!(await existing(table)).indexes.some((i) => i.name === name)) throw indexMissingError(table, name);
      await editor.dropIndex(table, name);
      touched.add(table);
    },
    async addForeignKey(table, column, references, options = {}) {
      checkIdentifier(table, "Table name");
      const described = await existing(table);
      const referenced = references?.table;
      const parent = referenced === table ? described : typeof referenced === "string" ? await editor.describeTable(checkIdentifier(referenced, "Referenced table name", table)) : undefined;
      const spec: MigrationForeignKey = { column, references, ...(options.onDelete !== undefined ? { onDelete: options.onDelete } : {}), ...(options.name !== undefined ? { name: options.name } : {}) };
      const fk = toForeignKey(described, spec, parent);
      await editor.addForeignKey(table, fk);
      const index = foreignKeyIndex(described, described.indexes, fk);
      if (index) await editor.createIndex(table, index);
      touched.add(table);
    },
    async dropForeignKey(table, name) {
      checkIdentifier(table, "Table name");
      checkIdentifier(name, "Foreign key name", table);
      if (!((await existing(table)).foreignKeys ?? []).some((f) => f.name === name)) throw foreignKeyMissingError(table, name);
      await editor.dropForeignKey(table, name);
      touched.add(table);
    },
    async createFullTextIndex(table, columns, name) {
      checkIdentifier(table, "Table name");
      if (!Array.isArray(columns) || columns.length === 0) throw new SchemaError(`A full-text index on table "${table}" needs at least one column`, { table });
      for (const c of columns) checkIdentifier(c, "Full-text index column", table);
      if (new Set(columns).size !== columns.length) throw new SchemaError(`A full-text index on table "${table}" names a column twice`, { table });
      const indexName = fullTextIndexName(table, name);
      const described = await existing(table);
      for (const c of columns) {
        if (columnOf(described, c).type !== "string") {
          throw new SchemaError(`The full-text index "${indexName}" of table "${table}": column "${c}" is not a string column (only strings can be searched)`, { table, field: c });
        }
      }
      if (described.fullText) {
        throw new SchemaError(`Table "${table}" has a full-text index already ("${described.fullText.name}"): a table has one; drop it first to change its columns`, { table });
      }
      if (!editor.createFullTextIndex) throw new UnsupportedError(`m.createFullTextIndex(): the ${backendName} backend has no full-text search`);
      await editor.createFullTextIndex(table, { name: indexName, properties: [...columns] });
      touched.add(table);
    },
    async dropFullTextIndex(table, name) {
      checkIdentifier(table, "Table name");
      if (name !== undefined) fullTextIndexName(table, name);
      const fullText = (await existing(table)).fullText;
      if (!fullText || (name !== undefined && fullText.name !== name)) {
        throw new SchemaError(`Table "${table}" has no full-text index${name === undefined ? "" : ` "${name}"`}${fullText ? ` (it has "${fullText.name}")` : ""}`, { table });
      }
      if (!editor.dropFullTextIndex) throw new UnsupportedError(`m.dropFullTextIndex(): the ${backendName} backend has no full-text search`);
      await editor.dropFullTextIndex(table, fullText.name);
      touched.add(table);
    },
    async updateRows(table, fn, where) {
      const schema = await tableSchema(table);
      const pk = schema.primary;
      const base: NormalizedWhere = normalizeWhere(schema, where);
      let last: Key | undefined;
      let changed = 0;
      // Keyset pages on the primary key: rewriting a row can never make a page skip or repeat one.
      for (;;) {
        const page = await tx.find(schema, {
          where: last === undefined ? base : base.map((group) => [...group, { column: pk, op: "gt" as const, value: last }]),
          orderBy: [{ column: pk, direction: "asc" }],
          limit: BATCH_SIZE,
          offset: 0,
        });
        for (const row of page) {
          const key = row[pk.property] as Key;
          const result = await fn({ ...row });
          if (result === undefined || result === null) continue;
          if (result[pk.property] !== undefined && result[pk.property] !== key) {
            throw new ValidationError(`updateRows on table "${table}" cannot change the primary key "${pk.name}"`, { table, field: pk.name });
          }
          const next = checkRow(schema, { ...row, ...result }, false);
          delete next[pk.property];
          await tx.update(schema, key, next);
          changed++;
        }
        if (page.length < BATCH_SIZE) break;
        last = page[page.length - 1]![pk.property] as Key;
      }
      if (changed > 0) touched.add(table);
      return changed;
    },
    async insertRows(table, rows) {
      const schema = await tableSchema(table);
      if (!Array.isArray(rows)) throw new ValidationError(`insertRows on table "${table}" expects an array of rows`, { table });
      const fill = generatedValues(schema, entityOf(table));
      for (const row of rows) await tx.insert(schema, checkRow(schema, fill(row), true));
      if (rows.length > 0) touched.add(table);
    },
    async deleteRows(table, where) {
      const schema = await tableSchema(table);
      if (where === undefined || where === null) {
        throw new ValidationError(`deleteRows on table "${table}" needs a where ({} deletes every row)`, { table });
      }
      const deleted = await tx.deleteMany(schema, normalizeWhere(schema, where));
      // A cascade may have reached other tables: announce every one, as m.sql does.
      if (deleted > 0) for (const t of await editor.listTables()) touched.add(t);
      return deleted;
    },
    async sql(text, params = []) {
      if (!editor.sql) throw new UnsupportedError(`m.sql() needs a SQL backend; the ${backendName} backend has none. Use the neutral m API (createTable, addColumn, updateRows, ...)`);
      let result: unknown[];
      try {
        result = await editor.sql(text, params);
      } catch (error) {
        // The database's words alone do not say which statement: quote it (typed errors keep their class).
        if (!(error instanceof StorageError)) throw error;
        const quoted = `${error.message}\n  SQL: ${text}`;
        throw error.constructor === StorageError ? new QueryError(`m.sql failed: ${quoted}`, { cause: error }) : Object.assign(error, { message: quoted });
      }
      // Raw SQL may touch any table: announce every one.
      for (const t of await editor.listTables()) touched.add(t);
      return result;
    },
  };
}

/**
 * What the repository would fill in a new row of `entity`'s table that the row leaves out: a uuid key, the
 * create and update dates (the time of the call) and the version (1), for the entity's columns the table
 * has with the same name and type. Without an entity, rows are taken as they are.
 */
function generatedValues(table: EntitySchema, entity: EntitySchema | undefined): (row: Row) => Row {
  if (!entity) return (row) => row;
  const filled: { name: string; value: (now: number) => unknown }[] = [];
  for (const column of entity.columns) {
    const own = table.columnsByProperty.get(column.name);
    if (!own || own.type !== column.type) continue;
    // A SQL database does not keep that a key is generated as a uuid: the entity says so.
    if (column.primary && column.generated === "uuid" && own.primary) filled.push({ name: own.property, value: () => randomUUID() });
    else if (column.role === "createDate" || column.role === "updateDate") filled.push({ name: own.property, value: (now) => new Date(now) });
    else if (column.role === "version") filled.push({ name: own.property, value: () => 1 });
  }
  if (filled.length === 0) return (row) => row;
  return (row) => {
    if (row === null || typeof row !== "object") return row;
    const out: Row = { ...row };
    // One reading of the clock per row: its create and update dates are equal, as the repository's insert makes them.
    const now = Date.now();
    for (const { name, value } of filled) if (out[name] === undefined || out[name] === null) out[name] = value(now);
    return out;
  };
}
