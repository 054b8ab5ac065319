/**
 * The skeleton every SQL backend is built from: a {@link SqlDialect} (what SQL to write) and a
 * {@link SqlDriver} (where it runs). The skeleton wires the session outside transactions, `begin()` (a
 * session on the transaction's connection, its schema editor, its savepoints and end); autoCreate's
 * statements come from `autoCreateStatements` (sql-table-statements.ts), which a driver runs in one
 * transaction while it opens. A driver only holds connections, runs statements and maps its errors. The
 * storage's schemas, and the foreign keys the database holds besides (`readForeignKeys`), give the
 * {@link ForeignKeyCatalog} with which a foreign key failure names its relation.
 */
import type { Backend, BackendCapabilities, MigrationLock, ServerStatus, TableDescription, TableForeignKey, TransactionHandle } from "../../spi/index.js";
import type { EntitySchema } from "../../schema/entity-schema.js";
import { withHeldForeignKeys } from "../../schema/foreign-key-graph.js";
import { schemaOfTable } from "../../schema/table-schema.js";
import type { SqlDialect } from "./sql-dialect.js";
import { ForeignKeyCatalog } from "./sql-foreign-keys.js";
import type { SqlRunner, SqlStreamer, WriteGate } from "./sql-runner.js";
import { SqlSchemaEditor } from "./sql-schema-editor.js";
import type { ForeignKeySession } from "./sql-session.js";
import { SqlSession } from "./sql-session.js";
import { SqlTables } from "./sql-table.js";
import type { SqlTransactionConnection } from "./sql-transaction.js";
import { SqlTransaction } from "./sql-transaction.js";

/** One database's connections, as the {@link SqlBackend} skeleton uses them. */
export interface SqlDriver {
  readonly capabilities: BackendCapabilities;
  /** Runs reads outside a transaction (a pool, or a read-only connection). */
  readonly reads: SqlRunner;
  /** Runs writes outside a transaction: single statements in autocommit, several in a transaction of their own. */
  readonly writes: WriteGate;
  /** Streams a select from a read snapshot of its own (`DataSession.stream`); absent: iterate walks by keyset pages. */
  readonly streams?: SqlStreamer;
  /** Where {@link SqlDriver.reads} may lag behind other processes' commits (replicas): reads that never do. See {@link Backend.freshSession}. */
  readonly freshReads?: SqlRunner;
  /** Begins a write transaction on a connection of its own (waiting, up to `timeoutMs`, where writers queue). */
  begin(): Promise<SqlTransactionConnection>;
  /** See {@link Backend.beginMigration}; absent: migrations use {@link SqlDriver.begin}. */
  beginMigration?(): Promise<SqlTransactionConnection>;
  /**
   * A driver error as a Strata error, naming the entity's table when `schema` is given. A foreign key
   * violation names the relation (README, "Relations"), found in `foreignKeys` by the constraint's name.
   */
  mapError(error: unknown, schema: EntitySchema | undefined, foreignKeys?: ForeignKeyCatalog): unknown;
  /**
   * True for a foreign key violation whose error does not say which foreign key, nor which row (SQLite):
   * the session then finds out on the same connection, before the caller goes on (sql-foreign-keys.ts).
   * Absent where the error says (PostgreSQL: the constraint name and the key), and `mapError` names it.
   */
  isUnexplainedForeignKeyFailure?(error: unknown): boolean;
  /**
   * True for a foreign key failure that names a key neither `catalog` nor `schema` (the written table's)
   * holds: one another storage's migration added since the catalog was read. The session then reads the held
   * keys again and maps the failure once more. Where the error names no key (SQLite), any failure
   * {@link SqlDriver.isUnexplainedForeignKeyFailure} says is one counts.
   */
  isUnknownForeignKeyFailure?(error: unknown, schema: EntitySchema, catalog: ForeignKeyCatalog): boolean;
  /** See {@link Backend.backup}. */
  backup(targetPath: string): Promise<void>;
  /** Ends every connection (letting a running transaction finish first where the database needs it). */
  close(): Promise<void>;
  /** See {@link Backend.migrationLock}. */
  readonly migrationLock?: MigrationLock;
  /** See {@link Backend.servers}; absent for a database that is one file (SQLite). */
  servers?(): Promise<ServerStatus[]>;
}

export class SqlBackend implements Backend {
  /** The dialect's {@link SqlDialect.name}. */
  readonly name: string;
  readonly capabilities: BackendCapabilities;
  readonly session: SqlSession;
  /** See {@link Backend.freshSession}: on the driver's `freshReads`, where it has them. */
  readonly freshSession?: SqlSession;
  readonly migrationLock?: MigrationLock;
  /** See {@link Backend.servers}: the driver's, where it has one. */
  readonly servers?: () => Promise<ServerStatus[]>;
  private readonly tables: SqlTables;
  private readonly mapError: (error: unknown, schema: EntitySchema | undefined) => unknown;
  /** Maps an error of a transaction's own statements (savepoints, its end) and of its schema editor: no table to name. */
  private readonly mapTransactionError: (error: unknown) => unknown;

  private readonly foreignKeys: ForeignKeySession | undefined;
  private readonly catalog: ForeignKeyCatalog;

  /** `schemas`: the storage's entities and join tables (`BackendContext.schemas`), whose foreign keys errors name. */
  constructor(
    private readonly dialect: SqlDialect,
    private readonly driver: SqlDriver,
    private readonly schemas: readonly EntitySchema[] = [],
  ) {
    this.name = dialect.name;
    // The shared query compiler turns relation filters into EXISTS subqueries, and the shared session
    // writes a partial save as one INSERT ... ON CONFLICT DO UPDATE of the given columns, whatever the dialect.
    this.capabilities = { ...driver.capabilities, supportsRelationFilters: true, supportsPartialUpsert: true };
    if (driver.migrationLock) this.migrationLock = driver.migrationLock;
    if (driver.servers) this.servers = () => driver.servers!();
    this.tables = new SqlTables(dialect);
    const catalog = (this.catalog = new ForeignKeyCatalog(schemas));
    this.mapError = (error, schema) => driver.mapError(error, schema, catalog);
    this.mapTransactionError = (error) => driver.mapError(error, undefined, catalog);
    const unexplained = driver.isUnexplainedForeignKeyFailure?.bind(driver);
    const unknownKey = driver.isUnknownForeignKeyFailure?.bind(driver);
    const refresh = () => this.readForeignKeys();
    if (unexplained) this.foreignKeys = { catalog, unexplained, unknown: unexplained, refresh };
    else if (unknownKey) this.foreignKeys = { catalog, unknown: (error, schema) => unknownKey(error, schema, catalog), refresh };
    this.session = new SqlSession({
      tables: this.tables,
      reads: driver.reads,
      writes: driver.writes,
      mapError: this.mapError,
      ...this.explaining(),
      ...(driver.streams ? { streams: driver.streams } : {}),
    });
    if (driver.freshReads) {
      this.freshSession = new SqlSession({ tables: this.tables, reads: driver.freshReads, writes: driver.writes, mapError: this.mapError, ...this.explaining() });
    }
  }

  private explaining(): { foreignKeys?: ForeignKeySession } {
    return this.foreignKeys ? { foreignKeys: this.foreignKeys } : {};
  }

  async begin(): Promise<TransactionHandle> {
    return this.transactionOn(await this.driver.begin());
  }

  /** See {@link Backend.beginMigration}: the driver's own connection for migrations, else {@link SqlBackend.begin}'s. */
  async beginMigration(): Promise<TransactionHandle> {
    return this.transactionOn(await (this.driver.beginMigration ? this.driver.beginMigration() : this.driver.begin()));
  }

  private transactionOn(connection: SqlTransactionConnection): TransactionHandle {
    const session = new SqlSession({ tables: this.tables, reads: connection.runner, writes: connection.writes, mapError: this.mapError, inTransaction: true, ...this.explaining() });
    return new SqlTransaction(session, connection, this.mapTransactionError, () => new SqlSchemaEditor(this.dialect, connection.runner, this.mapTransactionError));
  }

  /**
   * Every table's foreign keys, read from the database's catalog; the error mapper and the session name a
   * violation of any of them from then on, a key no entity declares as `table.column`. A table no entity
   * declares is described whole: explaining a delete that cascades through it needs its primary key.
   */
  async readForeignKeys(): Promise<ReadonlyMap<string, readonly TableForeignKey[]>> {
    const { introspector } = this.dialect;
    const run = this.driver.reads;
    const held = new Map<string, readonly TableForeignKey[]>();
    const undeclared = new Map<string, TableDescription>();
    const declared = new Set(this.schemas.map((s) => s.table));
    if (introspector.readForeignKeys) {
      for (const [table, keys] of await introspector.readForeignKeys(run)) {
        held.set(table, keys);
        const description = declared.has(table) ? undefined : await introspector.describeTable(run, table);
        if (description) undeclared.set(table, description);
      }
    } else {
      for (const table of await introspector.listTables(run)) {
        const description = await introspector.describeTable(run, table);
        if (!description?.foreignKeys?.length) continue;
        held.set(table, description.foreignKeys);
        if (!declared.has(table)) undeclared.set(table, description);
      }
    }
    this.catalog.update(
      withHeldForeignKeys(this.schemas, held, (table) => {
        try {
          return schemaOfTable(undeclared.get(table)!);
        } catch {
          // A table Strata cannot address (no single primary key column): its keys cannot be explained.
          return undefined;
        }
      }),
    );
    return held;
  }

  backup(targetPath: string): Promise<void> {
    return this.driver.backup(targetPath);
  }

  close(): Promise<void> {
    return this.driver.close();
  }
}
