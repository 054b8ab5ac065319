/** A SQL transaction as the SPI's {@link TransactionHandle}: a session on the transaction's connection. */
import type { SchemaEditor, TransactionHandle } from "../../spi/index.js";
import { forwardSession } from "../../spi/forward-session.js";
import { TransactionError } from "../../errors.js";
import { quoteIdentifier } from "./sql-dialect.js";
import type { SqlRunner, WriteGate } from "./sql-runner.js";
import type { SqlSession } from "./sql-session.js";

/** The connection a driver holds for one transaction, from its `BEGIN` to its end. */
export interface SqlTransactionConnection {
  /** Runs the transaction's reads, and its schema editor's statements. */
  readonly runner: SqlRunner;
  /** Runs its writes (checking first, where the database may end a transaction on its own, that it has not). */
  readonly writes: WriteGate;
  /** Runs a statement without results; resolves to the server's command tag where the driver reports one. */
  exec(sql: string): Promise<string | void>;
  /** Gives the connection back (to the pool, or the writer queue); `broken` when it is unusable. */
  finish(broken: boolean): void;
  /** Maps a driver error of a transaction statement. */
  mapError(error: unknown): unknown;
}

/**
 * The handle of a begun transaction: `session` runs its reads and writes (refused once it has ended),
 * `connection` its savepoints and end, `makeEditor` its schema editor (migrations), made on first use.
 */
export function sqlTransaction(session: SqlSession, connection: SqlTransactionConnection, makeEditor?: () => SchemaEditor): TransactionHandle {
  let done = false;
  let editor: SchemaEditor | undefined;
  const open = (): SqlSession => {
    if (done) throw new TransactionError("The transaction has already ended");
    return session;
  };
  const exec = async (sql: string): Promise<string | void> => {
    open();
    try {
      return await connection.exec(sql);
    } catch (error) {
      throw connection.mapError(error);
    }
  };
  return {
    // No method needs more than the check in open(): every call goes straight to the session.
    ...forwardSession(open, (call) => call(), []),

    schema(): SchemaEditor {
      open();
      if (!makeEditor) throw new TransactionError("This transaction has no schema editor");
      return (editor ??= makeEditor());
    },

    async savepoint(name: string): Promise<void> {
      await exec(`SAVEPOINT ${quoteIdentifier(name)}`);
    },
    async rollbackToSavepoint(name: string): Promise<void> {
      await exec(`ROLLBACK TO SAVEPOINT ${quoteIdentifier(name)}`);
    },
    async releaseSavepoint(name: string): Promise<void> {
      await exec(`RELEASE SAVEPOINT ${quoteIdentifier(name)}`);
    },

    /** Commits; on failure the transaction stays open so that the caller's rollback can end it. */
    async commit(): Promise<void> {
      const tag = await exec("COMMIT");
      done = true;
      connection.finish(false);
      // PostgreSQL answers COMMIT of a transaction aborted by an earlier failed statement (one the callback
      // caught) with the tag ROLLBACK and no error: every write is gone, and the caller must hear it.
      if (tag === "ROLLBACK") {
        throw new TransactionError(
          "The transaction was rolled back, not committed: a statement inside it failed (and was caught), which aborts a PostgreSQL transaction. Put a write that may fail in a nested storage.transaction() (a savepoint)",
        );
      }
    },

    async rollback(): Promise<void> {
      if (done) return;
      done = true;
      let broken = false;
      try {
        await connection.exec("ROLLBACK");
      } catch {
        // The connection lost the transaction (e.g. it failed to commit): it is unusable for the next one.
        broken = true;
      } finally {
        connection.finish(broken);
      }
    },
  };
}
