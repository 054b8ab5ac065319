/**
 * The cache of one table: entity reads through L1 -> L2 -> backend with single flight, cached queries
 * keyed by the table's generation, and the invalidation of both. Everything per call is decided here at
 * construction time (the key prefix, the copier, the codec), so that an L1 hit costs a map lookup and a copy.
 */
import type { DataSession, Key } from "../spi/index.js";
import type { NormalizedQuery, NormalizedWhere } from "../query/query.js";
import { tablesRead } from "../query/tables-read.js";
import type { EntitySchema, Row } from "../schema/entity-schema.js";
import { makeRowCopier } from "../schema/row-values.js";
import { TableKeys } from "./keys.js";
import type { L1Cache, L1Value } from "./l1/l1-cache.js";
import { ABSENT } from "./l1/l1-cache.js";
import type { RemoteTier } from "./l2/remote-tier.js";

/**
 * What a table cache uses of L1: lookups (counted), fills and drops. `L1Cache` is one; the members are
 * called directly on it, so that narrowing the type costs an L1 hit nothing.
 */
export type TableCacheL1 = Pick<L1Cache, "get" | "set" | "delete">;

/** What a table cache uses of L2: reads and guarded fills. `RemoteTier` is one; invalidation is the manager's. */
export type TableCacheL2 = Pick<RemoteTier, "read" | "write">;

/**
 * What a table cache reads through: the tiers, what its keys are built from, and the backend reads that
 * fill a miss. The storage's `CacheManager` is one; a test can hand a table cache a plain object.
 */
export interface TableCacheContext {
  /** L1 itself: invalidations drop its entries even while it is not trusted. */
  readonly l1: TableCacheL1 | undefined;
  /**
   * L1 while it may be served from and filled: `undefined` while the invalidation bus is down on shared
   * data, since another process's commit could then go unheard. Read on every lookup.
   */
  readonly trustedL1: TableCacheL1 | undefined;
  /** The second tier, when configured: read on a miss of L1, filled after a read of the backend. */
  readonly l2: TableCacheL2 | undefined;
  /** The migrations applied when the storage opened, hashed (see `TableKeys.rebuild`). */
  readonly appliedMark: string;
  /** Bumped by each migration this process applies or reverts; read on every lookup. */
  readonly schemaVersion: number;
  /** Called by a table cache that saw `schemaVersion` move: nothing cached under the old schema is served. */
  schemaChanged(): void;
  /** Where a miss is read from. */
  readonly loader: Pick<DataSession, "findById" | "findByIds">;
  /**
   * The write generation of another table (see {@link TableCache.generation}): a cached query that
   * reads it (a relation filter) is keyed by it too, so that a write there makes the entry unreachable.
   */
  generationOf(schema: EntitySchema): number;
}

/** A backend read in progress, shared by every concurrent miss of its key. */
interface Flight<V> {
  promise: Promise<V>;
  /** Set when the key is invalidated while the read runs: its result must then not enter the cache. */
  stale: boolean;
}

/** Rows in L2 are JSON arrays in column order, with datetimes as epoch ms; `decode` gives undefined for an entry of another shape. */
function makeRowCodec(schema: EntitySchema): { encode(row: Row): string; decode(text: string): Row | undefined } {
  const properties = schema.columns.map((c) => c.property);
  const isDate = schema.columns.map((c) => c.type === "datetime");
  return {
    encode(row) {
      const values = new Array<unknown>(properties.length);
      for (let i = 0; i < properties.length; i++) {
        const v = row[properties[i]!];
        values[i] = isDate[i] && v instanceof Date ? v.getTime() : v;
      }
      return JSON.stringify(values);
    },
    decode(text) {
      let values: unknown;
      try {
        values = JSON.parse(text);
      } catch {
        // A damaged entry (or one some other program wrote under our prefix) is a miss, as a failing tier is:
        // the backend answers, and a cache never fails a read.
        return undefined;
      }
      // Keys carry a hash of the shape, so this is a second line of defence: never hand out a misaligned row.
      if (!Array.isArray(values) || values.length !== properties.length) return undefined;
      const row: Row = {};
      for (let i = 0; i < properties.length; i++) {
        const v = values[i] ?? null;
        row[properties[i]!] = isDate[i] && typeof v === "number" ? new Date(v) : v;
      }
      return row;
    },
  };
}

export class TableCache {
  readonly schema: EntitySchema;
  /** Copies a cached row out to the caller as an entity. */
  readonly copyOut: (row: Row) => object;
  private readonly codec: { encode(row: Row): string; decode(text: string): Row | undefined };
  private readonly keys: TableKeys;
  /** Bumped by a bulk write: every entity key of the table changes at once. */
  private epoch = 0;
  /** Bumped by every write to the table: every cached query of the table changes at once. */
  private writes = 0;
  private schemaVersion = -1;

  /** Bumped by every write to the table (see {@link TableCache.query}'s `dependsOn`). */
  get generation(): number {
    return this.writes;
  }
  private readonly entityFlights = new Map<string, Flight<Row | null>>();
  private readonly queryFlights = new Map<string, Flight<readonly Row[] | number>>();

  constructor(
    private readonly context: TableCacheContext,
    schema: EntitySchema,
  ) {
    this.schema = schema;
    this.copyOut = makeRowCopier(schema, schema.target.prototype as object);
    this.codec = makeRowCodec(schema);
    this.keys = new TableKeys(schema);
    this.rebuildKeys();
  }

  private rebuildKeys(): void {
    this.schemaVersion = this.context.schemaVersion;
    this.keys.rebuild(this.context.appliedMark, this.schemaVersion, this.epoch, this.writes);
  }

  /** The table's name as L2 keys hold it. */
  get l2Table(): string {
    return this.keys.table;
  }

  /** The key space of this table's L2 entries (see `TableKeys.space`), as announced with a write. */
  get l2Space(): string {
    return this.keys.space;
  }

  /** A migration changed the schema: keys move to the new version (the context has cleared L1). */
  checkSchemaVersion(): void {
    if (this.context.schemaVersion !== this.schemaVersion) {
      this.context.schemaChanged();
      this.rebuildKeys();
    }
  }

  /**
   * The entity with primary key `key`, from L1, else L2, else the backend (one read per key at a time).
   * Not `async`: an L1 hit resolves one promise made here, where an async function (and the one awaiting
   * it) would make and chain more, which cost a hit as much as its lookup.
   */
  findById(key: Key): Promise<object | null> {
    if (this.context.schemaVersion !== this.schemaVersion) this.checkSchemaVersion();
    const l1Key = this.keys.entity(key);
    const l1 = this.context.trustedL1;
    if (l1) {
      const hit = l1.get(l1Key);
      if (hit !== undefined) return Promise.resolve(hit === ABSENT ? null : this.copyOut(hit as Row));
    }
    return this.readThrough(l1Key, key);
  }

  /** An L1 miss of `findById`: joins the read of the key in flight, else starts one. */
  private async readThrough(l1Key: string, key: Key): Promise<object | null> {
    const row = await (this.entityFlights.get(l1Key) ?? this.startEntityFlight(l1Key, key)).promise;
    return row === null ? null : this.copyOut(row);
  }

  /** The entities found for `keys` (distinct), keyed by id; misses go to the backend in one read. */
  async findByIds(keys: readonly Key[]): Promise<Map<Key, Row>> {
    this.checkSchemaVersion();
    const l1 = this.context.trustedL1;
    const found = new Map<Key, Row>();
    const waits: Array<Promise<void>> = [];
    const missing: Key[] = [];
    for (const key of keys) {
      const l1Key = this.keys.entity(key);
      const hit = l1?.get(l1Key);
      if (hit !== undefined) {
        if (hit !== ABSENT) found.set(key, hit as Row);
        continue;
      }
      const flight = this.entityFlights.get(l1Key);
      if (flight) waits.push(flight.promise.then((row) => void (row && found.set(key, row))));
      else missing.push(key);
    }
    if (missing.length > 0) waits.push(this.readMissing(missing, found));
    await Promise.all(waits);
    return found;
  }

  /** Reads keys nobody is reading: from L2 one by one (each promoted), the rest from the backend in one batch. */
  private async readMissing(keys: readonly Key[], found: Map<Key, Row>): Promise<void> {
    const flights = new Map<Key, Flight<Row | null> & { resolve(row: Row | null): void; reject(error: unknown): void; l1Key: string }>();
    for (const key of keys) {
      const l1Key = this.keys.entity(key);
      let resolve!: (row: Row | null) => void;
      let reject!: (error: unknown) => void;
      const promise = new Promise<Row | null>((res, rej) => ((resolve = res), (reject = rej)));
      promise.catch(() => {});
      const flight = { promise, stale: false, resolve, reject, l1Key };
      this.entityFlights.set(l1Key, flight);
      flights.set(key, flight);
    }
    try {
      const l2 = this.context.l2;
      const guards = new Map<Key, unknown>();
      let toBackend: Key[] = [...keys];
      if (l2) {
        toBackend = [];
        const reads = await Promise.all(keys.map((key) => l2.read(this.keys.l2Entity(key))));
        keys.forEach((key, i) => {
          const read = reads[i]!;
          const row = read.value === undefined ? undefined : this.codec.decode(read.value);
          if (row === undefined) {
            toBackend.push(key);
            guards.set(key, read.guard);
            return;
          }
          const flight = flights.get(key)!;
          if (!flight.stale) this.context.trustedL1?.set(flight.l1Key, row);
          found.set(key, row);
          flight.resolve(row);
        });
      }
      if (toBackend.length > 0) {
        const rows = await this.context.loader.findByIds(this.schema, toBackend);
        const byKey = new Map(rows.map((r) => [r[this.schema.primary.property] as Key, r]));
        for (const key of toBackend) {
          const row = byKey.get(key) ?? null;
          const flight = flights.get(key)!;
          if (!flight.stale) this.fill(flight.l1Key, key, row, guards.get(key));
          if (row) found.set(key, row);
          flight.resolve(row);
        }
      }
    } catch (error) {
      for (const flight of flights.values()) flight.reject(error);
      throw error;
    } finally {
      for (const flight of flights.values()) if (this.entityFlights.get(flight.l1Key) === flight) this.entityFlights.delete(flight.l1Key);
    }
  }

  private startEntityFlight(l1Key: string, key: Key): Flight<Row | null> {
    const flight: Flight<Row | null> = { promise: undefined as unknown as Promise<Row | null>, stale: false };
    this.entityFlights.set(l1Key, flight);
    flight.promise = this.readEntity(flight, l1Key, key).finally(() => {
      if (this.entityFlights.get(l1Key) === flight) this.entityFlights.delete(l1Key);
    });
    return flight;
  }

  private async readEntity(flight: Flight<Row | null>, l1Key: string, key: Key): Promise<Row | null> {
    const l2 = this.context.l2;
    let guard: unknown;
    if (l2) {
      const read = await l2.read(this.keys.l2Entity(key));
      const cached = read.value === undefined ? undefined : this.codec.decode(read.value);
      if (cached !== undefined) {
        if (!flight.stale) this.context.trustedL1?.set(l1Key, cached);
        return cached;
      }
      guard = read.guard;
    }
    const row = await this.context.loader.findById(this.schema, key);
    // Re-check after the read: a write that committed meanwhile marked this flight stale, and the row we
    // hold may predate it; the caller may still have it (its read began before the write), the cache not.
    if (!flight.stale) this.fill(l1Key, key, row, guard);
    return row;
  }

  private fill(l1Key: string, key: Key, row: Row | null, guard: unknown): void {
    this.context.trustedL1?.set(l1Key, row ?? ABSENT);
    // Absent rows are remembered in L1 only: L2 is shared, and a miss there is as cheap as a stored miss.
    if (row !== null && this.context.l2) void this.context.l2.write(this.keys.l2Entity(key), this.codec.encode(row), guard);
  }

  /**
   * A cached query: `findAll`/`findOne` rows or a `count`, under a key made of the normalized query and
   * the table's generation, so that any write to the table makes every older entry unreachable. L1 only.
   * Rows are handed out through `copy` (default: {@link TableCache.copyOut}, entities); a projection passes
   * its own, which must share nothing with the cached row (`makeProjectionCopier`). Its key holds the
   * projection's columns, so it never meets the entry of the same query with other columns.
   *
   * `dependsOn`: the other tables the query read besides those of its where's relation filters (an
   * `include`'s related and join tables, and those its relations' wheres read). Their generations are part
   * of the key too, so a write to any of them makes the entry unreachable, as a write to this table does.
   */
  async query(
    kind: "rows",
    query: unknown,
    ttlMs: number | undefined,
    load: () => Promise<Row[]>,
    copy?: (row: Row) => object,
    dependsOn?: readonly EntitySchema[],
  ): Promise<object[]>;
  async query(kind: "count", where: NormalizedWhere, ttlMs: number | undefined, load: () => Promise<number>): Promise<number>;
  async query(
    kind: "rows" | "count",
    query: unknown,
    ttlMs: number | undefined,
    load: () => Promise<Row[] | number>,
    copy: (row: Row) => object = this.copyOut,
    dependsOn: readonly EntitySchema[] = [],
  ): Promise<object[] | number> {
    this.checkSchemaVersion();
    const l1 = this.context.trustedL1;
    if (!l1) return this.copyResult(await load(), copy);
    const where = kind === "rows" ? (query as NormalizedQuery).where : (query as NormalizedWhere);
    const l1Key = this.keys.query(kind, query, this.relatedGenerations(where, dependsOn));
    const hit = l1.get(l1Key) as readonly Row[] | number | undefined;
    if (hit !== undefined) return this.copyResult(hit, copy);
    let flight = this.queryFlights.get(l1Key);
    if (!flight) {
      const started: Flight<readonly Row[] | number> = { promise: undefined as unknown as Promise<Row[] | number>, stale: false };
      started.promise = load()
        .then((result) => {
          if (!started.stale) l1.set(l1Key, result as L1Value, ttlMs);
          return result;
        })
        .finally(() => {
          if (this.queryFlights.get(l1Key) === started) this.queryFlights.delete(l1Key);
        });
      this.queryFlights.set(l1Key, started);
      flight = started;
    }
    return this.copyResult(await flight.promise, copy);
  }

  /**
   * The generations of the other tables `where` reads and of `also` (`|r:<table>:<generation>,...`), or ""
   * when there are none: a write to one of them moves the key, as a write to this table moves the prefix. A
   * read that was in flight during such a write fills the old key, which no later lookup reaches.
   */
  private relatedGenerations(where: NormalizedWhere, also: readonly EntitySchema[]): string {
    const read = tablesRead(where);
    if (read.length === 0 && also.length === 0) return "";
    const tables = new Map<string, EntitySchema>();
    for (const t of [...read, ...also]) tables.set(t.table, t);
    return `|r:${[...tables.values()].map((t) => `${encodeURIComponent(t.table)}:${this.context.generationOf(t)}`).join(",")}`;
  }

  private copyResult(result: readonly Row[] | number, copy: (row: Row) => object): object[] | number {
    return typeof result === "number" ? result : result.map(copy);
  }

  /**
   * Forgets what a committed write changed: the keys given (or, for `"all"`, every entity of the table)
   * and every cached query of the table. Reads in flight for those keys finish but fill nothing.
   * Returns the L2 keys to drop (or `true` for the whole table).
   */
  invalidate(keys: Iterable<Key> | "all"): string[] | true {
    this.checkSchemaVersion();
    this.writes++;
    for (const flight of this.queryFlights.values()) flight.stale = true;
    this.queryFlights.clear();
    if (keys === "all") {
      this.epoch++;
      for (const flight of this.entityFlights.values()) flight.stale = true;
      this.entityFlights.clear();
      this.rebuildKeys();
      return true;
    }
    this.rebuildKeys();
    const l2Keys: string[] = [];
    const l1 = this.context.l1;
    for (const key of keys) {
      const l1Key = this.keys.entity(key);
      l1?.delete(l1Key);
      const flight = this.entityFlights.get(l1Key);
      if (flight) {
        flight.stale = true;
        this.entityFlights.delete(l1Key);
      }
      l2Keys.push(this.keys.l2Entity(key));
    }
    return l2Keys;
  }

  /** Forgets everything in flight (after `clear()` or a schema change). */
  abandonFlights(): void {
    for (const flight of this.entityFlights.values()) flight.stale = true;
    for (const flight of this.queryFlights.values()) flight.stale = true;
    this.entityFlights.clear();
    this.queryFlights.clear();
    this.writes++;
    this.rebuildKeys();
  }
}
