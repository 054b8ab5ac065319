/**
 * The SQLite driver (the embedded default backend) on better-sqlite3: its connections, the write gate and
 * transactions the {@link SqlBackend} skeleton runs on.
 *
 * - One writer connection, guarded by a FIFO {@link AsyncMutex}: a transaction holds it from
 *   `BEGIN IMMEDIATE` to `COMMIT`/`ROLLBACK`, single writes hold it for one statement. `BEGIN IMMEDIATE`
 *   takes SQLite's write lock at once, so several processes on one file queue for it (up to
 *   `sqlite.busyTimeoutMs`, then a `LockError`) instead of failing at commit, and a read-modify-write inside
 *   a transaction cannot lose an update. The wait is asynchronous (short synchronous `busy_timeout`
 *   slices, retried with back-off), so the event loop keeps running while another process writes.
 * - Reads outside a transaction go to a second, read-only connection: in WAL mode it sees the last
 *   committed state and never waits for the writer. In journal mode delete another process's write locks
 *   readers out; a read then waits asynchronously as the writer does. SQLite's own `:memory:` database cannot be opened
 *   twice (and a shared-cache one makes readers wait on table locks), so `sqlite::memory:` is a private
 *   temporary file (WAL, synchronous OFF) opened by both connections and deleted on close: the same
 *   isolation as a file, nothing kept.
 * - A walk (`repo.iterate`) outside a transaction whose order no index serves streams one SELECT from a
 *   read-only connection of its own (`streams`, sqlite-streamer.ts), in WAL mode only.
 * - Values: `datetime` is INTEGER epoch milliseconds, `boolean` 0/1, `json` TEXT (see sqlite-dialect.ts).
 * - Foreign keys are enforced on every connection (`PRAGMA foreign_keys = ON`, checked), immediately.
 *   SQLite's error names no foreign key: the session explains it (`isUnexplainedForeignKeyFailure`).
 */
import { mkdirSync } from "node:fs";
import * as path from "node:path";
import Database from "better-sqlite3";
import { DEFAULT_CAPABILITIES } from "../../spi/index.js";
import type { BackendCapabilities, BackendContext } from "../../spi/index.js";
import { ConnectionError, SchemaError, StorageError, TransactionError } from "../../errors.js";
import type { EntitySchema } from "../../schema/entity-schema.js";
import { AsyncMutex } from "../../util/async-mutex.js";
import type { SqlDriver } from "../sql/sql-backend.js";
import type { SqlRunner, WriteGate } from "../sql/sql-runner.js";
import type { SqlTransactionConnection } from "../sql/sql-transaction.js";
import { SqliteConnection } from "./sqlite-connection.js";
import { ftsTableOf, readFullTextDeclaration, sqliteFullText } from "./sqlite-full-text.js";
import { isBusy, mapSqliteError } from "./sqlite-errors.js";
import { SqliteStreamer } from "./sqlite-streamer.js";
import { removeDatabaseFiles, sweepTemporaryFilesOnce, temporaryFile } from "./sqlite-temporary-files.js";

/** The longest a single try of the writer blocks the event loop on another process's lock. */
const BUSY_SLICE_MS = 10;

export class SqliteDriver implements SqlDriver {
  readonly capabilities: BackendCapabilities;
  readonly reads: SqlRunner;
  readonly writes: WriteGate;
  /** Defined in WAL mode only (see the module doc). */
  readonly streams?: SqliteStreamer;
  private readonly writerLock = new AsyncMutex();
  private readonly file: string;
  private readonly timeoutMs: number;
  private readonly busyTimeoutMs: number;
  private closed = false;

  private constructor(
    private readonly writer: SqliteConnection,
    private readonly reader: SqliteConnection,
    context: BackendContext,
    /** The temporary file behind `sqlite::memory:`, deleted on close. */
    private readonly temporary: string | undefined,
    wal: boolean,
  ) {
    this.file = temporary ?? context.config.path ?? ":memory:";
    this.timeoutMs = context.config.timeoutMs;
    this.busyTimeoutMs = context.config.sqlite.busyTimeoutMs;
    const inMemory = temporary !== undefined;
    this.capabilities = {
      ...DEFAULT_CAPABILITIES,
      supportsSavepoints: true,
      supportsTransactionalDdl: true,
      supportsMultipleConnections: !inMemory,
      supportsSql: true,
      persistent: !inMemory,
    };
    // A read refused as busy (journal mode delete while another process writes) waits as the writer does;
    // the first try is the plain synchronous call, so reads that are not refused cost nothing more.
    const read = <T>(attempt: () => T): T | Promise<T> => {
      try {
        return attempt();
      } catch (error) {
        if (!isBusy(error)) throw error;
        return this.whenNotBusy(attempt);
      }
    };
    this.reads = {
      all: (text, params) => read(() => reader.all(text, params)),
      run: (text, params) => read(() => reader.run(text, params)),
      query: (text, params) => read(() => reader.query(text, params)),
    };
    this.writes = async (work, multiStatement) => {
      const release = await this.acquireWriter();
      try {
        // A statement refused as busy changed nothing, so retrying the single write is safe.
        if (!multiStatement) return await this.whenNotBusy(() => work(writer));
        await this.whenNotBusy(() => writer.exec("BEGIN IMMEDIATE"));
        try {
          const result = await work(writer);
          // A COMMIT refused as busy (journal mode delete, readers in other processes) leaves the transaction open to retry.
          await this.whenNotBusy(() => writer.exec("COMMIT"));
          return result;
        } catch (error) {
          if (writer.db.inTransaction) writer.exec("ROLLBACK");
          throw error;
        }
      } finally {
        writer.shrinkFullTextBuffers();
        release();
      }
    };
    if (wal) {
      this.streams = new SqliteStreamer({
        reader: reader.db,
        connect: () => new Database(this.file, { readonly: true, fileMustExist: true, timeout: Math.min(this.busyTimeoutMs, BUSY_SLICE_MS) }),
        read,
        whenNotBusy: (attempt) => this.whenNotBusy(attempt),
        isClosed: () => this.closed,
        closedError: () => this.closedError(),
      });
    }
  }

  /**
   * Opens (creating when missing) the database file, applies the pragmas, and runs `createTables`
   * (autoCreate's statements) in one transaction, before the writer's busy wait is cut into slices.
   */
  static open(context: BackendContext, createTables: readonly string[]): SqliteDriver {
    const { config } = context;
    const inMemory = (config.path ?? ":memory:") === ":memory:";
    // The files of `sqlite::memory:` storages of killed processes (see sqlite-temporary-files.ts).
    if (inMemory) sweepTemporaryFilesOnce();
    const temporary = inMemory ? temporaryFile() : undefined;
    const file = temporary ?? config.path!;
    const busy = config.sqlite.busyTimeoutMs;
    let writerDb: Database.Database | undefined;
    let readerDb: Database.Database | undefined;
    try {
      mkdirSync(path.dirname(file), { recursive: true });
      writerDb = new Database(file, { timeout: busy });
      const db = writerDb;
      db.pragma(`busy_timeout = ${busy}`);
      const deadline = Date.now() + busy;
      // Two processes opening one new file can deadlock on switching the journal mode: SQLite then
      // answers SQLITE_BUSY at once instead of waiting, so the switch (and the creation) is retried.
      whileBusySync(deadline, () => db.pragma(`journal_mode = ${temporary || config.sqlite.journalMode === "wal" ? "WAL" : "DELETE"}`));
      db.pragma(`synchronous = ${temporary ? "OFF" : config.sqlite.synchronous === "full" ? "FULL" : "NORMAL"}`);
      enforceForeignKeys(db, file);
      // A REPLACE (a user's `INSERT OR REPLACE` through storage.sql) then fires the DELETE triggers of the rows
      // it removes, which keep a full-text index current (sqlite-full-text.ts); Strata's own writes never replace.
      db.pragma("recursive_triggers = ON");
      const writer = new SqliteConnection(db);
      if (createTables.length > 0) refuseFullTextClashes(db, context.schemas);
      whileBusySync(deadline, () => runInTransaction(writer, createTables));
      // A full-text index made over a table's rows left FTS5's term buffer at its largest (see shrinkFullTextBuffers).
      writer.shrinkFullTextBuffers();
      // From here on the writer waits for other processes in short slices (see whenNotBusy).
      writerDb.pragma(`busy_timeout = ${Math.min(busy, BUSY_SLICE_MS)}`);
      // The reader waits in the same short slices: a long busy_timeout would block the event loop.
      readerDb = new Database(file, { readonly: true, fileMustExist: true, timeout: Math.min(busy, BUSY_SLICE_MS) });
      enforceForeignKeys(readerDb, file);
      return new SqliteDriver(writer, new SqliteConnection(readerDb), context, temporary, temporary !== undefined || config.sqlite.journalMode === "wal");
    } catch (error) {
      readerDb?.close();
      writerDb?.close();
      if (temporary) removeDatabaseFiles(temporary);
      const mapped = mapSqliteError(error, undefined, file, busy);
      // A specific Strata error (locked, not a database...) stands; anything else is a failure to open.
      if (mapped instanceof StorageError && mapped.constructor !== StorageError) throw mapped;
      throw new ConnectionError(`Could not open the SQLite database ${file}: ${(error as Error)?.message ?? String(error)}`, { file, cause: error });
    }
  }

  /**
   * Runs `attempt`, retrying it while another connection holds the write lock, until
   * `sqlite.busyTimeoutMs` has passed; each try blocks at most one busy_timeout slice.
   */
  private async whenNotBusy<T>(attempt: () => T | Promise<T>): Promise<T> {
    const deadline = Date.now() + this.busyTimeoutMs;
    for (let pause = 1; ; pause = Math.min(pause * 2, 25)) {
      try {
        return await attempt();
      } catch (error) {
        const left = deadline - Date.now();
        if (!isBusy(error) || left <= 0) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.min(pause, left)));
      }
    }
  }

  /** What a call after {@link close} (or a walk's next page after it) fails with. */
  private closedError(): ConnectionError {
    return new ConnectionError(`The SQLite database ${this.file} is closed`, { file: this.file });
  }

  private writerTimeout(): TransactionError {
    return new TransactionError(`Waited ${this.timeoutMs} ms for the sqlite backend's writer (another transaction holds it)`);
  }

  private acquireWriter(): Promise<() => void> {
    if (this.closed) return Promise.reject(this.closedError());
    return this.writerLock.acquire(this.timeoutMs, () => this.writerTimeout());
  }

  mapError(error: unknown, schema: EntitySchema | undefined): unknown {
    return mapSqliteError(error, schema, this.file, this.busyTimeoutMs);
  }

  /** SQLite says only "FOREIGN KEY constraint failed": the session finds which foreign key, and which row. */
  isUnexplainedForeignKeyFailure(error: unknown): boolean {
    return (error as { code?: unknown })?.code === "SQLITE_CONSTRAINT_FOREIGNKEY";
  }

  async begin(): Promise<SqlTransactionConnection> {
    const release = await this.acquireWriter();
    const writer = this.writer;
    try {
      await this.whenNotBusy(() => writer.exec("BEGIN IMMEDIATE"));
    } catch (error) {
      release();
      throw this.mapError(error, undefined);
    }
    // SQLite ends the whole transaction on its own after some failures (disk full, I/O error, RAISE(ROLLBACK)).
    // Left alone, the connection would then run the caller's next writes in autocommit, or start a new
    // transaction at the next SAVEPOINT, and store them although the transaction fails: every later
    // statement is refused with the failure that ended it instead.
    let endedBy: unknown;
    const ended = () => endedBy ?? new TransactionError("SQLite ended this transaction on its own: nothing of it is stored");
    const exec = (sql: string): Promise<void> => {
      if (writer.db.inTransaction) return this.whenNotBusy(() => writer.exec(sql));
      // Nothing is left to roll back or release; anything else would run outside the transaction.
      if (sql.startsWith("ROLLBACK") || sql.startsWith("RELEASE")) return Promise.resolve();
      return Promise.reject(ended());
    };
    return {
      runner: writer,
      writes: async (work) => {
        if (!writer.db.inTransaction) throw ended();
        try {
          return await work(writer);
        } catch (error) {
          if (!writer.db.inTransaction) endedBy ??= error;
          throw error;
        }
      },
      exec,
      // SQLite either commits or fails COMMIT with an error.
      commit: async () => {
        await exec("COMMIT");
        return undefined;
      },
      finish: () => {
        writer.shrinkFullTextBuffers();
        release();
      },
    };
  }

  /**
   * An online backup (better-sqlite3's `backup`): a consistent copy while reads and writes go on. Its first
   * step waits for the writer: SQLite answers a step SQLITE_BUSY while the source connection (the writer) is
   * inside a write transaction, and better-sqlite3 takes a busy first step (no page count yet) for a finished
   * backup: it resolved, and deleted the new file. Later steps go on beside transactions (a busy one is retried).
   */
  async backup(targetPath: string): Promise<void> {
    const target = path.resolve(targetPath);
    const release = await this.acquireWriter();
    let held = true;
    const letWritersOn = () => {
      if (!held) return;
      held = false;
      release();
    };
    try {
      mkdirSync(path.dirname(target), { recursive: true });
      // The progress callback runs after each step but the last: after the first, writers may go on. Each
      // next step copies better-sqlite3's default of 100 pages, as before.
      await this.writer.db.backup(target, {
        progress: () => {
          letWritersOn();
          return 100;
        },
      });
    } catch (error) {
      // A backup only reads the database: a full disk is the copy's, and the error names the copy.
      if ((error as { code?: string }).code === "SQLITE_FULL") throw mapSqliteError(error, undefined, target, this.busyTimeoutMs);
      throw this.mapError(error, undefined);
    } finally {
      letWritersOn();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Let a running transaction finish first (closing under it rolls it back), but not forever.
    const release = await this.writerLock.acquire(this.timeoutMs).catch(() => undefined);
    try {
      // Walks under way end here: their next page fails as closed (see the module doc).
      this.streams?.close();
      this.reader.db.close();
      this.writer.db.close();
    } finally {
      if (this.temporary) removeDatabaseFiles(this.temporary);
      release?.();
    }
  }
}


/**
 * Turns foreign key enforcement on for a new connection (SQLite leaves it off by default, per connection),
 * and checks that it took: the pragma is silently ignored inside a transaction and by a SQLite built
 * without foreign keys, and a connection that does not enforce them would store rows other backends refuse.
 * Checks are immediate: no constraint Strata writes is deferrable, and `defer_foreign_keys` stays off.
 */
function enforceForeignKeys(db: Database.Database, file: string): void {
  db.pragma("foreign_keys = ON");
  if (db.pragma("foreign_keys", { simple: true }) !== 1) {
    throw new ConnectionError(`SQLite did not turn foreign key enforcement on for ${file} (PRAGMA foreign_keys stays off): this build of SQLite cannot be used`, { file });
  }
}

/** Runs `attempt` until it is not refused as busy or `deadline` has passed, pausing the thread between tries (only while opening). */
function whileBusySync(deadline: number, attempt: () => unknown): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let wait = 1; ; wait = Math.min(wait * 2, 50)) {
    try {
      attempt();
      return;
    } catch (error) {
      const left = deadline - Date.now();
      if (!isBusy(error) || left <= 0) throw error;
      Atomics.wait(pause, 0, 0, Math.min(wait, left));
    }
  }
}

/**
 * Before autoCreate: a table of the user's named as the full-text index of an entity's table would be
 * (`<table>__fts`, sqlite-full-text.ts) is a SchemaError naming both, not taken over nor left to fail later.
 * PostgreSQL's counterpart is a statement of autoCreate's own (postgres-full-text.ts), run in its locked
 * transaction; SQLite has no procedural block to raise an error from, so here it is JS. What marks the helper
 * table as Strata's differs too: here the FTS5 table's declaration, there the document column beside it.
 */
function refuseFullTextClashes(db: Database.Database, schemas: readonly EntitySchema[]): void {
  const find = db.prepare(`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?`).pluck();
  for (const schema of schemas) {
    if (!schema.fullText) continue;
    for (const name of sqliteFullText.reservedTables(schema.table)) {
      const sql = find.get(name) as string | null | undefined;
      if (sql === undefined) continue;
      // Strata's own FTS5 table of this table, and FTS5's shadow tables beside it, are the index itself.
      const own = find.get(ftsTableOf(schema.table)) as string | null | undefined;
      if (own !== undefined && own !== null && readFullTextDeclaration(own, []) !== undefined) continue;
      throw new SchemaError(
        `${schema.entityName}'s full-text index on table "${schema.table}" would be kept in a table named "${name}", which the database already has and which is not Strata's: rename that table`,
        { table: schema.table },
      );
    }
  }
}

/** Runs `statements` (autoCreate's) in one transaction: SQLite's DDL is transactional. */
function runInTransaction(writer: SqliteConnection, statements: readonly string[]): void {
  if (statements.length === 0) return;
  writer.exec("BEGIN IMMEDIATE");
  try {
    for (const statement of statements) writer.exec(statement);
    writer.exec("COMMIT");
  } catch (error) {
    // A full disk ends the transaction already, and "cannot rollback" would hide why.
    if (writer.db.inTransaction) writer.exec("ROLLBACK");
    throw error;
  }
}
