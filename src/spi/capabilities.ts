/**
 * What a backend can do. The repository, the transaction manager and the migration runner branch on
 * these flags, never on the backend's class.
 */
/** What a backend can do; the repository, transaction manager and migration runner branch on these. */
export interface BackendCapabilities {
  /** Nested transactions are savepoints. */
  readonly supportsSavepoints: boolean;
  /** Schema changes roll back with the transaction. */
  readonly supportsTransactionalDdl: boolean;
  /** Several processes may open the same data at once. */
  readonly supportsMultipleConnections: boolean;
  /** `sql()` is available in migrations. */
  readonly supportsSql: boolean;
  /** Data outlives the storage: a second storage on the same URL sees it. */
  readonly persistent: boolean;
}

/** The default capability flags: a backend states only what it adds. */
export const DEFAULT_CAPABILITIES: BackendCapabilities = {
  supportsSavepoints: false,
  supportsTransactionalDdl: false,
  supportsMultipleConnections: false,
  supportsSql: false,
  persistent: false,
};
