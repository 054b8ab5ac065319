/**
 * A {@link DataSession} whose every call is measured and reported by an {@link OperationMeasurer}: what the
 * repository calls instead of the backend's session while someone observes (`QueryObserver.observe`). Each method names its
 * operation and how its result counts as rows (query-event.ts).
 */
import type { DataSession, Key, SqlResult, UpdateOutcome, UpsertManyOptions } from "../spi/index.js";
import type { NormalizedQuery, NormalizedWhere } from "../query/query.js";
import type { EntitySchema, Row } from "../schema/entity-schema.js";
import type { OperationTrace } from "./operation-trace.js";
import { traceOperation } from "./operation-trace.js";
import type { QueryOperation } from "./query-event.js";

/** What measures an operation: the storage's `QueryObserver` (query-observer.ts). */
export interface OperationMeasurer {
  /**
   * Runs `call` as one `operation` on `table` and reports it, its rows counted by `rowsOf` (undefined: not
   * reported); `carried` is what was traced before the call that belongs to it.
   */
  measure<R>(
    operation: QueryOperation,
    table: string | undefined,
    inTransaction: boolean,
    rowsOf: (result: R) => number | undefined,
    call: () => Promise<R>,
    carried?: OperationTrace,
  ): Promise<R>;
}

const one = (): number => 1;
const length = (rows: readonly unknown[]): number => rows.length;
const itself = (n: number): number => n;

export class ObservedSession implements DataSession {
  readonly stream?: DataSession["stream"];
  readonly sql?: DataSession["sql"];
  readonly search?: DataSession["search"];

  constructor(
    private readonly target: DataSession,
    private readonly observer: OperationMeasurer,
    private readonly inTransaction: boolean,
  ) {
    // Only what the target has: a missing `stream` or `sql` means something to the caller.
    if (target.stream) this.stream = (schema, query, pageSize) => this.observedStream(schema, query, pageSize);
    if (target.search) {
      this.search = (schema, request) => this.observer.measure("search", schema.table, this.inTransaction, length, () => this.target.search!(schema, request));
    }
    if (target.sql) {
      this.sql = (strings, values) =>
        this.observer.measure("sql", undefined, this.inTransaction, (result: SqlResult) => result.rows.length, () => this.target.sql!(strings, values));
    }
  }

  findById(schema: EntitySchema, key: Key): Promise<Row | null> {
    return this.observer.measure("findById", schema.table, this.inTransaction, (row: Row | null) => (row === null ? 0 : 1), () => this.target.findById(schema, key));
  }

  findByIds(schema: EntitySchema, keys: readonly Key[]): Promise<Row[]> {
    return this.observer.measure("findByIds", schema.table, this.inTransaction, length, () => this.target.findByIds(schema, keys));
  }

  find(schema: EntitySchema, query: NormalizedQuery): Promise<Row[]> {
    return this.observer.measure("find", schema.table, this.inTransaction, length, () => this.target.find(schema, query));
  }

  count(schema: EntitySchema, where: NormalizedWhere): Promise<number> {
    return this.observer.measure("count", schema.table, this.inTransaction, itself, () => this.target.count(schema, where));
  }

  insert(schema: EntitySchema, row: Row): Promise<Row> {
    return this.observer.measure("insert", schema.table, this.inTransaction, one, () => this.target.insert(schema, row));
  }

  upsert(schema: EntitySchema, row: Row, expectedVersion?: number, given?: readonly string[]): Promise<Row | "conflict"> {
    return this.observer.measure(
      "upsert",
      schema.table,
      this.inTransaction,
      (result: Row | "conflict") => (result === "conflict" ? 0 : 1),
      () => this.target.upsert(schema, row, expectedVersion, given),
    );
  }

  upsertMany(schema: EntitySchema, rows: readonly Row[], options?: UpsertManyOptions): Promise<Row[]> {
    return this.observer.measure("upsertMany", schema.table, this.inTransaction, () => rows.length, () => this.target.upsertMany(schema, rows, options));
  }

  update(schema: EntitySchema, key: Key, changes: Row, expectedVersion?: number): Promise<UpdateOutcome> {
    return this.observer.measure(
      "update",
      schema.table,
      this.inTransaction,
      (outcome: UpdateOutcome) => (typeof outcome === "object" ? 1 : 0),
      () => this.target.update(schema, key, changes, expectedVersion),
    );
  }

  delete(schema: EntitySchema, key: Key): Promise<boolean> {
    return this.observer.measure("delete", schema.table, this.inTransaction, (deleted: boolean) => (deleted ? 1 : 0), () => this.target.delete(schema, key));
  }

  deleteMany(schema: EntitySchema, where: NormalizedWhere): Promise<number> {
    return this.observer.measure("deleteMany", schema.table, this.inTransaction, itself, () => this.target.deleteMany(schema, where));
  }

  /**
   * The target's stream, each page reported as a `stream` event when it is pulled. The engine's plan, chosen
   * when the stream opens, goes with the first page; what a SQL backend ran to decide whether to stream (an
   * EXPLAIN of the select) does not, so that the first page's `sql` is the select it streams. A stream the
   * backend declines (undefined: the repository walks by keyset, each page a `find`) reports nothing itself.
   */
  private async observedStream(schema: EntitySchema, query: NormalizedQuery, pageSize: number): Promise<AsyncIterable<Row[]> | undefined> {
    const decided: OperationTrace = { statements: [], plans: [] };
    const pages = await traceOperation(decided, () => this.target.stream!(schema, query, pageSize));
    if (!pages) return undefined;
    let opening: OperationTrace | undefined = { statements: [], plans: decided.plans };
    const observer = this.observer;
    const table = schema.table;
    return {
      [Symbol.asyncIterator]: () => {
        const iterator = pages[Symbol.asyncIterator]();
        const observed: AsyncIterator<Row[]> = {
          next: () => {
            const carried = opening;
            opening = undefined;
            return observer.measure("stream", table, false, (page: IteratorResult<Row[]>) => (page.done ? undefined : page.value.length), () => iterator.next(), carried);
          },
        };
        if (iterator.return) observed.return = (value?: unknown) => iterator.return!(value);
        if (iterator.throw) observed.throw = (error?: unknown) => iterator.throw!(error);
        return observed;
      },
    };
  }
}
