/**
 * Strata: repository-pattern persistence for TypeScript. One entity declaration (TypeORM decorators),
 * the same behaviour in memory, in JSON files, on SQLite and on PostgreSQL.
 */
import "reflect-metadata";

export { createStorage, Storage } from "./storage.js";
export type { RepositoryClass, Transaction } from "./storage.js";
export type { BackupEvent, BackupReason } from "./backup/backup-scheduler.js";
export type { StorageConfig, ResolvedConfig, PostgresConfig } from "./config/storage-config.js";
export { Repository } from "./repository/repository.js";
export type { IRepository, BatchResult, SaveManyOptions, CountOptions, EntityClass, EntityInput, Patch, FindByIdOptions, Page, PageQuery, SearchOptions, SearchResult, SelectSearchOptions } from "./repository/repository.js";
export type { SnippetOptions } from "./search/search-snippet.js";
export type { Query, SelectQuery, Field, Where, Operators, OrderBy, Include, IncludeOptions, RelationProperty, Related } from "./query/query.js";
export type { TransactionOptions, CommittedWrites } from "./transaction/transaction-manager.js";
export { registerBackend } from "./spi/backend-registry.js";
export { DEFAULT_CAPABILITIES } from "./spi/index.js";
export type {
  Backend,
  BackendCapabilities,
  BackendContext,
  BackendFactory,
  DataSession,
  Key,
  TransactionHandle,
  SchemaEditor,
  TableColumn,
  TableIndex,
  TableForeignKey,
  TableDescription,
  AppliedMigration,
  AppliedMigrationStore,
  MigrationLock,
  ServerStatus,
  UpdateOutcome,
  UpsertManyOptions,
} from "./spi/index.js";
export type {
  NormalizedQuery,
  NormalizedWhere,
  Condition,
  ConditionOp,
  OrderTerm,
  RelationCondition,
  RelationQuantifier,
  WhereTerm,
  ToOneWhere,
  ToManyWhere,
  RelationWhere,
} from "./query/query.js";
export type {
  EntitySchema,
  ColumnSchema,
  IndexSchema,
  ForeignKeySchema,
  RelationSchema,
  RelationKind,
  OnDelete,
  LogicalType,
  Row,
} from "./schema/entity-schema.js";
export { readEntitySchema } from "./schema/read-entity-schema.js";
export { defineMigration } from "./migrations/migration.js";
export type { Migration } from "./migrations/migration.js";
export type { MigrationContext, MigrationColumn, MigrationForeignKey } from "./migrations/migration-context.js";
export { MigrationRunner } from "./migrations/migration-runner.js";
export type {
  MigrationStatus,
  MigrationState,
  MigrationResult,
  MigrationEvent,
  MigrationEventName,
  UpOptions,
  DownOptions,
} from "./migrations/migration-runner.js";
export type { SchemaDiff } from "./migrations/diff-schema.js";
export { loadMigrations, sha256 } from "./migrations/migration-loader.js";
export type { LoadedMigration } from "./migrations/migration-loader.js";
export { MIGRATIONS_TABLE } from "./migrations/applied-migration-store.js";
export { copyStorage } from "./copy/copy-storage.js";
export type { CopyOptions, CopiedTable } from "./copy/copy-backend.js";
export { schemaOfTable, describeSchema } from "./schema/table-schema.js";
export type { Logger } from "./logger.js";
export type { QueryEvent, QueryListener, QueryOperation, QueryStatement } from "./observe/query-event.js";
export type { LogQueriesConfig, TelemetryConfig, TelemetryTracerProvider } from "./config/observe-config.js";
export type { StorageCache, CacheStats } from "./cache/cache-manager.js";
export type { CacheConfig } from "./config/storage-config.js";
export * from "./errors.js";
