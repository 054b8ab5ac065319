/**
 * The in-memory table engine shared by the memory and file backends: tables with ordered indexes (see
 * ordered-index.ts) chosen per query by the planner (query-plan.ts), compiled predicates and orderings,
 * and write sets that keep a transaction's changes private until commit. Everything here is synchronous;
 * the backends add locking and persistence around it.
 *
 * Foreign keys (each table schema's `foreignKeys`) are enforced by the write sets, so alike in memory and in
 * files, inside transactions or not: a written row's foreign key must name a row of the referenced table (as
 * the write set sees it) or be null, and deleting a referenced row restricts, cascades or sets null as the
 * key's `onDelete` says, level after level. A table with no foreign keys, that no foreign key references,
 * pays one length check per write and one map lookup per delete.
 */
import { IntegrityError, SchemaError, TransactionError } from "../errors.js";
import type { Key, UpdateOutcome } from "../spi/index.js";
import type { Condition, NormalizedQuery, NormalizedWhere, OrderTerm, WhereTerm } from "../query/query.js";
import { isRelationCondition } from "../query/query.js";
import type { ColumnSchema, EntitySchema, ForeignKeySchema, IndexSchema, Row } from "../schema/entity-schema.js";
import { buildEntitySchema } from "../schema/entity-schema.js";
import type { ReferencingKey } from "../schema/foreign-key-graph.js";
import { referencingKeys } from "../schema/foreign-key-graph.js";
import { ProjectionCache } from "../schema/projection-cache.js";
import { keyExhausted } from "../schema/row-values.js";
import { MigrationTable } from "../schema/table-schema.js";
import { comparatorFor, valueKey } from "./compare-values.js";
import type { RelatedRows, RowLookup, RowPredicate } from "./compile-query.js";
import { compileOrder, compileWhere } from "./compile-query.js";
import { compileAfter } from "./keyset.js";
import { OrderedIndex } from "./ordered-index.js";
import type { Before } from "./ordered-index.js";
import type { IndexPlan, IndexRange } from "./query-plan.js";
import { compareWithValues, planGroup } from "./query-plan.js";
import { makeHandedOutCopier, makeStoredRowCopier, storedValueOf } from "./stored-row.js";
import { smallestSorted, TopK } from "./top-k.js";
import { notePlan } from "../observe/operation-trace.js";
import { FullTextIndex } from "./full-text-index.js";
import { searchDocuments } from "./full-text-search.js";
import type { SearchHit, SearchRequest } from "../spi/index.js";

/** Top-k selection replaces the sort when the rows wanted (offset + limit) times this is below the matches. */
const TOP_K_FACTOR = 8;

/** One committed change: `row` null means deleted. */
export interface Change {
  readonly table: string;
  readonly key: Key;
  readonly row: Row | null;
}

interface UniqueIndex {
  readonly index: IndexSchema;
  /** Composite value key -> owning primary key. Rows with a null in the index are not entered (SQL semantics). */
  readonly owners: Map<string, Key>;
}

/** The composite key of a row's values in a unique index, or undefined when one is null. */
function uniqueKey(index: IndexSchema, row: Row): string | undefined {
  if (index.properties.length === 1) {
    const v = row[index.properties[0]!];
    return v === null || v === undefined ? undefined : `${typeof v}:${String(valueKey(v))}`;
  }
  const parts: string[] = [];
  for (const p of index.properties) {
    const v = row[p];
    if (v === null || v === undefined) return undefined;
    parts.push(`${typeof v}:${String(valueKey(v))}`);
  }
  return JSON.stringify(parts);
}

/** A table's committed rows and their indexes. Stored rows are never mutated, only replaced. */
export class MemoryTable {
  // Not readonly: binding an entity to a migration's table reshapes the table in place (see become), so
  // that whoever holds it (the file backend's table states) keeps a live reference.
  rows = new Map<Key, Row>();
  /** Copies a stored row for a caller: only the columns the bound entity declares (see stored-row.ts). */
  copy: (row: Row) => Row;
  /** Copies a stored row for a caller that sees every column of the table (a migration). The same function as `copy` unless there are extras. */
  copyAll: (row: Row) => Row;
  /** Copies a row for storing: every column of the table, datetimes as their time (see stored-row.ts). */
  store: (row: Row) => Row;
  /**
   * Columns a migration added that the bound entity does not declare: kept in stored rows (filled with
   * their default on insert, carried over on replace) but never handed to the entity.
   */
  extras: readonly ColumnSchema[];
  private uniques: UniqueIndex[];
  /** One ordered index per distinct column list among the declared indexes. */
  private ordered: OrderedIndex[];
  /** The inverted index of the schema's full-text index (full-text-index.ts), kept by every write like the others. */
  fullText: FullTextIndex | undefined;
  private nextId = 1;
  schema: EntitySchema;

  /** `visible`: the properties handed out, when the table holds more columns than its entity declares. */
  constructor(schema: EntitySchema, visible?: ReadonlySet<string>) {
    this.schema = schema;
    // The key first, then the columns: the order the file backend writes a row in.
    const columns = [schema.primary, ...schema.columns.filter((c) => c !== schema.primary)];
    this.store = makeStoredRowCopier(columns);
    this.extras = visible ? schema.columns.filter((c) => !visible.has(c.property)) : [];
    this.copyAll = makeHandedOutCopier(columns);
    this.copy = this.extras.length === 0 ? this.copyAll : makeHandedOutCopier(columns.filter((c) => visible!.has(c.property)));
    this.uniques = schema.indexes.filter((i) => i.unique).map((index) => ({ index, owners: new Map() }));
    this.fullText = schema.fullText ? new FullTextIndex(schema.fullText) : undefined;
    const seen = new Set<string>();
    this.ordered = [];
    for (const index of schema.indexes) {
      const columns = index.properties.map((p) => schema.columnsByProperty.get(p));
      const signature = JSON.stringify(index.properties);
      if (seen.has(signature) || columns.some((c) => c === undefined || c.type === "json")) continue;
      seen.add(signature);
      this.ordered.push(new OrderedIndex(index, columns as ColumnSchema[], schema.primary));
    }
    // Deleting a referenced row looks up the rows pointing at it by their foreign key. An entity's foreign
    // keys always have a declared index starting with them (read-relations.ts); a migration's table may not:
    // it gets one here, in memory only (it is in no schema, so no description or catalog shows it).
    for (const fk of schema.foreignKeys) {
      const column = schema.columnsByProperty.get(fk.property);
      if (!column || column.type === "json" || this.ordered.some((i) => i.columns[0]!.property === fk.property)) continue;
      this.ordered.push(new OrderedIndex({ name: `${fk.name}$lookup`, properties: [fk.property], unique: false }, [column], schema.primary));
    }
  }

  /** Stores `row` (already validated and copied) under its key, maintaining indexes. */
  put(row: Row): void {
    const key = row[this.schema.primary.property] as Key;
    const old = this.rows.get(key);
    if (old) this.unindex(key, old);
    this.rows.set(key, row);
    for (const u of this.uniques) {
      const k = uniqueKey(u.index, row);
      if (k !== undefined) u.owners.set(k, key);
    }
    for (const index of this.ordered) index.insert(row);
    this.fullText?.write(key, row);
    if (typeof key === "number" && key >= this.nextId) this.nextId = Math.floor(key) + 1;
  }

  remove(key: Key): void {
    const old = this.rows.get(key);
    if (!old) return;
    this.unindex(key, old);
    this.rows.delete(key);
  }

  /**
   * Removes the rows of `keys` (those present), as {@link remove} one by one would, but each index in one
   * go: the ordered indexes drop them in one pass over their chunks (a cascade's 10,000 children).
   */
  removeMany(keys: readonly Key[]): void {
    const old: Row[] = [];
    const oldKeys: Key[] = [];
    for (const key of keys) {
      const row = this.rows.get(key);
      if (row === undefined) continue;
      old.push(row);
      oldKeys.push(key);
      this.rows.delete(key);
    }
    for (const u of this.uniques) {
      for (let i = 0; i < old.length; i++) {
        const k = uniqueKey(u.index, old[i]!);
        if (k !== undefined && u.owners.get(k) === oldKeys[i]) u.owners.delete(k);
      }
    }
    for (const index of this.ordered) index.deleteMany(old);
    if (this.fullText) for (const key of oldKeys) this.fullText.erase(key);
  }

  private unindex(key: Key, row: Row): void {
    for (const u of this.uniques) {
      const k = uniqueKey(u.index, row);
      if (k !== undefined && u.owners.get(k) === key) u.owners.delete(k);
    }
    for (const index of this.ordered) index.delete(row);
    this.fullText?.erase(key);
  }

  /** The properties handed out (undefined: all). */
  get visible(): ReadonlySet<string> | undefined {
    if (this.extras.length === 0) return undefined;
    const extras = new Set(this.extras.map((c) => c.property));
    return new Set(this.schema.columns.map((c) => c.property).filter((p) => !extras.has(p)));
  }

  /** A new table with this one's rows under a changed schema; `convert` reshapes each row. */
  rebuild(schema: EntitySchema, convert?: (row: Row) => Row, visible?: ReadonlySet<string>): MemoryTable {
    const table = new MemoryTable(schema, visible);
    table.nextId = this.nextId;
    for (const row of this.rows.values()) table.put(convert ? convert(row) : row);
    return table;
  }

  /** Takes over the shape and rows of `other` (built by {@link rebuild}), keeping this object's identity. */
  become(other: MemoryTable): void {
    this.rows = other.rows;
    this.copy = other.copy;
    this.copyAll = other.copyAll;
    this.store = other.store;
    this.extras = other.extras;
    this.uniques = other.uniques;
    this.ordered = other.ordered;
    this.fullText = other.fullText;
    this.nextId = other.nextId;
    this.schema = other.schema;
  }

  /**
   * The next `increment` key. Keys are never reused, even after a rollback (as PostgreSQL sequences; SQLite's
   * AUTOINCREMENT rolls its counter back with the transaction). Past
   * Number.MAX_SAFE_INTEGER a key would no longer be exact (two rows could get one key): a CapacityError.
   */
  allocateId(): number {
    if (!Number.isSafeInteger(this.nextId)) throw keyExhausted(this.schema);
    return this.nextId++;
  }

  /** An explicit key written to an increment table: the generator must never hand it out (as SQLite and PostgreSQL do). */
  reserveId(key: Key): void {
    if (typeof key === "number" && key >= this.nextId) this.nextId = Math.floor(key) + 1;
  }

  uniqueIndexes(): readonly UniqueIndex[] {
    return this.uniques;
  }

  /** The committed row holding value key `k` in unique index number `i`. */
  uniqueOwners(i: number, k: string): Key | undefined {
    return this.uniques[i]?.owners.get(k);
  }

  /**
   * The plan of an AND-group over this table's ordered indexes (query-plan.ts), its index built if it was
   * not yet; undefined when no index narrows the group or serves `orderBy`.
   */
  plan(group: readonly WhereTerm[], orderBy: readonly OrderTerm[], wantsOrder: boolean, related?: RelatedRows): IndexPlan | undefined {
    if (this.ordered.length === 0) {
      notePlan("scan");
      return undefined;
    }
    const plan = planGroup(this.ordered, group, orderBy, wantsOrder, related);
    if (plan) {
      plan.index.build(this.rows.values());
      notePlan("index", plan.index.index.name);
    } else notePlan("scan");
    return plan;
  }

  /** The rows of `plan`'s ranges (every range, unfiltered), in index order. */
  planned(plan: IndexPlan, visit: (row: Row) => boolean, reverse = false, ranges: readonly IndexRange[] = plan.ranges): boolean {
    const index = plan.index;
    for (let r = 0; r < ranges.length; r++) {
      const range = ranges[reverse ? ranges.length - 1 - r : r]!;
      if (!index.walk(index.seek(range.lo), index.seek(range.hi), reverse, visit)) return false;
    }
    return true;
  }

  /** How many rows `plan`'s ranges hold, counted without visiting them. */
  plannedCount(plan: IndexPlan): number {
    let n = 0;
    for (const range of plan.ranges) n += plan.index.countBetween(plan.index.seek(range.lo), plan.index.seek(range.hi));
    return n;
  }

  /**
   * The committed rows that may match an AND-group: narrowed by the primary key or an index
   * when one applies (an equality or `$in` on the key; a plan's ranges), else every row.
   */
  candidates(group: readonly WhereTerm[], related?: RelatedRows): Iterable<Row> {
    const c = keyCondition(group);
    if (c) {
      notePlan("primary key");
      const values = c.op === "eq" ? [c.value] : (c.value as unknown[]);
      const out: Row[] = [];
      for (const v of values) {
        const row = this.rows.get(v as Key);
        if (row) out.push(row);
      }
      return out;
    }
    const plan = this.plan(group, [], false, related);
    if (!plan) return this.rows.values();
    const out: Row[] = [];
    this.planned(plan, (row) => {
      out.push(row);
      return true;
    });
    return out;
  }

  /**
   * The committed rows whose `column` holds a value, visited until `visit` returns false (then false is
   * returned): by key for the primary key, else a walk of the equal run of an ordered index starting with
   * the column (every foreign key has one), else, for a table without one, a scan.
   */
  equalRows(column: ColumnSchema): RowLookup {
    if (column.primary) {
      return (value, visit) => {
        const row = this.rows.get(value as Key);
        return row === undefined || visit(row);
      };
    }
    const p = column.property;
    const index = this.ordered.find((i) => i.columns[0]!.property === p);
    if (!index) {
      const compare = comparatorFor(column.type);
      return (value, visit) => {
        for (const row of this.rows.values()) {
          const v = row[p];
          if (v !== null && v !== undefined && compare(v, value) === 0 && !visit(row)) return false;
        }
        return true;
      };
    }
    const order = index.orders[0]!;
    return (value, visit) => {
      index.build(this.rows.values());
      return index.walk(index.seek((row) => order(row[p], value) < 0), index.seek((row) => order(row[p], value) <= 0), false, visit);
    };
  }
}

const NO_INCOMING: readonly ReferencingKey[] = [];

/** The tables of a database; `changed` hears of every table added, replaced or removed. */
class TableMap extends Map<string, MemoryTable> {
  constructor(private readonly changed: () => void) {
    super();
  }

  override set(name: string, table: MemoryTable): this {
    super.set(name, table);
    this.changed();
    return this;
  }

  override delete(name: string): boolean {
    const had = super.delete(name);
    this.changed();
    return had;
  }

  override clear(): void {
    super.clear();
    this.changed();
  }
}

/** All tables of one database. */
export class MemoryDatabase {
  readonly tables: Map<string, MemoryTable> = new TableMap(() => (this.incoming = undefined));
  /**
   * Referenced table -> the foreign keys pointing at it, derived from the tables' schemas when first asked
   * and dropped whenever a table is created, replaced (every schema change), dropped or rebound.
   */
  private incoming: Map<string, ReferencingKey[]> | undefined;

  /** The foreign keys (of any table, this one included) that reference the table `name`. */
  referencing(name: string): readonly ReferencingKey[] {
    this.incoming ??= referencingKeys(Array.from(this.tables.values(), (t) => t.schema));
    return this.incoming.get(name) ?? NO_INCOMING;
  }

  /** Creates the table of an entity unless it exists. */
  ensureTable(schema: EntitySchema): MemoryTable {
    if (!this.tables.has(schema.table)) this.tables.set(schema.table, new MemoryTable(schema));
    return this.table(schema);
  }

  /** The table of an entity; a {@link SchemaError} when it was never created. */
  table(schema: EntitySchema): MemoryTable {
    const table = this.tables.get(schema.table);
    if (table !== undefined && (table.schema === schema || table.schema.target === schema.target)) return table;
    return this.bind(schema, table);
  }

  /**
   * The slow path of {@link table}: an entity meets a table created or altered by a migration. The
   * table must have every column the entity declares (by column name, with the same type); its rows are
   * then re-keyed by the entity's properties, and columns the entity does not declare stay as extras.
   */
  private bind(schema: EntitySchema, table: MemoryTable | undefined): MemoryTable {
    if (!table) {
      throw new SchemaError(
        `Table "${schema.table}" of ${schema.entityName} does not exist: run the migrations that create it, or set autoCreate: true`,
        { table: schema.table },
      );
    }
    // A migration or introspection reading an entity's table by name.
    if (schema.target === MigrationTable) return table;
    if (table.schema.target !== MigrationTable) {
      throw new SchemaError(`Table "${schema.table}" is used by both ${table.schema.entityName} and ${schema.entityName}`, {
        table: schema.table,
      });
    }
    const byName = new Map(table.schema.columns.map((c) => [c.name, c]));
    for (const column of schema.columns) {
      const found = byName.get(column.name);
      if (!found) {
        throw new SchemaError(
          `Table "${schema.table}" has no column "${column.name}", which ${schema.entityName}.${column.property} declares: add it with a migration (m.addColumn)`,
          { table: schema.table, field: column.property },
        );
      }
      if (found.type !== column.type) {
        throw new SchemaError(
          `Column "${column.name}" of table "${schema.table}" holds ${found.type} values, but ${schema.entityName}.${column.property} declares ${column.type}`,
          { table: schema.table, field: column.property },
        );
      }
    }
    const declared = new Set(schema.columns.map((c) => c.name));
    const taken = new Set(schema.columns.map((c) => c.property));
    const extras = table.schema.columns.filter((c) => !declared.has(c.name)).map((c) => ({ ...c, property: taken.has(c.name) ? `${c.name}$extra` : c.name }));
    const columns = [...schema.columns, ...extras];
    const propertyOf = new Map(columns.map((c) => [c.name, c.property]));
    /** The bound schema's property for a property of the stored table (by column name). */
    const boundProperty = (stored: string): string => {
      const name = table.schema.columnsByProperty.get(stored)?.name ?? stored;
      return propertyOf.get(name) ?? name;
    };
    const indexes = [...schema.indexes];
    for (const index of table.schema.indexes) {
      if (indexes.some((i) => i.name === index.name)) continue;
      indexes.push({ ...index, properties: index.properties.map(boundProperty) });
    }
    // The entity's foreign keys, and those the table has (a migration's) under names the entity does not use.
    const foreignKeys = [...schema.foreignKeys];
    for (const fk of table.schema.foreignKeys) {
      if (foreignKeys.some((f) => f.name === fk.name)) continue;
      foreignKeys.push({ ...fk, property: boundProperty(fk.property) });
    }
    // The full-text index the table holds (a migration's), as on SQL, where the entity's declaration alone
    // creates nothing: an entity declaring one the migrations never made gets a SchemaError from search.
    const held = table.schema.fullText;
    const fullText = held && { name: held.name, properties: held.properties.map(boundProperty) };
    const merged = buildEntitySchema({
      entityName: schema.entityName,
      table: schema.table,
      target: schema.target,
      columns,
      indexes,
      foreignKeys,
      relations: schema.relations,
      ...(fullText ? { fullText } : {}),
    });
    const moves = table.schema.columns.map((c) => [c.property, propertyOf.get(c.name)!] as const);
    const bound = table.rebuild(
      merged,
      (row) => {
        const out: Row = {};
        for (const [from, to] of moves) out[to] = row[from] === undefined ? null : row[from];
        return out;
      },
      new Set(schema.columns.map((c) => c.property)),
    );
    table.become(bound);
    this.incoming = undefined;
    return table;
  }

  /**
   * Applies committed changes. A run of deletes from one table (a cascade's or a deleteMany's rows, which
   * {@link WriteSet.changes} lists together) is removed in one go (see {@link MemoryTable.removeMany}).
   */
  apply(changes: Iterable<Change>): void {
    let run: Key[] = [];
    let runTable: MemoryTable | undefined;
    const flush = () => {
      if (run.length === 1) runTable!.remove(run[0]!);
      else if (run.length > 1) runTable!.removeMany(run);
      run = [];
    };
    for (const change of changes) {
      const table = this.tables.get(change.table);
      if (!table) continue;
      if (change.row) {
        flush();
        table.put(change.row);
      } else {
        if (table !== runTable) {
          flush();
          runTable = table;
        }
        run.push(change.key);
      }
    }
    flush();
  }
}

/** Each table's projection copiers (see {@link projectionCopier}), dropped with the table. */
const projectionCopiers = new WeakMap<MemoryTable, ProjectionCache<(row: Row) => Row>>();

/**
 * The copier of a `select`: only the selected columns are copied out of the stored row (Dates cloned, json
 * deep-copied), so unselected values are never touched. Made once per table and column list.
 */
function projectionCopier(table: MemoryTable, select: readonly ColumnSchema[]): (row: Row) => Row {
  let cache = projectionCopiers.get(table);
  if (!cache) projectionCopiers.set(table, (cache = new ProjectionCache()));
  return cache.get(select, (columns) => makeHandedOutCopier(columns));
}

const ABSENT = Symbol("absent");
type Slot = Row | null | typeof ABSENT;

/** The rows of one table a delete reaches: their keys in the order met, and a set of them made once asked. */
class DoomedRows {
  private set: Set<Key> | undefined;

  constructor(
    readonly table: MemoryTable,
    readonly keys: Key[],
  ) {}

  has(key: Key): boolean {
    this.set ??= new Set(this.keys);
    return this.set.has(key);
  }

  /** Adds `key` unless it is already there; true when added. */
  add(key: Key): boolean {
    if (this.has(key)) return false;
    this.set!.add(key);
    this.keys.push(key);
    return true;
  }
}

/**
 * One write in a {@link WriteSet}'s undo log: a key and the slot it held, or a batch of deletes (`keys`)
 * and the slots they held (`previous` undefined: none was in the overlay).
 */
type UndoEntry =
  | { readonly overlay: TableOverlay; readonly key: Key; readonly previous: Slot }
  | { readonly overlay: TableOverlay; readonly keys: readonly Key[]; readonly previous: readonly Slot[] | undefined };

/** One table's uncommitted rows inside a write set: key -> new row, or null for deleted. */
class TableOverlay {
  readonly rows = new Map<Key, Row | null>();
  /** Unique values held by overlay rows, per unique index: value key -> primary key. */
  readonly uniqueOwners: Map<string, Key>[];

  constructor(readonly table: MemoryTable) {
    this.uniqueOwners = table.uniqueIndexes().map(() => new Map());
  }

  get(key: Key): Slot {
    // Slots are rows or null, never undefined: one lookup tells an absent key.
    const slot = this.rows.get(key);
    return slot === undefined ? ABSENT : slot;
  }

  /** Forgets the unique values of `old`, the overlay row of `key` being replaced. */
  private release(key: Key, old: Row): void {
    this.table.uniqueIndexes().forEach((u, i) => {
      const k = uniqueKey(u.index, old);
      if (k !== undefined && this.uniqueOwners[i]!.get(k) === key) this.uniqueOwners[i]!.delete(k);
    });
  }

  /**
   * Marks every key of `keys` deleted, as {@link set} with null would one by one. Returns the slots they
   * held, in the order of `keys`, or undefined when none was in the overlay (the common case: nothing to keep).
   */
  deleteAll(keys: readonly Key[]): Slot[] | undefined {
    let previous: Slot[] | undefined;
    const uniques = this.uniqueOwners.length > 0;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const old = this.rows.get(key);
      if (old !== undefined) {
        previous ??= new Array<Slot>(keys.length).fill(ABSENT);
        previous[i] = old;
        if (old !== null && uniques) this.release(key, old);
      }
      this.rows.set(key, null);
    }
    return previous;
  }

  set(key: Key, slot: Slot): void {
    const old = this.get(key);
    const uniques = this.table.uniqueIndexes();
    if (old !== ABSENT && old !== null && uniques.length > 0) this.release(key, old);
    if (slot === ABSENT) this.rows.delete(key);
    else {
      this.rows.set(key, slot);
      if (slot !== null) {
        uniques.forEach((u, i) => {
          const k = uniqueKey(u.index, slot);
          if (k !== undefined) this.uniqueOwners[i]!.set(k, key);
        });
      }
    }
  }
}

/**
 * A transaction's private view of a {@link MemoryDatabase}: reads see committed rows overlaid with
 * the transaction's own writes; nothing reaches the database before {@link WriteSet.changes} is applied.
 * An undo log makes savepoints cheap: rolling back replays it backwards to the savepoint's mark.
 */
export class WriteSet implements RelatedRows {
  private readonly overlays = new Map<string, TableOverlay>();
  private readonly undo: UndoEntry[] = [];
  private readonly savepoints: Array<{ name: string; mark: number }> = [];
  /** While {@link WriteSet.upsertMany} writes its rows: their foreign keys, checked once all are written. */
  private deferredReferences: Array<{ table: MemoryTable; row: Row; key: Key; old: Row | undefined }> | undefined;

  /** `raw`: hand out every stored column, extras included (a migration's view of its tables). */
  constructor(
    private readonly db: MemoryDatabase,
    private readonly raw = false,
  ) {}

  private copier(table: MemoryTable): (row: Row) => Row {
    return this.raw ? table.copyAll : table.copy;
  }

  get isEmpty(): boolean {
    return this.undo.length === 0;
  }

  private overlay(schema: EntitySchema): TableOverlay {
    let overlay = this.overlays.get(schema.table);
    if (!overlay) {
      overlay = new TableOverlay(this.db.table(schema));
      this.overlays.set(schema.table, overlay);
    }
    return overlay;
  }

  /** The overlay of the table `name` (`table`), for rows written on behalf of another table's delete. */
  private overlayOf(name: string, table: MemoryTable): TableOverlay {
    let overlay = this.overlays.get(name);
    if (!overlay) this.overlays.set(name, (overlay = new TableOverlay(table)));
    return overlay;
  }

  private write(overlay: TableOverlay, key: Key, row: Row | null): void {
    this.undo.push({ overlay, key, previous: overlay.get(key) });
    overlay.set(key, row);
  }

  /** Deletes the rows of `keys` from the overlay's table: one undo entry for them all. */
  private writeDeletes(overlay: TableOverlay, keys: readonly Key[]): void {
    if (keys.length === 0) return;
    if (keys.length === 1) return this.write(overlay, keys[0]!, null);
    this.undo.push({ overlay, keys, previous: overlay.deleteAll(keys) });
  }

  /** Undoes every write made since the undo log had `mark` entries. */
  private undoTo(mark: number): void {
    while (this.undo.length > mark) {
      const entry = this.undo.pop()!;
      if ("keys" in entry) {
        // Backwards, as the writes one by one would be undone (a key met twice gets its first slot back).
        const { overlay, keys, previous } = entry;
        for (let i = keys.length - 1; i >= 0; i--) overlay.set(keys[i]!, previous ? previous[i]! : ABSENT);
      } else entry.overlay.set(entry.key, entry.previous);
    }
  }

  /** The row of `key` in the table named `name` as this transaction sees it, if any (a stored reference). */
  private currentIn(name: string, key: Key): Row | undefined {
    const overlay = this.overlays.get(name);
    if (overlay) {
      const slot = overlay.get(key);
      if (slot !== ABSENT) return slot ?? undefined;
    }
    return this.db.tables.get(name)?.rows.get(key);
  }

  /** Checks the foreign keys of a row being written, or keeps them for the end of {@link WriteSet.upsertMany}. */
  private referencesOf(table: MemoryTable, row: Row, key: Key, old?: Row): void {
    if (this.deferredReferences) this.deferredReferences.push({ table, row, key, old });
    else this.checkReferences(table, row, key, old);
  }

  /**
   * Each foreign key of `row` (to be stored under `key` in `table`) must be null or name a row of its
   * referenced table, as this transaction sees it; a row may name itself. `old`: the row it replaces,
   * whose unchanged foreign keys are not looked up again. An {@link IntegrityError} naming the relation.
   */
  private checkReferences(table: MemoryTable, row: Row, key: Key, old?: Row): void {
    const name = table.schema.table;
    for (const fk of table.schema.foreignKeys) {
      const value = row[fk.property];
      if (value === null || value === undefined || (old !== undefined && old[fk.property] === value)) continue;
      if (fk.referencedTable === name && value === key) continue;
      if (this.currentIn(fk.referencedTable, value as Key)) continue;
      throw new IntegrityError(`${fk.relation ?? `${name}.${fk.property}`}: no ${fk.referencedTable} row has ${fk.referencedColumn} ${JSON.stringify(value)}`, {
        table: name,
        field: fk.property,
      });
    }
  }

  /** The rows of `child` (as this transaction sees them) whose foreign key `fk` holds one of `keys`: through its index. */
  private referencingRows(child: MemoryTable, fk: ForeignKeySchema, keys: readonly Key[]): Row[] {
    const column = child.schema.columnsByProperty.get(fk.property)!;
    const condition: Condition = keys.length === 1 ? { column, op: "eq", value: keys[0] } : { column, op: "in", value: keys };
    return this.matching(child.schema, [[condition]]);
  }

  /**
   * Deletes `rows` of `table` and applies the `onDelete` of every foreign key that references them, level
   * after level: CASCADE deletes the referencing rows (whose own referencing rows are then handled alike),
   * SET NULL empties their foreign key (nothing else of the row changes: not its version, not its update
   * date), RESTRICT refuses the whole delete with an {@link IntegrityError}, unless the referencing row is
   * itself deleted by the same call (so the order in which rows and keys are met never matters). Every row
   * affected is found before anything is written: a refused delete writes nothing. Cycles and
   * self-references end, as each row is deleted once.
   */
  private deleteWithReferences(table: MemoryTable, rows: readonly Row[]): void {
    /** Table name -> the table and the keys of its rows to delete. */
    const doomed = new Map<string, DoomedRows>();
    const levels: Array<{ table: MemoryTable; keys: Key[] }> = [];
    const doom = (target: MemoryTable, found: readonly Row[]): void => {
      const name = target.schema.table;
      const pk = target.schema.primary.property;
      const entry = doomed.get(name);
      if (!entry) {
        // A table met first: the rows found are distinct, so no set is needed until it is met again.
        const keys = found.map((row) => row[pk] as Key);
        // A copy: the level's keys must not grow when later levels add to the table's.
        doomed.set(name, new DoomedRows(target, keys.slice()));
        levels.push({ table: target, keys });
        return;
      }
      const fresh: Key[] = [];
      for (const row of found) {
        const key = row[pk] as Key;
        if (entry.add(key)) fresh.push(key);
      }
      if (fresh.length > 0) levels.push({ table: target, keys: fresh });
    };
    const emptied: Array<{ table: MemoryTable; key: Key; property: string }> = [];
    const restricted: Array<{ parent: string; child: MemoryTable; fk: ForeignKeySchema; row: Row }> = [];
    doom(table, rows);
    for (let i = 0; i < levels.length; i++) {
      const { table: parent, keys } = levels[i]!;
      for (const { child: childSchema, fk } of this.db.referencing(parent.schema.table)) {
        const child = this.db.tables.get(childSchema.table)!;
        const found = this.referencingRows(child, fk, keys);
        if (found.length === 0) continue;
        if (fk.onDelete === "CASCADE") doom(child, found);
        else {
          const pk = child.schema.primary.property;
          for (const row of found) {
            if (fk.onDelete === "SET NULL") emptied.push({ table: child, key: row[pk] as Key, property: fk.property });
            else restricted.push({ parent: parent.schema.table, child, fk, row });
          }
        }
      }
    }
    for (const { parent, child, fk, row } of restricted) {
      const name = child.schema.table;
      if (doomed.get(name)?.has(row[child.schema.primary.property] as Key)) continue;
      throw new IntegrityError(
        `${parent} row ${JSON.stringify(row[fk.property])} is still referenced by ${name} (${fk.relation ?? `${name}.${fk.property}`}, onDelete RESTRICT)`,
        { table: parent },
      );
    }
    for (const { table: child, key, property } of emptied) {
      const name = child.schema.table;
      if (doomed.get(name)?.has(key)) continue;
      // The row as it is now: two SET NULL keys of one row empty both.
      const row = this.currentIn(name, key)!;
      this.write(this.overlayOf(name, child), key, { ...row, [property]: null });
    }
    // Each table's rows go as one batch: one undo entry, and one removal per index at commit.
    for (const [name, { table: target, keys }] of doomed) this.writeDeletes(this.overlayOf(name, target), keys);
  }

  /** The current row for `key` as this transaction sees it (a stored reference: copy before handing out). */
  private current(schema: EntitySchema, key: Key): Row | undefined {
    const overlay = this.overlays.get(schema.table);
    if (overlay) {
      const slot = overlay.get(key);
      if (slot !== ABSENT) return slot ?? undefined;
    }
    return this.db.table(schema).rows.get(key);
  }

  findById(schema: EntitySchema, key: Key): Row | null {
    notePlan("primary key");
    const row = this.current(schema, key);
    return row ? this.copier(this.db.table(schema))(row) : null;
  }

  /**
   * The rows of `schema`'s table whose `column` holds a value, as this transaction sees them (its own
   * writes over the committed rows): what relation conditions read (see `RelatedRows`). Its own rows of
   * the table are grouped by the column at the first lookup: a query makes no write while it runs.
   */
  lookup(schema: EntitySchema, column: ColumnSchema): RowLookup {
    const committed = this.db.table(schema).equalRows(column);
    const overlay = this.overlays.get(schema.table);
    if (!overlay || overlay.rows.size === 0) return committed;
    if (column.primary) {
      return (value, visit) => {
        const slot = overlay.get(value as Key);
        if (slot === ABSENT) return committed(value, visit);
        return slot === null || visit(slot);
      };
    }
    const p = column.property;
    const pk = schema.primary.property;
    let own: Map<unknown, Row[]> | undefined;
    return (value, visit) => {
      if (!committed(value, (row) => overlay.rows.has(row[pk] as Key) || visit(row))) return false;
      if (!own) {
        own = new Map();
        for (const row of overlay.rows.values()) {
          const v = row?.[p];
          if (v === null || v === undefined) continue;
          const k = valueKey(v);
          const list = own.get(k);
          if (list) list.push(row!);
          else own.set(k, [row!]);
        }
      }
      for (const row of own.get(valueKey(value)) ?? []) if (!visit(row)) return false;
      return true;
    };
  }

  /** The rows matching `where` (and `after`, when given), uncopied and unordered. */
  private matching(schema: EntitySchema, where: NormalizedWhere, after?: RowPredicate): Row[] {
    const table = this.db.table(schema);
    const overlay = this.overlays.get(schema.table);
    const matches = compileWhere(where, this);
    const test = after ? (row: Row) => matches(row) && after(row) : matches;
    const out: Row[] = [];
    const seen = where.length > 1 ? new Set<Key>() : undefined;
    const pk = schema.primary.property;
    for (const group of where) {
      for (const row of table.candidates(group, this)) {
        const key = row[pk] as Key;
        if (overlay && overlay.rows.has(key)) continue;
        if (seen) {
          if (seen.has(key)) continue;
          seen.add(key);
        }
        if (test(row)) out.push(row);
      }
    }
    if (overlay) for (const row of overlay.rows.values()) if (row && test(row)) out.push(row);
    return out;
  }

  /**
   * This transaction's rows of the table for an index walk: `skip` (their keys, whose committed rows the
   * walk must pass over) and `rows` (those matching `group` and `after`, in no order).
   */
  private ownRows(schema: EntitySchema, group: readonly WhereTerm[], after: RowPredicate | undefined): OwnRows {
    const overlay = this.overlays.get(schema.table)!;
    const test = compileWhere([group], this);
    const rows: Row[] = [];
    for (const row of overlay.rows.values()) if (row && test(row) && (!after || after(row))) rows.push(row);
    return { skip: overlay.rows, rows, pk: schema.primary.property };
  }

  /** Whether this write set holds uncommitted rows of the table (index walks then see only committed rows). */
  private touched(schema: EntitySchema): boolean {
    const overlay = this.overlays.get(schema.table);
    return overlay !== undefined && overlay.rows.size > 0;
  }

  find(schema: EntitySchema, query: NormalizedQuery): Row[] {
    if (query.limit === 0) return [];
    const table = this.db.table(schema);
    const copy = query.select ? projectionCopier(table, query.select) : this.copier(table);
    const after = query.after ? compileAfter(query.orderBy, query.after) : undefined;
    const end = query.limit === undefined ? undefined : query.offset + query.limit;
    const order = compileOrder(query.orderBy);
    let rows: Row[];
    const group = query.where.length === 1 ? query.where[0]! : undefined;
    const touched = this.touched(schema);
    // One AND-group (not on the primary key): the planner may serve it from an index, walking the index in
    // the query's order (with this transaction's own rows merged in), else one pass over the rows feeds the
    // page's heap or the sort (rows this transaction touched: through matching).
    const keyed = group !== undefined && keyCondition(group) !== undefined;
    const plan = group && !keyed ? table.plan(group, query.orderBy, end !== undefined || after !== undefined, this) : undefined;
    if (plan?.order) {
      const own = touched ? this.ownRows(schema, group!, after) : undefined;
      return walkInOrder(table, plan, query, order, after, own).map(copy);
    }
    if (group && !touched && !keyed) {
      const test = plan ? plan.residual : group.length === 0 ? undefined : compileWhere([group], this);
      const keep = after ? (test ? (row: Row) => test(row) && after(row) : after) : test;
      if (end !== undefined) {
        const top = new TopK(order, end);
        if (plan) {
          table.planned(plan, (row) => {
            if (!keep || keep(row)) top.offer(row);
            return true;
          });
        } else if (keep) {
          table.rows.forEach((row) => {
            if (keep(row)) top.offer(row);
          });
        } else table.rows.forEach((row) => top.offer(row));
        return top.sorted().slice(query.offset).map(copy);
      }
      rows = [];
      const out = rows;
      if (plan) {
        table.planned(plan, (row) => {
          if (!keep || keep(row)) out.push(row);
          return true;
        });
      } else for (const row of table.rows.values()) if (!keep || keep(row)) out.push(row);
    } else rows = this.matching(schema, query.where, after);
    // A page far smaller than the matches: select it with a bounded heap instead of sorting every match.
    const sorted = end !== undefined && end * TOP_K_FACTOR < rows.length ? smallestSorted(rows, order, end) : rows.sort(order);
    const page = query.offset > 0 || end !== undefined ? sorted.slice(query.offset, end) : sorted;
    return page.map(copy);
  }

  /**
   * The matches of `query` (no `after`) in its order, offset and limit applied, as stored references with
   * the copier to hand them out by: one sort for a whole walk where keyset pages would each sort every
   * match again. Stored rows are replaced on write, never changed, so the references keep the rows as they
   * stood (a snapshot). Undefined where keyset pages cost about a page each: an index serves the order, or
   * the where names primary keys.
   */
  sortedMatches(schema: EntitySchema, query: NormalizedQuery): { rows: Row[]; copy: (row: Row) => Row } | undefined {
    const table = this.db.table(schema);
    const group = query.where.length === 1 ? query.where[0]! : undefined;
    if (group && (keyCondition(group) !== undefined || table.plan(group, query.orderBy, true, this)?.order)) return undefined;
    const copy = query.select ? projectionCopier(table, query.select) : this.copier(table);
    const rows = this.matching(schema, query.where);
    const end = query.limit === undefined ? undefined : query.offset + query.limit;
    const sorted = end !== undefined && end * TOP_K_FACTOR < rows.length ? smallestSorted(rows, compileOrder(query.orderBy), end) : rows.sort(compileOrder(query.orderBy));
    return { rows: query.offset > 0 || end !== undefined ? sorted.slice(query.offset, end) : sorted, copy };
  }

  count(schema: EntitySchema, where: NormalizedWhere): number {
    if (where.length === 1) {
      const group = where[0]!;
      const table = this.db.table(schema);
      const overlay = this.touched(schema) ? this.overlays.get(schema.table)! : undefined;
      if (group.length === 0 && !overlay) return table.rows.size;
      const plan = keyCondition(group) ? undefined : table.plan(group, [], false, this);
      if (plan) {
        let n = 0;
        const residual = plan.residual;
        if (!residual) n = table.plannedCount(plan);
        else {
          table.planned(plan, (row) => {
            if (residual(row)) n++;
            return true;
          });
        }
        if (overlay) {
          // This transaction's writes: its rows replace the committed ones of the same keys.
          const test = compileWhere([group], this);
          for (const [key, row] of overlay.rows) {
            const old = table.rows.get(key);
            if (old && test(old)) n--;
            if (row && test(row)) n++;
          }
        }
        return n;
      }
    }
    return this.matching(schema, where).length;
  }

  /**
   * See `DataSession.search`: the matches of `request.query` over the table's full-text index, as this
   * transaction sees the table (its own rows read beside the committed index: full-text-search.ts), filtered
   * by `request.where`, best first by BM25, ties by primary key, then paged. A {@link SchemaError} when the
   * table has no full-text index.
   */
  search(schema: EntitySchema, request: SearchRequest): SearchHit[] {
    const table = this.db.table(schema);
    const index = table.fullText;
    if (!index) {
      throw new SchemaError(
        `${schema.entityName} has no full-text index on table "${schema.table}": declare @Index({ fulltext: true }) on its string columns, or create one with a migration (m.createFullTextIndex)`,
        { table: schema.table },
      );
    }
    notePlan("index", index.name);
    const end = request.offset + request.limit;
    if (request.limit <= 0) return [];
    index.settle(schema.table);
    const overlay = this.overlays.get(schema.table);
    const own = overlay && overlay.rows.size > 0 ? overlay.rows : undefined;
    const keep = request.where === undefined ? undefined : compileWhere(request.where, this);
    const found = searchDocuments(index, own, request.query, keep, comparatorFor(schema.primary.type), end);
    const copy = this.copier(table);
    const out: SearchHit[] = [];
    for (let i = request.offset; i < found.length; i++) out.push({ row: copy(found[i]!.doc.row), score: found[i]!.score });
    return out;
  }

  private checkUnique(schema: EntitySchema, row: Row, key: Key): void {
    const table = this.db.table(schema);
    const overlay = this.overlays.get(schema.table);
    table.uniqueIndexes().forEach((u, i) => {
      const k = uniqueKey(u.index, row);
      if (k === undefined) return;
      const owners = [table.uniqueOwners(i, k), overlay?.uniqueOwners[i]!.get(k)];
      for (const owner of owners) {
        if (owner === undefined || owner === key) continue;
        // The committed owner may have been changed or deleted by this transaction: re-check it.
        const holder = this.current(schema, owner);
        if (holder && uniqueKey(u.index, holder) === k) {
          throw new IntegrityError(
            `${schema.entityName}: ${u.index.properties.join(", ")} must be unique; the value is already used (unique index "${u.index.name}" on table "${schema.table}")`,
            { table: schema.table, field: u.index.properties[0]! },
          );
        }
      }
    });
  }

  insert(schema: EntitySchema, input: Row): Row {
    const table = this.db.table(schema);
    const row = table.store(input);
    for (const extra of table.extras) if (row[extra.property] === undefined) row[extra.property] = extra.default === undefined ? null : storedValueOf(extra, extra.default);
    const pk = schema.primary.property;
    if (schema.primary.generated === "increment") {
      if (row[pk] === null || row[pk] === undefined) row[pk] = table.allocateId();
      else table.reserveId(row[pk] as Key);
    }
    const key = row[pk] as Key;
    if (this.current(schema, key)) {
      throw new IntegrityError(`${schema.entityName}: a row with ${pk} ${JSON.stringify(key)} already exists in table "${schema.table}"`, {
        table: schema.table,
        field: pk,
      });
    }
    this.checkUnique(schema, row, key);
    if (table.schema.foreignKeys.length > 0) this.referencesOf(table, row, key);
    this.write(this.overlay(schema), key, row);
    return this.copier(table)(row);
  }

  /** See `DataSession.upsert`: with `given`, an existing row changes only in those columns (and its update date and version). */
  upsert(schema: EntitySchema, input: Row, expectedVersion?: number, given?: readonly string[]): Row | "conflict" {
    const key = input[schema.primary.property] as Key | null | undefined;
    const existing = key === null || key === undefined ? undefined : this.current(schema, key);
    if (!existing) return this.insert(schema, input);
    const version = schema.version?.property;
    if (version && expectedVersion !== undefined && existing[version] !== expectedVersion) return "conflict";
    const table = this.db.table(schema);
    const row = table.store(given === undefined ? input : merged(schema, existing, input, given));
    for (const extra of table.extras) if (row[extra.property] === undefined) row[extra.property] = existing[extra.property];
    if (schema.createDate) row[schema.createDate.property] = existing[schema.createDate.property];
    if (version) row[version] = (existing[version] as number) + 1;
    this.checkUnique(schema, row, key!);
    if (table.schema.foreignKeys.length > 0) this.referencesOf(table, row, key!, existing);
    this.write(this.overlay(schema), key!, row);
    return this.copier(table)(row);
  }

  /**
   * All or nothing, as the SPI asks: a row that fails undoes the rows written before it. Foreign keys are
   * checked once every row is written, as SQL checks them at the end of its one multi-row statement: a
   * row may name a parent written later in the same call (a self-referencing tree, children first).
   */
  upsertMany(schema: EntitySchema, rows: readonly Row[], given?: readonly string[]): Row[] {
    const mark = this.undo.length;
    const deferred = this.db.table(schema).schema.foreignKeys.length > 0 ? (this.deferredReferences = []) : undefined;
    try {
      const out = rows.map((r) => this.upsert(schema, r, undefined, given) as Row);
      if (deferred) for (const { table, row, key, old } of deferred) this.checkReferences(table, row, key, old);
      return out;
    } catch (error) {
      this.undoTo(mark);
      throw error;
    } finally {
      this.deferredReferences = undefined;
    }
  }

  update(schema: EntitySchema, key: Key, changes: Row, expectedVersion?: number): UpdateOutcome {
    const existing = this.current(schema, key);
    if (!existing) return "missing";
    const version = schema.version?.property;
    if (version && expectedVersion !== undefined && existing[version] !== expectedVersion) return "conflict";
    const table = this.db.table(schema);
    const row = table.store({ ...existing, ...changes });
    if (version) row[version] = (existing[version] as number) + 1;
    this.checkUnique(schema, row, key);
    if (table.schema.foreignKeys.length > 0) this.checkReferences(table, row, key, existing);
    this.write(this.overlay(schema), key, row);
    return { row: this.copier(table)(row) };
  }

  delete(schema: EntitySchema, key: Key): boolean {
    const row = this.current(schema, key);
    if (!row) return false;
    if (this.db.referencing(schema.table).length > 0) this.deleteWithReferences(this.db.table(schema), [row]);
    else this.write(this.overlay(schema), key, null);
    return true;
  }

  deleteMany(schema: EntitySchema, where: NormalizedWhere): number {
    const pk = schema.primary.property;
    const rows = this.matching(schema, where);
    if (rows.length > 0 && this.db.referencing(schema.table).length > 0) {
      this.deleteWithReferences(this.db.table(schema), rows);
      return rows.length;
    }
    this.writeDeletes(this.overlay(schema), rows.map((row) => row[pk] as Key));
    return rows.length;
  }

  savepoint(name: string): void {
    this.savepoints.push({ name, mark: this.undo.length });
  }

  rollbackToSavepoint(name: string): void {
    const i = this.findSavepoint(name);
    this.undoTo(this.savepoints[i]!.mark);
    this.savepoints.length = i + 1;
  }

  releaseSavepoint(name: string): void {
    this.savepoints.length = this.findSavepoint(name);
  }

  private findSavepoint(name: string): number {
    for (let i = this.savepoints.length - 1; i >= 0; i--) if (this.savepoints[i]!.name === name) return i;
    throw new TransactionError(`No savepoint named "${name}"`);
  }

  /** The net changes of this transaction, in first-write order. */
  changes(): Change[] {
    const out: Change[] = [];
    for (const [table, overlay] of this.overlays) {
      for (const [key, row] of overlay.rows) out.push({ table, key, row });
    }
    return out;
  }
}

/** The group's equality or `$in` on the primary key, if any: it names its rows outright, no index needed. */
function keyCondition(group: readonly WhereTerm[]): Condition | undefined {
  return group.find((c): c is Condition => !isRelationCondition(c) && c.column.primary && (c.op === "eq" || c.op === "in"));
}

/**
 * A page read from an index walk in the query's order: the walk stops once `offset + limit` rows are found.
 * Rows the index leaves tied under the query's order come as a run and are sorted (or, when the walk yields
 * them in reverse key order, reversed) before use. With a keyset position, the walk seeks to it ({@link seekRanges}).
 * `full` is the query's whole order (compiled once by the caller), which sorts runs and this transaction's rows.
 */
function walkInOrder(table: MemoryTable, plan: IndexPlan, query: NormalizedQuery, full: (a: Row, b: Row) => number, after: RowPredicate | undefined, own?: OwnRows): Row[] {
  const service = plan.order!;
  const offset = query.offset;
  const wanted = query.limit === undefined ? Infinity : query.limit;
  const out: Row[] = [];
  let skipped = 0;
  const take = (row: Row): boolean => {
    if (after && !after(row)) return true;
    if (skipped < offset) {
      skipped++;
      return true;
    }
    out.push(row);
    return out.length < wanted;
  };
  let emit = take;
  let residual = plan.residual;
  let drain = (): boolean => true;
  if (own) {
    // The transaction's own rows, sorted, go out before the first committed row they precede; the
    // committed rows they replace are passed over.
    const mine = own.rows.sort(full);
    let next = 0;
    emit = (row) => {
      while (next < mine.length && full(mine[next]!, row) < 0) if (!take(mine[next++]!)) return false;
      return take(row);
    };
    drain = () => {
      while (next < mine.length) if (!take(mine[next++]!)) return false;
      return true;
    };
    const { skip, pk } = own;
    const test = residual;
    residual = test ? (row) => !skip.has(row[pk] as Key) && test(row) : (row) => !skip.has(row[pk] as Key);
  }
  let visit: (row: Row) => boolean;
  let flush = (): boolean => true;
  const sameRun = service.sameRun;
  const reversed = service.runsReversed;
  if (sameRun) {
    // A run far longer than the rows the page still takes (an index on a column of few values, ordered by
    // more terms: `active, name` with a limit) goes into a bounded heap once it outgrows `room`, as a scan's
    // rows would, instead of being sorted whole (bench: 2 ops/s, 40x slower than the scan it replaced). Nothing is taken
    // while a run lasts, so `room` is fixed for it; at most `room` of its rows can be taken, own rows or not.
    // A run the walk yields in exactly the reverse of the query's order (`runsReversed`) is reversed, not sorted.
    let run: Row[] = [];
    let head: Row | undefined;
    let top: TopK<Row> | undefined;
    let room = Infinity;
    flush = () => {
      const rows = top ? top.sorted() : run.length < 2 ? run : reversed ? run.reverse() : run.sort(full);
      run = [];
      head = undefined;
      top = undefined;
      for (const row of rows) if (!emit(row)) return false;
      return true;
    };
    visit = (row) => {
      // Rows before the keyset position are dropped here, not at `take`, so that a heap holds only takeable rows.
      if ((residual && !residual(row)) || (after && !after(row))) return true;
      if (head !== undefined && sameRun(head, row) !== 0 && !flush()) return false;
      if (head === undefined) {
        head = row;
        room = offset - skipped + wanted - out.length;
      }
      if (top) top.offer(row);
      else {
        run.push(row);
        // A run in reverse order needs no heap: its first rows come last, past the page, and go.
        if (run.length > room * TOP_K_FACTOR && reversed) run.splice(0, run.length - room);
        else if (run.length > room * TOP_K_FACTOR) {
          top = new TopK(full, room);
          for (const r of run) top.offer(r);
          run = [];
        }
      }
      return true;
    };
  } else {
    const test = residual;
    visit = test ? (row) => !test(row) || emit(row) : emit;
  }
  const ranges = query.after ? seekRanges(plan, query) : plan.ranges;
  if (table.planned(plan, visit, service.reverse, ranges) && flush()) drain();
  return out;
}

/** A transaction's own rows of a table, for {@link walkInOrder}. */
interface OwnRows {
  /** The keys it wrote (deleted ones too): their committed rows are not seen. */
  readonly skip: ReadonlyMap<Key, unknown>;
  /** Its rows matching the query, in any order (sorted by the walk). */
  readonly rows: Row[];
  readonly pk: string;
}

/**
 * `plan`'s ranges cut at the keyset position: the rows before it are left out. Only when the position's
 * values for the order terms the equality prefix fixes are those fixed values; otherwise (the position
 * lies wholly before or after the prefix) the ranges stay whole and `after` alone filters.
 *
 * Where the index is in the order's key order inside a run ({@link OrderService.key}), the cut is exact:
 * the walk visits no row before the position, so a late page reads as many rows as the first (with runs
 * that come reversed, a range becomes two: the position's run past it, then the runs after it). Otherwise
 * each range starts (or, backwards, ends) at the run holding the position, and `after` drops that run's
 * rows before it.
 */
function seekRanges(plan: IndexPlan, query: NormalizedQuery): readonly IndexRange[] {
  const service = plan.order!;
  const after = query.after!;
  const positionOf = new Map<string, unknown>();
  query.orderBy.forEach((t, i) => positionOf.set(t.column.property, after[i] ?? null));
  const index = plan.index;
  for (const [property, value] of service.fixed) {
    if (!positionOf.has(property)) continue;
    const i = index.columns.findIndex((c) => c.property === property);
    if (index.orders[i]!(positionOf.get(property), value) !== 0) return plan.ranges;
  }
  const props = service.terms.map((t) => t.column.property);
  const orders = service.terms.map((t) => index.orders[index.columns.findIndex((c) => c.property === t.column.property)]!);
  const versus = compareWithValues(props, orders, props.map((p) => positionOf.get(p)));
  const inPrefix = plan.inPrefix;
  const key = service.key;
  // Cuts inside the equality prefix, each true before its place: the start and the end of the position's
  // run, the position, and just past it (a row's place against it in index order: its run, then its key).
  const runStart = (row: Row) => versus(row) < 0;
  const runEnd = (row: Row) => versus(row) <= 0;
  const at = key && positionOf.get(key.property);
  const place = (row: Row): number => versus(row) || key!.compare(row[key!.property], at);
  const beforePosition = (row: Row) => place(row) < 0;
  const pastPosition = (row: Row) => place(row) <= 0;
  const out: IndexRange[] = [];
  for (const range of plan.ranges) {
    // A range's start moved up to a cut, or its end down to one (rows outside the prefix keep the range's own tests).
    const from = (cut: (row: Row) => boolean): Before => (row) => range.lo(row) || (inPrefix(row) === 0 && cut(row));
    const until = (cut: (row: Row) => boolean): Before => (row) => range.hi(row) && (inPrefix(row) !== 0 || cut(row));
    if (!key) {
      // The run holding the position is walked whole; `after` drops its rows before the position.
      out.push(service.reverse ? { lo: range.lo, hi: until(runEnd) } : { lo: from(runStart), hi: range.hi });
    } else if (!service.runsReversed) {
      // The key runs with the walk: what follows the position in the walk's direction.
      out.push(service.reverse ? { lo: range.lo, hi: until(beforePosition) } : { lo: from(pastPosition), hi: range.hi });
    } else if (service.reverse) {
      // Backwards, key ascending: the run's rows with a greater key, then every run before it.
      out.push({ lo: range.lo, hi: until(runStart) }, { lo: from(pastPosition), hi: until(runEnd) });
    } else {
      // Forwards, key descending: the run's rows with a smaller key, then every run after it.
      out.push({ lo: from(runStart), hi: until(beforePosition) }, { lo: from(runEnd), hi: range.hi });
    }
  }
  return out;
}

/**
 * The row a partial upsert stores over `existing`: its stored values, the `given` columns and the update
 * date taken from `input` (the key, the version and the create date are decided by the upsert itself).
 */
function merged(schema: EntitySchema, existing: Row, input: Row, given: readonly string[]): Row {
  const row: Row = { ...existing };
  for (const property of given) row[property] = input[property];
  if (schema.updateDate) row[schema.updateDate.property] = input[schema.updateDate.property];
  return row;
}
