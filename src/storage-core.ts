/** What a storage's repositories share: the backend, the entity schemas and the transaction manager. */
import type { Backend } from "./spi/index.js";
import type { CacheManager } from "./cache/cache-manager.js";
import type { ResolvedConfig } from "./config/storage-config.js";
import { ConfigError } from "./errors.js";
import type { EntitySchema } from "./schema/entity-schema.js";
import type { TransactionManager } from "./transaction/transaction-manager.js";

export class StorageCore {
  /**
   * Bumped by the migration runner each time it applies or reverts a migration; cache keys include it,
   * so no entry shaped by an older schema is ever served.
   */
  schemaVersion = 0;

  /** The entity and query cache, when on; set by `createStorage` once the backend is open. */
  cache: CacheManager | undefined = undefined;

  constructor(
    readonly config: ResolvedConfig,
    readonly backend: Backend,
    readonly schemas: ReadonlyMap<Function, EntitySchema>,
    readonly transactions: TransactionManager,
  ) {}

  /**
   * The schema of `tables` changed (a migration, a copy): no cache entry shaped by the old schema may be
   * served again, so the version bumps (every key changes) and each table's entries are dropped.
   */
  schemaChanged(tables: Iterable<string>): void {
    this.schemaVersion++;
    for (const table of tables) this.transactions.noteWrite(table);
  }

  /** The schema of an entity this storage serves; a {@link ConfigError} for any other class. */
  schemaOf(entity: Function): EntitySchema {
    const schema = this.schemas.get(entity);
    if (!schema) {
      const name = typeof entity === "function" ? entity.name : String(entity);
      throw new ConfigError([`entities: ${name || "this class"} is not among this storage's entities; add it to the entities of createStorage`]);
    }
    return schema;
  }
}
