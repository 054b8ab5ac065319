/**
 * Schema changes on the in-memory engine. A migration's transaction works on a {@link ShadowDatabase}:
 * a private copy-on-write view of the tables, swapped in whole at commit and dropped on rollback, so
 * the backends on the engine (memory and file) get transactional DDL: a failing migration leaves nothing.
 */
import type { Key, SchemaEditor, TableColumn, TableDescription, TableForeignKey, TableIndex } from "../spi/index.js";
import type { Change } from "./table-engine.js";
import { MemoryDatabase, MemoryTable } from "./table-engine.js";
import { IntegrityError, SchemaError, ValidationError } from "../errors.js";
import type { ColumnSchema, EntitySchema, ForeignKeySchema, FullTextSchema, IndexSchema, Row } from "../schema/entity-schema.js";
import { valueProblem } from "../schema/row-values.js";
import { storedValueOf } from "./stored-row.js";
import { describeSchema, MigrationTable, schemaOfTable } from "../schema/table-schema.js";
import { buildEntitySchema, impliedUniqueIndexName, sameFullTextIndex } from "../schema/entity-schema.js";
import {
  columnExistsError,
  columnMissingError,
  foreignKeyExistsError,
  foreignKeyMissingError,
  foreignKeyViolatedError,
  indexMissingError,
  primaryColumnAddedError,
  primaryColumnDroppedError,
  renameColumnExistsError,
  renameTableExistsError,
  tableExistsError,
  tableMissingError,
} from "../schema/schema-change-errors.js";

/** A transaction's private view of a database's tables: tables are cloned on first change. */
export class ShadowDatabase extends MemoryDatabase {
  private readonly owned = new Set<MemoryTable>();

  constructor(base: MemoryDatabase) {
    super();
    for (const [name, table] of base.tables) {
      // A migration addresses columns by name: a table whose entity renames columns (TypeORM's `name`)
      // is re-keyed by column name here; its entity binds to it again, by name, after the commit.
      if (table.schema.columns.some((c) => c.property !== c.name)) this.adopt(name, byColumnName(table));
      else this.tables.set(name, table);
    }
  }

  /** The table, cloned first when it is still shared with the committed database. */
  own(name: string): MemoryTable | undefined {
    const table = this.tables.get(name);
    if (!table || this.owned.has(table)) return table;
    const copy = table.rebuild(table.schema, undefined, table.visible);
    this.tables.set(name, copy);
    this.owned.add(copy);
    return copy;
  }

  /** Installs a table built in this transaction. */
  adopt(name: string, table: MemoryTable): void {
    this.tables.set(name, table);
    this.owned.add(table);
  }

  override apply(changes: Iterable<Change>): void {
    for (const change of changes) {
      const table = this.own(change.table);
      if (!table) continue;
      if (change.row) table.put(change.row);
      else table.remove(change.key);
    }
  }

  /** Makes this view the committed state of `target`. */
  commitTo(target: MemoryDatabase): void {
    target.tables.clear();
    for (const [name, table] of this.tables) target.tables.set(name, table);
  }
}

/** A copy of `table` whose rows are keyed by column name, unbound from its entity. */
function byColumnName(table: MemoryTable): MemoryTable {
  const schema = table.schema;
  const columns = schema.columns.map((c) => ({ ...c, property: c.name }));
  const nameOf = new Map(schema.columns.map((c) => [c.property, c.name]));
  const indexes = schema.indexes.map((i) => ({ ...i, properties: i.properties.map((p) => nameOf.get(p) ?? p) }));
  const foreignKeys = schema.foreignKeys.map((f) => ({ ...f, property: nameOf.get(f.property) ?? f.property }));
  const fullText = schema.fullText && { ...schema.fullText, properties: schema.fullText.properties.map((p) => nameOf.get(p) ?? p) };
  return table.rebuild(unbound(schema, { columns, indexes, foreignKeys, fullText }), (row) => {
    const out: Row = {};
    for (const c of schema.columns) out[c.name] = row[c.property] === undefined ? null : row[c.property];
    return out;
  });
}

/**
 * An altered table is unbound from its entity: the entity's next use checks it against the new shape. Its
 * foreign keys stay (as migrations' foreign keys: without the relation that named them), and so does its
 * full-text index unless `changes` says otherwise (`fullText: undefined` drops it).
 */
function unbound(schema: EntitySchema, changes: Partial<Pick<EntitySchema, "table" | "columns" | "indexes" | "foreignKeys" | "fullText">>): EntitySchema {
  const table = changes.table ?? schema.table;
  const fullText = "fullText" in changes ? changes.fullText : schema.fullText;
  return buildEntitySchema({
    entityName: table,
    table,
    target: MigrationTable,
    columns: changes.columns ?? schema.columns,
    indexes: changes.indexes ?? schema.indexes,
    foreignKeys: changes.foreignKeys ?? schema.foreignKeys,
    ...(fullText ? { fullText } : {}),
  });
}

/**
 * The memory engine's {@link SchemaEditor}. `beforeChange` lets the transaction fold its pending row
 * writes into the shadow first, so that DDL sees them. The migration context has checked the tables,
 * columns and indexes a change needs (or must not find) before a method runs. The checks below are
 * this engine's own, as a SQL database has its own: callers of the SPI without the context (the copier,
 * the applied-migration store, a third party) must get a SchemaError, not a TypeError, nor a table
 * silently replaced (create or rename onto an existing one) or broken (two columns of one name, two
 * primary keys or none).
 */
export class MemorySchemaEditor implements SchemaEditor {
  constructor(
    private readonly db: ShadowDatabase,
    private readonly beforeChange: () => void,
  ) {}

  private existing(name: string): MemoryTable {
    this.beforeChange();
    const table = this.db.own(name);
    if (!table) throw tableMissingError(name);
    return table;
  }

  private column(table: MemoryTable, name: string): ColumnSchema {
    const column = table.schema.columns.find((c) => c.name === name);
    if (!column) throw columnMissingError(table.schema.table, name);
    return column;
  }

  async createTable(description: TableDescription): Promise<void> {
    this.beforeChange();
    if (this.db.tables.has(description.name)) throw tableExistsError(description.name);
    for (const c of description.columns) checkDefault(description.name, c);
    const schema = schemaOfTable(description);
    if (schema.fullText) this.checkFullText(schema, schema.fullText.name, schema.fullText.properties);
    this.db.adopt(description.name, new MemoryTable(schema));
  }

  async dropTable(name: string): Promise<void> {
    this.existing(name);
    this.db.tables.delete(name);
  }

  async renameTable(from: string, to: string): Promise<void> {
    const table = this.existing(from);
    if (this.db.tables.has(to)) throw renameTableExistsError(from, to);
    this.db.tables.delete(from);
    this.db.adopt(to, table.rebuild(unbound(table.schema, { table: to }), undefined));
    // As SQL databases do: foreign keys that referenced the table follow it (its own self-reference too).
    this.retarget((fk) => (fk.referencedTable === from ? { ...fk, referencedTable: to } : fk));
  }

  async addColumn(tableName: string, column: TableColumn): Promise<void> {
    const table = this.existing(tableName);
    if (table.schema.columns.some((c) => c.name === column.name)) throw columnExistsError(tableName, column.name);
    if (column.primary) throw primaryColumnAddedError(tableName, column.name);
    checkDefault(tableName, column);
    if (!column.nullable && column.default === undefined && table.rows.size > 0) {
      throw new SchemaError(`Column "${column.name}" added to table "${tableName}" is not nullable: give it a default for the ${table.rows.size} existing rows`, { table: tableName, field: column.name });
    }
    const property = table.schema.columnsByProperty.has(column.name) ? `${column.name}$added` : column.name;
    const added: ColumnSchema = {
      property,
      name: column.name,
      type: column.type,
      nullable: column.nullable,
      ...(column.default !== undefined ? { default: column.default } : {}),
      unique: column.unique,
      primary: false,
      ...(column.generated ? { generated: column.generated } : {}),
    };
    const indexes: IndexSchema[] = column.unique ? [...table.schema.indexes, { name: impliedUniqueIndexName(tableName, [column.name]), properties: [property], unique: true }] : [...table.schema.indexes];
    const value = column.default === undefined ? null : column.default;
    if (column.unique && value !== null && table.rows.size > 1) {
      throw new IntegrityError(`Cannot add unique column "${column.name}" with a default to table "${tableName}": its ${table.rows.size} rows would share the value`, { table: tableName, field: column.name });
    }
    const schema = unbound(table.schema, { columns: [...table.schema.columns, added], indexes });
    this.db.adopt(tableName, table.rebuild(schema, (row) => ({ ...row, [property]: storedValueOf(added, value) })));
  }

  async dropColumn(tableName: string, name: string): Promise<void> {
    const table = this.existing(tableName);
    const column = this.column(table, name);
    if (column.primary) throw primaryColumnDroppedError(tableName, name);
    // As PostgreSQL does: indexes and foreign keys on the dropped column go with it (the full-text index
    // too, whole, as a several-column index goes).
    const indexes = table.schema.indexes.filter((i) => !i.properties.includes(column.property));
    const foreignKeys = table.schema.foreignKeys.filter((f) => f.property !== column.property);
    const fullText = table.schema.fullText?.properties.includes(column.property) ? undefined : table.schema.fullText;
    const schema = unbound(table.schema, { columns: table.schema.columns.filter((c) => c !== column), indexes, foreignKeys, fullText });
    this.db.adopt(
      tableName,
      table.rebuild(schema, (row) => {
        const out = { ...row };
        delete out[column.property];
        return out;
      }),
    );
  }

  async renameColumn(tableName: string, from: string, to: string): Promise<void> {
    const table = this.existing(tableName);
    const column = this.column(table, from);
    if (table.schema.columns.some((c) => c.name === to)) throw renameColumnExistsError(tableName, from, to);
    const property = table.schema.columnsByProperty.has(to) ? `${to}$renamed` : to;
    const columns = table.schema.columns.map((c) => (c === column ? { ...c, name: to, property } : c));
    const indexes = table.schema.indexes.map((i) => ({ ...i, properties: i.properties.map((p) => (p === column.property ? property : p)) }));
    const foreignKeys = table.schema.foreignKeys.map((f) => (f.property === column.property ? { ...f, property } : f));
    const held = table.schema.fullText;
    const fullText = held && { ...held, properties: held.properties.map((p) => (p === column.property ? property : p)) };
    this.db.adopt(
      tableName,
      table.rebuild(unbound(table.schema, { columns, indexes, foreignKeys, fullText }), (row) => {
        const out = { ...row, [property]: row[column.property] };
        delete out[column.property];
        return out;
      }),
    );
    // A renamed primary key is what the foreign keys referencing this table now name.
    if (column.primary) this.retarget((fk) => (fk.referencedTable === tableName && fk.referencedColumn === from ? { ...fk, referencedColumn: to } : fk));
  }

  async createIndex(tableName: string, index: TableIndex): Promise<void> {
    const table = this.existing(tableName);
    const properties = index.columns.map((name) => this.column(table, name).property);
    // A table bound to its entity (the file backend binds a stored table whose columns fit) has the entity's
    // indexes already, before the migration that creates one of them runs: that index is the one asked for.
    const bound = table.schema.target !== MigrationTable ? table.schema.indexes.find((i) => i.name === index.name) : undefined;
    if (bound && bound.unique === index.unique && bound.properties.join("\0") === properties.join("\0")) return;
    if (this.indexNames().has(index.name)) throw new SchemaError(`An index named "${index.name}" already exists`, { table: tableName });
    if (index.unique) {
      const seen = new Set<string>();
      for (const row of table.rows.values()) {
        const values = properties.map((p) => row[p]);
        if (values.some((v) => v === null || v === undefined)) continue;
        const key = JSON.stringify(values.map((v) => (v instanceof Date ? v.getTime() : v)));
        if (seen.has(key)) {
          throw new IntegrityError(`Cannot create unique index "${index.name}" on table "${tableName}": rows share the value ${key} in ${index.columns.join(", ")}`, { table: tableName, field: index.columns[0]! });
        }
        seen.add(key);
      }
    }
    const schema = unbound(table.schema, { indexes: [...table.schema.indexes, { name: index.name, properties, unique: index.unique }] });
    this.db.adopt(tableName, table.rebuild(schema));
  }

  async dropIndex(tableName: string, name: string): Promise<void> {
    const table = this.existing(tableName);
    if (!table.schema.indexes.some((i) => i.name === name)) throw indexMissingError(tableName, name);
    const schema = unbound(table.schema, { indexes: table.schema.indexes.filter((i) => i.name !== name) });
    this.db.adopt(tableName, table.rebuild(schema));
  }

  async addForeignKey(tableName: string, fk: TableForeignKey): Promise<void> {
    const table = this.existing(tableName);
    const column = this.column(table, fk.column);
    if (table.schema.foreignKeys.some((f) => f.name === fk.name)) throw foreignKeyExistsError(tableName, fk.name);
    const parent = fk.referencedTable === tableName ? table : this.db.tables.get(fk.referencedTable);
    if (!parent) throw tableMissingError(fk.referencedTable);
    for (const row of table.rows.values()) {
      const value = row[column.property];
      if (value !== null && value !== undefined && !parent.rows.has(value as Key)) throw foreignKeyViolatedError(tableName, fk, value);
    }
    const added: ForeignKeySchema = { name: fk.name, property: column.property, referencedTable: fk.referencedTable, referencedColumn: fk.referencedColumn, onDelete: fk.onDelete };
    this.db.adopt(tableName, table.rebuild(unbound(table.schema, { foreignKeys: [...table.schema.foreignKeys, added] })));
  }

  async dropForeignKey(tableName: string, name: string): Promise<void> {
    const table = this.existing(tableName);
    if (!table.schema.foreignKeys.some((f) => f.name === name)) throw foreignKeyMissingError(tableName, name);
    this.db.adopt(tableName, table.rebuild(unbound(table.schema, { foreignKeys: table.schema.foreignKeys.filter((f) => f.name !== name) })));
  }

  /**
   * Gives `tableName` the full-text index `index` (`properties`: column names) and indexes its rows. A
   * {@link SchemaError} when the table has one already, when a column is missing or not a string column,
   * or when another table's full-text index has the name.
   */
  async createFullTextIndex(tableName: string, index: FullTextSchema): Promise<void> {
    const table = this.existing(tableName);
    const held = table.schema.fullText;
    const properties = index.properties.map((name) => this.column(table, name).property);
    // A table bound to its entity (the file backend binds a stored table whose columns fit) may hold the
    // entity's full-text index already, before the migration that creates it runs: that is the one asked for.
    if (held && table.schema.target !== MigrationTable && sameFullTextIndex(held, { name: index.name, properties })) return;
    if (held) {
      throw new SchemaError(`Table "${tableName}" has a full-text index already ("${held.name}"): a table has one; drop it first to change its columns`, { table: tableName });
    }
    this.checkFullText(table.schema, index.name, properties);
    this.db.adopt(tableName, table.rebuild(unbound(table.schema, { fullText: { name: index.name, properties } })));
  }

  async dropFullTextIndex(tableName: string, name: string): Promise<void> {
    const table = this.existing(tableName);
    if (table.schema.fullText?.name !== name) throw indexMissingError(tableName, name);
    this.db.adopt(tableName, table.rebuild(unbound(table.schema, { fullText: undefined })));
  }

  /** The checks a full-text index over `properties` of `schema`'s table must pass (see {@link createFullTextIndex}). */
  private checkFullText(schema: EntitySchema, name: string, properties: readonly string[]): void {
    const table = schema.table;
    if (properties.length === 0) throw new SchemaError(`A full-text index on table "${table}" needs at least one column`, { table });
    if (new Set(properties).size !== properties.length) throw new SchemaError(`A full-text index on table "${table}" names a column twice`, { table });
    for (const property of properties) {
      const column = schema.columnsByProperty.get(property);
      if (!column) throw columnMissingError(table, property);
      if (column.type !== "string") {
        throw new SchemaError(`The full-text index "${name}" of table "${table}": column "${column.name}" is not a string column (only strings can be searched)`, { table, field: column.name });
      }
    }
    for (const other of this.db.tables.values()) {
      if (other.schema.table !== table && other.schema.fullText?.name === name) {
        throw new SchemaError(`A full-text index named "${name}" already exists (on table "${other.schema.table}")`, { table });
      }
    }
  }

  /** Rewrites the foreign keys of every table with `change` (a renamed table or key), rebuilding only the tables it changes. */
  private retarget(change: (fk: ForeignKeySchema) => ForeignKeySchema): void {
    for (const name of [...this.db.tables.keys()]) {
      const table = this.db.tables.get(name)!;
      const foreignKeys = table.schema.foreignKeys.map(change);
      if (foreignKeys.every((f, i) => f === table.schema.foreignKeys[i])) continue;
      const owned = this.db.own(name)!;
      this.db.adopt(name, owned.rebuild(unbound(owned.schema, { foreignKeys })));
    }
  }

  async listTables(): Promise<string[]> {
    return [...this.db.tables.keys()].sort();
  }

  async describeTable(name: string): Promise<TableDescription | undefined> {
    const table = this.db.tables.get(name);
    return table ? describeSchema(table.schema) : undefined;
  }

  private indexNames(): Set<string> {
    const names = new Set<string>();
    for (const table of this.db.tables.values()) for (const i of table.schema.indexes) names.add(i.name);
    return names;
  }
}

/** A non-nullable column needs a default (existing rows get it); a default must fit the column's type. */
function checkDefault(table: string, column: TableColumn): void {
  if (column.default === undefined || column.default === null) {
    if (!column.nullable && !column.primary && column.generated === undefined && column.default === null) {
      throw new SchemaError(`Column "${column.name}" of table "${table}" is not nullable, so its default cannot be null`, { table, field: column.name });
    }
    return;
  }
  const problem = valueProblem({ ...column, property: column.name }, column.default);
  if (problem) throw new ValidationError(`The default of column "${column.name}" of table "${table}": ${problem}`, { table, field: column.name });
}
