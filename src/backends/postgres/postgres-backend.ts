/**
 * The PostgreSQL backend: the shared {@link SqlBackend} skeleton on the PostgreSQL dialect and driver. What
 * PostgreSQL does differently lives beside this file: postgres-dialect.ts (SQL text, types, DDL),
 * postgres-introspector.ts (the catalog), postgres-driver.ts (the pool, transactions, COMMIT in doubt),
 * postgres-connection.ts (pg clients and prepared statements), postgres-errors.ts,
 * postgres-migration-lock.ts (an advisory lock across processes), and with `postgres.replicas`
 * postgres-replica-router.ts (reads on replicas, failover) and postgres-commit-positions.ts (read-your-writes).
 */
import type { Backend, BackendContext } from "../../spi/index.js";
import { SqlBackend } from "../sql/sql-backend.js";
import { autoCreateStatements } from "../sql/sql-table-statements.js";
import { postgresDialect } from "./postgres-dialect.js";
import { PostgresDriver } from "./postgres-driver.js";

/** The factory registered as `postgres` (URLs `postgres://` and `postgresql://`). */
export async function createPostgresBackend(context: BackendContext): Promise<Backend> {
  const createTables = context.config.autoCreate ? autoCreateStatements(postgresDialect, context.schemas) : [];
  return new SqlBackend(postgresDialect, await PostgresDriver.open(context, createTables), context.schemas);
}
