/**
 * The backend SPI: what a backend implements for Strata. Small parts, each with one job:
 * a {@link DataSession} reads and writes rows, a {@link TransactionHandle} adds the transaction's
 * lifetime, a {@link SchemaEditor} changes tables, and the {@link Backend} ties them together with its
 * capability flags.
 *
 * Rows crossing this boundary are plain objects keyed by entity property, holding logical values
 * (`Date`, boolean, number, string, JSON value, `null`); every column is present. A backend never keeps
 * a reference to a row it was given, and every row it returns belongs to the caller.
 */
import type { ResolvedConfig } from "../config/resolved-config.js";
import type { Logger } from "../logger.js";
import type { EntitySchema } from "../schema/entity-schema.js";
import type { BackendCapabilities } from "./capabilities.js";
import type { DataSession } from "./data-session.js";
import type { AppliedMigrationStore, MigrationLock } from "./migration-store.js";
import type { TransactionHandle } from "./transaction-handle.js";

export interface Backend {
  readonly name: string;
  readonly capabilities: BackendCapabilities;
  /** Reads and single writes outside any transaction. Reads never see uncommitted writes. */
  readonly session: DataSession;
  /** Starts a write transaction, waiting (up to the configured `timeoutMs`) for the current writer. */
  begin(): Promise<TransactionHandle>;
  /** Writes a consistent copy of the data to `targetPath`, which `createStorage` can open. */
  backup(targetPath: string): Promise<void>;
  close(): Promise<void>;
  /**
   * The cross-process migration lock. Optional: without it the runner uses an in-process mutex when
   * `supportsMultipleConnections` is false, and refuses (`UnsupportedError`) when it is true.
   */
  readonly migrationLock?: MigrationLock;
  /** Overrides the runner's default store of applied migrations (the `strata_migrations` table). */
  readonly appliedMigrations?: AppliedMigrationStore;
}

/** What a backend factory is given. */
export interface BackendContext {
  readonly config: ResolvedConfig;
  readonly schemas: readonly EntitySchema[];
  readonly logger: Logger;
}

/** Creates and connects a backend. */
export type BackendFactory = (context: BackendContext) => Promise<Backend>;
