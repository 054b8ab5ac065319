/**
 * The `m` a migration receives, built on a backend's {@link SchemaEditor} and the migration's own
 * transaction, so that every change it makes commits (or rolls back) with its record.
 */
import { randomUUID } from "node:crypto";
import type { Key, SchemaEditor, TableColumn, TableDescription, TableIndex, TransactionHandle } from "../spi/index.js";
import { SchemaError, UnsupportedError, ValidationError } from "../errors.js";
import { normalizeWhere } from "../query/normalize-query.js";
import type { NormalizedWhere } from "../query/query.js";
import type { EntitySchema, Row } from "../schema/entity-schema.js";
import { copyJson, describeValue, storedValue, valueProblem } from "../schema/row-values.js";
import { checkIdentifier, schemaOfTable } from "../schema/table-schema.js";
import type { MigrationColumn, MigrationContext } from "./migration-context.js";
import { checkIndexNameFree, isLogicalType, LOGICAL_TYPES } from "../schema/entity-schema.js";
import {
  columnExistsError,
  columnMissingError,
  indexMissingError,
  primaryColumnAddedError,
  primaryColumnDroppedError,
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
 * Builds `m` for one migration. `touched` collects the tables it changed (for cache invalidation).
 */
export function createMigrationContext(backendName: string, editor: SchemaEditor, tx: TransactionHandle, touched: Set<string>): MigrationContext {
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
      await editor.createTable({ name, columns: list, indexes });
      touched.add(name);
    },
    async dropTable(name) {
      await existing(checkIdentifier(name, "Table name"));
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
      for (const row of rows) await tx.insert(schema, checkRow(schema, row, true));
      if (rows.length > 0) touched.add(table);
    },
    async sql(text, params = []) {
      if (!editor.sql) throw new UnsupportedError(`m.sql() needs a SQL backend; the ${backendName} backend has none. Use the neutral m API (createTable, addColumn, updateRows, ...)`);
      const result = await editor.sql(text, params);
      // Raw SQL may touch any table: announce every one.
      for (const t of await editor.listTables()) touched.add(t);
      return result;
    },
  };
}
