/**
 * The {@link SchemaEditor} of every SQL backend: DDL with quoted identifiers (names are checked by the
 * migration context before they get here, as are the tables, columns and indexes a change needs or must
 * not find), and introspection through the dialect's {@link SqlIntrospector}. Runs on the transaction's
 * connection, so a migration's DDL commits or rolls back with its record on every database that has
 * transactional DDL. Column defaults are written as literals by {@link SqlDialect.literal}. A foreign key is
 * added with `ALTER TABLE ... ADD CONSTRAINT` or, on SQLite, by rewriting the table's definition
 * ({@link TableDefinitionRewriter}); either way the rows are checked first, with the same words everywhere.
 */
import type { SchemaEditor, TableColumn, TableDescription, TableForeignKey, TableIndex } from "../../spi/index.js";
import { SchemaError, UnsupportedError } from "../../errors.js";
import type { FullTextSchema } from "../../schema/entity-schema.js";
import { impliedUniqueIndexName } from "../../schema/entity-schema.js";
import { foreignKeyMissingError, foreignKeyViolatedError } from "../../schema/schema-change-errors.js";
import type { SqlDialect } from "./sql-dialect.js";
import { quoteIdentifier } from "./sql-dialect.js";
import { foreignKeyClause } from "./sql-foreign-keys.js";
import { withForeignKeyClause, withoutForeignKeyClause } from "./table-definition-text.js";
import type { SqlRunner, TableDefinitionRewriter } from "./sql-runner.js";
import { checkFullTextColumns, columnDefinition, createTableStatements, dropIndexStatements, indexStatements } from "./sql-table-statements.js";

export class SqlSchemaEditor implements SchemaEditor {
  /** Statements run, for dry runs and logs. */
  readonly statements: string[] = [];

  constructor(
    private readonly dialect: SqlDialect,
    private readonly runner: SqlRunner,
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

  async createTable(table: TableDescription): Promise<void> {
    const primaries = table.columns.filter((c) => c.primary);
    if (primaries.length !== 1) throw new SchemaError(`Table "${table.name}" needs exactly one primary column, got ${primaries.length}`, { table: table.name });
    const indexes = [...table.indexes];
    for (const c of table.columns) {
      if (c.unique && !c.primary && !indexes.some((i) => i.unique && i.columns.length === 1 && i.columns[0] === c.name)) {
        indexes.push({ name: impliedUniqueIndexName(table.name, [c.name]), columns: [c.name], unique: true });
      }
    }
    if (table.fullText) await this.checkFullText(table, table.fullText);
    for (const statement of createTableStatements(this.dialect, { ...table, indexes }, "migration")) await this.exec(statement);
  }

  async dropTable(name: string): Promise<void> {
    const fullText = (await this.describeTable(name))?.fullText;
    if (fullText) await this.dropFullText(name, fullText);
    await this.exec(`DROP TABLE ${quoteIdentifier(name)}`);
  }

  async renameTable(from: string, to: string): Promise<void> {
    // A full-text index names its table in its own objects (SQLite's content='<table>', its triggers'
    // names): it is dropped and made again for the new name, which indexes the rows anew.
    const fullText = (await this.describeTable(from))?.fullText;
    if (fullText) await this.dropFullText(from, fullText);
    await this.exec(`ALTER TABLE ${quoteIdentifier(from)} RENAME TO ${quoteIdentifier(to)}`);
    if (fullText) await this.createFullTextIndex(to, fullText);
  }

  /**
   * Creates the full-text index `index` of `table` (see {@link SchemaEditor.createFullTextIndex}). The
   * columns must be string columns of the table, and the tables the dialect makes for it must be free.
   */
  async createFullTextIndex(table: string, index: FullTextSchema): Promise<void> {
    const described = await this.describeTable(table);
    if (!described) throw new SchemaError(`Table "${table}" does not exist`, { table });
    await this.checkFullText(described, index);
    const primary = described.columns.find((c) => c.primary)!;
    for (const statement of this.fullText(table).createStatements(table, index, primary.name, "migration")) await this.exec(statement);
  }

  async dropFullTextIndex(table: string, name: string): Promise<void> {
    const fullText = (await this.describeTable(table))?.fullText;
    if (!fullText || fullText.name !== name) throw new SchemaError(`Table "${table}" has no full-text index "${name}"`, { table });
    await this.dropFullText(table, fullText);
  }

  private async dropFullText(table: string, index: FullTextSchema): Promise<void> {
    for (const statement of this.fullText(table).dropStatements(table, index)) await this.exec(statement);
  }

  private fullText(table: string): NonNullable<SqlDialect["fullText"]> {
    const fullText = this.dialect.fullText;
    if (!fullText) throw new UnsupportedError(`The ${this.dialect.name} backend has no full-text search: table "${table}" cannot get a full-text index`);
    return fullText;
  }

  /** Refuses a full-text index over columns that are not string columns of `table`, or whose helper tables' names are taken. */
  private async checkFullText(table: TableDescription, index: FullTextSchema): Promise<void> {
    const fullText = this.fullText(table.name);
    if (index.properties.length === 0) throw new SchemaError(`The full-text index "${index.name}" of table "${table.name}" needs at least one column`, { table: table.name });
    for (const name of index.properties) {
      const column = table.columns.find((c) => c.name === name);
      if (!column) throw new SchemaError(`The full-text index "${index.name}" of table "${table.name}" names column "${name}", which the table does not have`, { table: table.name, field: name });
      if (column.type !== "string") {
        throw new SchemaError(`The full-text index "${index.name}" of table "${table.name}" names column "${name}", which holds ${column.type} values: only string columns can be searched`, {
          table: table.name,
          field: name,
        });
      }
    }
    checkFullTextColumns(this.dialect, table.name, table.columns.map((c) => c.name), index);
    const reserved = fullText.reservedTables(table.name);
    if (reserved.length === 0) return;
    const taken = new Set(await this.listTables());
    const clash = reserved.find((name) => taken.has(name));
    if (clash !== undefined) {
      throw new SchemaError(`Table "${table.name}" cannot get a full-text index: ${this.dialect.label} keeps it in a table named "${clash}", which another table already has: rename that table`, {
        table: table.name,
      });
    }
  }

  async addColumn(table: string, column: TableColumn): Promise<void> {
    if (this.dialect.fullText?.reservedColumns) {
      const fullText = (await this.describeTable(table))?.fullText;
      if (fullText) checkFullTextColumns(this.dialect, table, [column.name], fullText);
    }
    if (!column.nullable && (column.default === undefined || column.default === null)) {
      const [[count]] = (await this.runner.all(`SELECT COUNT(*) FROM ${quoteIdentifier(table)}`, [], false)) as [[number | string]];
      if (Number(count) > 0) {
        throw new SchemaError(`Column "${column.name}" added to table "${table}" is not nullable: give it a default for the ${count} existing rows`, { table, field: column.name });
      }
      if (!this.dialect.canSetNotNull) {
        // SQLite cannot add a NOT NULL column without a default, even to an empty table.
        throw new SchemaError(`Column "${column.name}" added to table "${table}" is not nullable: give it a default (${this.dialect.label} requires one)`, { table, field: column.name });
      }
    }
    await this.exec(`ALTER TABLE ${quoteIdentifier(table)} ADD COLUMN ${columnDefinition(this.dialect, table, { ...column, unique: false })}`);
    if (column.unique) {
      const index = { name: impliedUniqueIndexName(table, [column.name]), columns: [column.name], unique: true };
      for (const statement of indexStatements(this.dialect, table, index, [column])) await this.exec(statement);
    }
  }

  async dropColumn(table: string, name: string): Promise<void> {
    // As on the memory backend: indexes and foreign keys on the column go with it (SQLite would refuse otherwise).
    const described = await this.describeTable(table);
    for (const index of described?.indexes ?? []) if (index.columns.includes(name)) await this.dropIndex(table, index.name);
    for (const fk of described?.foreignKeys ?? []) if (fk.column === name) await this.dropForeignKey(table, fk.name);
    // A full-text index over the column goes with it, as an index of several columns does.
    if (described?.fullText?.properties.includes(name)) await this.dropFullText(table, described.fullText);
    await this.exec(`ALTER TABLE ${quoteIdentifier(table)} DROP COLUMN ${quoteIdentifier(name)}`);
  }

  async renameColumn(table: string, from: string, to: string): Promise<void> {
    // A full-text index reads its columns by name (SQLite's external content): made again under the new one.
    const fullText = (await this.describeTable(table))?.fullText;
    if (fullText) checkFullTextColumns(this.dialect, table, [to], fullText);
    const affected = fullText?.properties.includes(from) ? fullText : undefined;
    if (affected) await this.dropFullText(table, affected);
    await this.exec(`ALTER TABLE ${quoteIdentifier(table)} RENAME COLUMN ${quoteIdentifier(from)} TO ${quoteIdentifier(to)}`);
    if (affected) await this.createFullTextIndex(table, { name: affected.name, properties: affected.properties.map((p) => (p === from ? to : p)) });
  }

  async createIndex(table: string, index: TableIndex): Promise<void> {
    // The column types decide whether the index gets its folded companion; only a one-column index can.
    const columns = index.columns.length === 1 ? ((await this.describeTable(table))?.columns ?? []) : [];
    for (const statement of indexStatements(this.dialect, table, index, columns)) await this.exec(statement);
  }

  async dropIndex(_table: string, name: string): Promise<void> {
    for (const statement of dropIndexStatements(name)) await this.exec(statement);
  }

  async addForeignKey(table: string, fk: TableForeignKey): Promise<void> {
    // The rows are checked first, so that the error is the same on every database (PostgreSQL would name
    // the row in its own words, SQLite not at all).
    const child = quoteIdentifier(fk.column);
    const [violating] = await this.runner.all(
      `SELECT ${child} FROM ${quoteIdentifier(table)} AS "strata_child" WHERE ${child} IS NOT NULL AND NOT EXISTS ` +
        `(SELECT 1 FROM ${quoteIdentifier(fk.referencedTable)} AS "strata_parent" WHERE "strata_parent".${quoteIdentifier(fk.referencedColumn)} = "strata_child".${child}) LIMIT 1`,
      [],
      false,
    );
    if (violating) {
      const type = (await this.describeTable(table))?.columns.find((c) => c.name === fk.column)?.type;
      const value = violating[0] === null || type === undefined ? violating[0] : this.dialect.codecs[type].decode(violating[0]);
      throw foreignKeyViolatedError(table, fk, value);
    }
    if (this.dialect.alterTableConstraints) {
      await this.exec(`ALTER TABLE ${quoteIdentifier(table)} ADD ${foreignKeyClause(fk)}`);
      return;
    }
    const rewriter = await this.rewrite(table, (sql) => withForeignKeyClause(sql, foreignKeyClause(fk), table), `ADD ${foreignKeyClause(fk)}`);
    // The database's own check of the rows against the new definition: nothing may break it after the check above.
    const broken = await rewriter.firstForeignKeyViolation(table, fk.column);
    if (broken !== undefined) throw foreignKeyViolatedError(table, fk, broken);
  }

  async dropForeignKey(table: string, name: string): Promise<void> {
    if (this.dialect.alterTableConstraints) {
      await this.exec(`ALTER TABLE ${quoteIdentifier(table)} DROP CONSTRAINT ${quoteIdentifier(name)}`);
      return;
    }
    await this.rewrite(
      table,
      (sql) => {
        const without = withoutForeignKeyClause(sql, name, table);
        // A foreign key written inline with its column (by hand, not by Strata) has no clause of its own to remove.
        if (without === undefined) throw foreignKeyMissingError(table, name);
        return without;
      },
      `DROP CONSTRAINT ${quoteIdentifier(name)}`,
    );
  }

  /** Has the connection rewrite `table`'s definition (databases without ALTER TABLE for constraints), logged as `change`. */
  private async rewrite(table: string, edit: (sql: string) => string, change: string): Promise<TableDefinitionRewriter> {
    const rewriter = this.runner as Partial<TableDefinitionRewriter>;
    if (typeof rewriter.rewriteTableDefinition !== "function") {
      throw new SchemaError(`${this.dialect.label} cannot change the foreign keys of table "${table}" on this connection`, { table });
    }
    this.statements.push(`-- the definition of ${quoteIdentifier(table)} rewritten: ${change}`);
    try {
      await rewriter.rewriteTableDefinition(table, edit);
    } catch (error) {
      throw this.mapError(error);
    }
    return rewriter as TableDefinitionRewriter;
  }

  listTables(): Promise<string[]> {
    return this.dialect.introspector.listTables(this.runner);
  }

  describeTable(name: string): Promise<TableDescription | undefined> {
    return this.dialect.introspector.describeTable(this.runner, name);
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
