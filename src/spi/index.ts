/** The backend SPI in one import: the interfaces a backend implements, and the default capability flags. */
export { DEFAULT_CAPABILITIES } from "./capabilities.js";
export type { BackendCapabilities } from "./capabilities.js";
export type { DataSession, Key, SearchHit, SearchRequest, SqlResult, UpdateOutcome, UpsertManyOptions } from "./data-session.js";
export type { TransactionHandle } from "./transaction-handle.js";
export type { SchemaEditor, TableColumn, TableDescription, TableForeignKey, TableIndex } from "./schema-editor.js";
export type { AppliedMigration, AppliedMigrationStore, MigrationLock } from "./migration-store.js";
export type { Backend, BackendContext, BackendFactory, ServerStatus } from "./backend.js";
