/**
 * What a backend can do. The repository, the transaction manager and the migration runner branch on
 * these flags, never on the backend's class.
 */

/**
 * What a backend can do; the repository, the transaction manager and the migration runner branch on
 * these. A backend spreads {@link DEFAULT_CAPABILITIES} and states only what it adds.
 * @example readonly capabilities = { ...DEFAULT_CAPABILITIES, supportsSavepoints: true };
 */
export interface BackendCapabilities {
  /**
   * Nested transactions are savepoints (`TransactionHandle.savepoint` and its two siblings work). Without
   * it, a nested `storage.transaction()` is a `TransactionError`.
   * @default false
   */
  readonly supportsSavepoints: boolean;
  /** Schema changes roll back with the transaction: a failing migration leaves nothing behind. @default false */
  readonly supportsTransactionalDdl: boolean;
  /**
   * Several processes may open the same data at once. The cache then stays off unless configured (another
   * process's writes would not reach it), and the migration runner needs a cross-process lock: the
   * backend's `migrationLock`, else a lock row in `strata_migration_lock`. @default false
   */
  readonly supportsMultipleConnections: boolean;
  /** `SchemaEditor.sql()` is available, so `m.sql()` works in migrations. @default false */
  readonly supportsSql: boolean;
  /** Data outlives the storage: a second storage on the same URL sees it. @default false */
  readonly persistent: boolean;
  /**
   * `find`, `count` and `deleteMany` accept relation conditions (`RelationCondition` in a `NormalizedWhere`,
   * see data-session.ts). Without it, the repository resolves each one first, by queries on the related
   * tables through the same session, and hands the backend `in`/`nin` conditions on this table's columns
   * instead: correct, at the cost of those extra queries. @default false
   */
  readonly supportsRelationFilters: boolean;
  /**
   * `DataSession.upsert` takes its `given` argument (the columns a partial save changes on an existing row)
   * and writes the merge in one atomic statement. Without it, the repository saves a partial entity as an
   * `update` of the given columns, then an `insert` when no row had the key, and when that insert finds
   * the key taken (a concurrent save inserted it between the two), the `update` once more: the same
   * result, in up to three statements instead of one. @default false
   */
  readonly supportsPartialUpsert: boolean;
}

/** The default capability flags: a backend states only what it adds. */
export const DEFAULT_CAPABILITIES: BackendCapabilities = Object.freeze({
  supportsSavepoints: false,
  supportsTransactionalDdl: false,
  supportsMultipleConnections: false,
  supportsSql: false,
  persistent: false,
  supportsRelationFilters: false,
  supportsPartialUpsert: false,
});
