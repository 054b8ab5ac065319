/**
 * The SQLSTATE table of the PostgreSQL error mapping, for failures that cannot be caused on a shared test
 * server (disk full, a crash shutdown, a broken socket). Those that can are caused for real in
 * postgres-backend.test.ts and test/faults/postgres-connection-loss.test.ts.
 */
import "reflect-metadata";
import { describe, expect, test } from "vitest";
import { mapPostgresError } from "../../src/backends/postgres/postgres-errors.js";
import { CapacityError, ConnectionError, readEntitySchema, StorageError, TransactionError, ValidationError } from "../../src/index.js";
import { Account, Thing } from "../fixtures/sql-entities.js";

const server = { host: "db.example", port: 5432, database: "app" };
const things = readEntitySchema(Thing);
const accounts = readEntitySchema(Account);

/** A pg error as the driver builds it from the server's ErrorResponse. */
function pgError(code: string, message: string, fields: Record<string, string> = {}): Error {
  return Object.assign(new Error(message), { code, ...fields });
}

describe("postgres: errors by SQLSTATE", () => {
  test.each([
    ["53100", "could not extend file \"base/16384/16385\": No space left on device"],
    ["53200", "out of memory"],
    ["53400", "configuration limit exceeded"],
  ])("%s is a CapacityError naming the table, with the driver error as cause", (code, message) => {
    const driver = pgError(code, message);
    const error = mapPostgresError(driver, things, server);
    expect(error).toBeInstanceOf(CapacityError);
    expect(error).toMatchObject({ code: "STRATA_CAPACITY", table: "sql_things", cause: driver });
    expect((error as Error).message).toContain(message);
  });

  test.each([
    ["57P01", "terminating connection due to administrator command", /was lost/],
    ["57P02", "terminating connection due to crash of another server process", /was lost/],
    ["08006", "connection failure", /was lost/],
    ["57P03", "the database system is starting up", /Could not connect/],
    ["53300", "sorry, too many clients already", /Could not connect/],
    ["ECONNRESET", "read ECONNRESET", /was lost/],
  ])("%s is a ConnectionError", (code, message, words) => {
    const error = mapPostgresError(pgError(code, message), things, server);
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as Error).message).toMatch(words);
    expect((error as Error).message).toContain("db.example:5432");
  });

  test("25P03 (idle_in_transaction_session_timeout) is a TransactionError saying so", () => {
    const error = mapPostgresError(pgError("25P03", "terminating connection due to idle-in-transaction timeout"), undefined, server);
    expect(error).toBeInstanceOf(TransactionError);
    expect((error as Error).message).toContain("idle_in_transaction_session_timeout");
  });

  test("54000 names the field from the index PostgreSQL names, else the one indexed text column", () => {
    const named = mapPostgresError(
      pgError("54000", 'index row size 3256 exceeds btree version 4 maximum 2704 for index "sql_accounts_email"', { constraint: "sql_accounts_email" }),
      accounts,
      server,
    );
    expect(named).toMatchObject({ code: "STRATA_CAPACITY", table: "sql_accounts", field: "email" });
    const unnamed = mapPostgresError(pgError("54000", "index row requires 10485768 bytes, maximum size is 8191"), things, server);
    expect(unnamed).toMatchObject({ code: "STRATA_CAPACITY", table: "sql_things", field: "id" });
  });

  test("22xxx is a ValidationError naming the field when one column has the type PostgreSQL names", () => {
    const json = mapPostgresError(pgError("22P02", "invalid input syntax for type json", { detail: 'Token "x" is invalid.' }), things, server);
    expect(json).toBeInstanceOf(ValidationError);
    expect(json).toMatchObject({ table: "sql_things", field: "data" });
    expect((json as Error).message).toContain('Token "x" is invalid.');
    // Account has several integer columns: the message lists them, no field is guessed.
    const integer = mapPostgresError(pgError("22003", 'value "99999999999999999999" is out of range for type bigint'), accounts, server);
    expect(integer).toBeInstanceOf(ValidationError);
    expect((integer as ValidationError).field).toBeUndefined();
    expect((integer as Error).message).toMatch(/one of .*balance/);
  });

  test("an unknown SQLSTATE stays a StorageError naming the table", () => {
    const error = mapPostgresError(pgError("XX000", "internal error"), things, server);
    expect(error).toBeInstanceOf(StorageError);
    expect(error).toMatchObject({ code: "STRATA_STORAGE", table: "sql_things" });
  });
});
