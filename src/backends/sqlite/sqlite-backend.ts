/**
 * The SQLite backend: the shared {@link SqlBackend} skeleton on the SQLite dialect and driver. What SQLite
 * does differently lives beside this file: sqlite-dialect.ts (SQL text, types, DDL), sqlite-introspector.ts
 * (the catalog), sqlite-driver.ts (connections, the writer queue, busy waits), sqlite-connection.ts
 * (better-sqlite3 connections and their prepared statements), sqlite-streamer.ts (streamed walks),
 * sqlite-errors.ts.
 */
import type { Backend, BackendContext } from "../../spi/index.js";
import { SqlBackend } from "../sql/sql-backend.js";
import { autoCreateStatements } from "../sql/sql-table-statements.js";
import { sqliteDialect } from "./sqlite-dialect.js";
import { SqliteDriver } from "./sqlite-driver.js";

/** The factory registered as `sqlite`. */
export async function createSqliteBackend(context: BackendContext): Promise<Backend> {
  const createTables = context.config.autoCreate ? autoCreateStatements(sqliteDialect, context.schemas) : [];
  return new SqlBackend(sqliteDialect, SqliteDriver.open(context, createTables), context.schemas);
}
