/**
 * The backend SPI: what a backend implements for Strata. Small parts, each with one job:
 * a {@link DataSession} reads and writes rows, a {@link TransactionHandle} adds the transaction's
 * lifetime, a {@link SchemaEditor} changes tables, and the {@link Backend} ties them together with its
 * capability flags.
 *
 * Rows crossing this boundary are plain objects keyed by entity property, holding logical values
 * (`Date`, boolean, number, string, JSON value, `null`); every column is present. A backend never keeps
 * a reference to a row it was given, and every row it returns belongs to the caller. The row contract
 * and the query semantics a backend must honour are written out in data-session.ts.
 *
 * A backend reaches `createStorage` three ways: by name (built in, or added with `registerBackend`),
 * as a {@link BackendFactory}, or as an open {@link Backend} instance (the `backend` option). The
 * conformance suites (`stratastore/conformance`: `runConformanceSuite`, `runSpiSuite`) check one.
 */
import type { ResolvedConfig } from "../config/resolved-config.js";
import type { Logger } from "../logger.js";
import type { EntitySchema } from "../schema/entity-schema.js";
import type { BackupEvent } from "../backup/backup-layout.js";
import type { BackendCapabilities } from "./capabilities.js";
import type { DataSession } from "./data-session.js";
import type { AppliedMigrationStore, MigrationLock } from "./migration-store.js";
import type { TableForeignKey } from "./schema-editor.js";
import type { TransactionHandle } from "./transaction-handle.js";

/**
 * An open backend. `createStorage` checks that an object given as `backend` (or returned by a factory) has
 * `name`, `capabilities`, `session` (with its ten methods), `begin`, `backup` and `close`; the storage owns it
 * from then on, and a second storage given the same instance is a `ConfigError`.
 * @example
 * class MyStoreBackend implements Backend {
 *   readonly name = "mystore";
 *   readonly capabilities = { ...DEFAULT_CAPABILITIES, supportsSavepoints: true };
 *   readonly session: DataSession;
 *   // Set in the constructor: a field initializer runs before `client` is assigned (ES2022 class fields).
 *   constructor(private readonly client: MyStoreClient) { this.session = new MyStoreSession(client); }
 *   async begin(): Promise<TransactionHandle> { return new MyStoreTransaction(await this.client.begin()); }
 *   async backup(targetPath: string): Promise<void> { await this.client.snapshot(targetPath); }
 *   async close(): Promise<void> { await this.client.end(); }
 * }
 */
export interface Backend {
  /** The backend's name, as `storage.backend` and error messages show it: `"memory"`, `"sqlite"`, `"mystore"`... */
  readonly name: string;
  /** What it can do; spread `DEFAULT_CAPABILITIES` and set what it adds. */
  readonly capabilities: BackendCapabilities;
  /**
   * Reads and single writes outside any transaction (autocommit). Reads see committed rows only and never
   * wait for an open transaction; each write is atomic on its own and is visible once it resolves.
   */
  readonly session: DataSession;
  /**
   * Autocommit reads that see every write committed before they start, by any process. Where {@link
   * Backend.session} may read a replica that has not replayed another process's write yet (PostgreSQL with
   * `postgres.replicas`), a session on the primary. The cache fills from it: an entry read from a lagging
   * replica after another process's invalidation would stay stale after the replica caught up. Optional:
   * without it the cache fills from {@link Backend.session}.
   */
  readonly freshSession?: DataSession;
  /**
   * Starts a write transaction. A backend must guarantee no lost update between concurrent transactions
   * (see {@link TransactionHandle}): one that cannot isolate them otherwise waits here for the running
   * one to end, up to the configured `timeoutMs`, then fails (a `TransactionError`, or a `LockError` when
   * another process holds the store: memory, file, SQLite); one whose store isolates them (PostgreSQL, rows read `FOR UPDATE`) starts at once, and waits
   * on the rows instead.
   */
  begin(): Promise<TransactionHandle>;
  /**
   * Writes a consistent copy of the data to `targetPath`, which `createStorage` can open. A backend with
   * files of its own copies them (file, SQLite); one with nothing on disk (memory) calls
   * {@link BackendContext.backupToDirectory}, which writes a file-backend directory: the copy lives in
   * `src/copy/`, handed down by `createStorage`, so no backend imports another backend or the copier.
   * One that cannot back up throws an `UnsupportedError` saying what to use instead (PostgreSQL: pg_dump).
   */
  backup(targetPath: string): Promise<void>;
  /**
   * Releases connections, locks, timers and files. Called once, by `storage.close()`; no method is
   * called after it.
   */
  close(): Promise<void>;
  /**
   * The cross-process migration lock. Optional: without it the runner uses an in-process mutex when
   * `supportsMultipleConnections` is false, and a lock row in the table `strata_migration_lock` (through
   * the schema editor and the data session) when it is true.
   */
  readonly migrationLock?: MigrationLock;
  /**
   * Begins the transaction a migration runs in (applying, reverting, a dry run), where migrations must reach
   * the database another way than the data: PostgreSQL behind a pooler sends them to `postgres.directUrl`.
   * Reads of the applied versions and of the schema use {@link Backend.begin}. Optional: without it the
   * runner uses {@link Backend.begin}.
   */
  beginMigration?(): Promise<TransactionHandle>;
  /** Overrides the runner's default store of applied migrations (the `strata_migrations` table). */
  readonly appliedMigrations?: AppliedMigrationStore;
  /**
   * Reads the foreign keys the store holds now, by referencing table: those of every table, including the ones
   * only a migration declares (no entity has the relation, only the column). The storage calls it once the
   * backend is open and after each schema change it makes (a migration applied or reverted, a copy), and
   * merges them with the entities' own: the cache then forgets the rows a cascade through such a key changed,
   * and a backend that names foreign key violations itself (SQL) names these too from then on. Optional:
   * without it the storage knows only the foreign keys its entities declare.
   * @example
   * async readForeignKeys() { return new Map([["posts", [{ name: "fk_posts_authorId", column: "authorId", referencedTable: "authors", referencedColumn: "id", onDelete: "CASCADE" }]]]); }
   */
  readForeignKeys?(): Promise<ReadonlyMap<string, readonly TableForeignKey[]>>;
  /**
   * Each server the backend talks to, asked now: its role, health and (a replica's) lag, for `strata
   * doctor`. Optional: a backend without it is one store, reported by `strata doctor` as healthy once open.
   * @example
   * async servers() { return [{ server: "db1:5432/app", role: "primary", healthy: true }]; }
   */
  servers?(): Promise<ServerStatus[]>;
}

/** One database server behind a backend, as {@link Backend.servers} reports it. */
export interface ServerStatus {
  /** Where it is, without credentials: `host:port/database`. */
  readonly server: string;
  /** `primary` takes writes and transactions; a `replica` serves reads outside transactions. */
  readonly role: "primary" | "replica";
  /** False when it did not answer now, or (a replica) is out of the read rotation; `error` says why. */
  readonly healthy: boolean;
  /** A replica's WAL not yet replayed, in bytes behind the primary's current position. */
  readonly lagBytes?: number;
  /** A replica's delay: 0 when it has replayed all it received, else ms since the last transaction it replayed committed. */
  readonly lagMs?: number;
  /** Reads this process has sent it since the storage opened. */
  readonly reads?: number;
  /** Why it is not healthy. */
  readonly error?: string;
}

/** What a backend factory is given. */
export interface BackendContext {
  /**
   * The storage's configuration after validation and defaults: `url`, `path`, `timeoutMs`, `poolSize`,
   * `autoCreate`... A third-party backend takes its own options as arguments of the function that makes
   * its factory, not from here.
   */
  readonly config: ResolvedConfig;
  /**
   * The schemas of the storage's entities. When `config.autoCreate` is true, the factory creates the
   * tables of those that are missing (and leaves existing ones as they are) before it resolves.
   */
  readonly schemas: readonly EntitySchema[];
  /** Where the backend logs (retries, recoveries, slow locks); `config.logger`. */
  readonly logger: Logger;
  /**
   * Writes every table of `source` as a new file-backend directory at `targetPath` (the copy module's
   * `backupToDirectory`, with this storage's settings): the backup of a backend with nothing on disk.
   * Given by `createStorage` (and the conformance suite's `openBackend`); absent when a backend is built
   * some other way.
   */
  readonly backupToDirectory?: (source: Backend, targetPath: string) => Promise<void>;
  /**
   * Tells the storage's `backup` listeners of a generation the backend made on its own (the file backend's
   * before a compaction), as the storage's schedule tells of its own. Given by `createStorage`; absent
   * when a backend is built some other way. Never throws: a listener's failure is logged.
   */
  readonly reportBackup?: (event: BackupEvent) => void;
}

/**
 * Creates and connects a backend: a function of the {@link BackendContext}, called once by
 * `createStorage`. A failure other than a Strata error becomes a `ConnectionError`, and so does a
 * factory given as `backend` that has not resolved within `config.timeoutMs` (unless it is 0); a result
 * that is not a {@link Backend} is a `ConfigError` naming `backend`. A third-party package exports a
 * function of its own typed options that returns one (kysely's dialect style); it is given to
 * `createStorage` as `backend`, or registered under a name with `registerBackend`.
 * @example
 * export interface MyStoreOptions { region: string; poolSize?: number }
 * export function myStore(options: MyStoreOptions): BackendFactory {
 *   return async (context) => MyStoreBackend.connect(options, context);
 * }
 * const storage = await createStorage({ backend: myStore({ region: "eu" }), entities: [Task], autoCreate: true });
 */
export type BackendFactory = (context: BackendContext) => Promise<Backend>;
