/**
 * The cache keys: the one module that builds them and the one that reads them back. Every key names the
 * schema it was written under, so that no entry shaped by another schema is ever read:
 *
 * - L1 entity: `<space number>|<epoch>|<id>`, where the space number stands for `<schema mark>|<table>` (see
 *   {@link spaceNumber}): L1 lives in this process only, and a short key is what keeps a hit cheap (a fresh
 *   key string is copied flat and hashed on every lookup: measured ~300 ns for the long form, ~90 ns for this)
 * - L1 query:  `q|<schema mark>|<table>|<generation>|<rows or count>|<normalized query as JSON>` (a projection's
 *   `select` in it as the properties it reads, primary key included: two queries reading other columns never
 *   share an entry, two select lists differing only by the primary key do; a relation filter as its relation,
 *   quantifier and where), then, for a query reading other tables (its relation filters', its include's),
 *   `|<table>@<generation>` for each (see `TableCache.query`)
 * - L2 entity: `e|<schema mark>|<table>|<id>` (no epoch: a bulk write drops the table's L2 entries instead)
 * - Redis version of an L2 entity key: `<prefix>v:<L2 entity key>`; of a table: `<prefix>t:<table>` (see
 *   `RedisL2Store`: bumped by invalidations, they refuse fills begun before them)
 *
 * where the schema mark is `<applied migrations>.<schema version>.<shape>`, `<table>` is URI-encoded (so it
 * holds no `|`) and the id may hold any character (so it comes last). The epoch (bumped by a bulk write) and
 * the generation (bumped by every write) make older L1 entries unreachable without visiting them.
 */
import { createHash } from "node:crypto";
import type { EntitySchema } from "../schema/entity-schema.js";
import type { Key } from "../spi/index.js";
import type { RelationCondition } from "../query/query.js";

function isRelationCondition(value: unknown): value is RelationCondition {
  return typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "relation";
}

/** A table's name as keys hold it. */
export function encodeTableName(table: string): string {
  return encodeURIComponent(table);
}

/**
 * The table an L2 key belongs to. A bulk write drops a table's entries of every schema version:
 * a process still on an older version must not read rows a migration has since changed.
 */
export function tableOfKey(key: string): string {
  const second = key.indexOf("|", key.indexOf("|") + 1);
  return key.slice(second + 1, key.indexOf("|", second + 1));
}

/** Makes `text` match itself only in a glob pattern (Redis `SCAN MATCH`). */
const escapeGlob = (text: string) => text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);

/**
 * A glob (as Redis `SCAN MATCH` reads it) matching the L2 entity keys under `prefix`: those of `table`
 * (encoded, as {@link encodeTableName} gives it) of any schema version, or with no table, all of them.
 */
export function entityKeysGlob(prefix: string, table?: string): string {
  return table === undefined ? `${escapeGlob(prefix)}e|*` : `${escapeGlob(prefix)}e|*|${escapeGlob(table)}|*`;
}

/**
 * The Redis key of the version of the L2 entity key `key` under `prefix`, bumped by each invalidation of it.
 * Redis data outlives a deploy: the format is what processes of every version read, so it never changes.
 */
export function keyVersionKey(prefix: string, key: string): string {
  return `${prefix}v:${key}`;
}

/**
 * The Redis key of the version of `table` (encoded, as {@link encodeTableName} gives it) under `prefix`,
 * bumped by each bulk invalidation of it. Its format never changes, as {@link keyVersionKey}'s.
 */
export function tableVersionKey(prefix: string, table: string): string {
  return `${prefix}t:${table}`;
}

/** The number of each `<schema mark>|<table>` this process has built L1 keys for: the same text, the same number. */
const spaceNumbers = new Map<string, string>();

/**
 * The short stand-in for `base` (`<schema mark>|<table>|`) in L1 entity keys: a decimal number, unique
 * to that text in this process, so that two schemas (or tables) never share an L1 entity key. It holds only
 * digits, so that no entity key can equal a query key (`q|...`). Grows by one entry per schema version
 * and table a process opens: a handful.
 */
function spaceNumber(base: string): string {
  let number = spaceNumbers.get(base);
  if (number === undefined) {
    number = String(spaceNumbers.size);
    spaceNumbers.set(base, number);
  }
  return number;
}

/**
 * Writes a column as its property name (a projection's `select` as its list of them), and keeps Dates
 * distinct from strings that look like them.
 */
function keyReplacer(this: Record<string, unknown>, key: string, value: unknown): unknown {
  // A relation filter: its relation, quantifier and where (the schemas it holds are implied by the relation).
  if (isRelationCondition(value)) return { relation: value.relation, quantifier: value.quantifier, where: value.where };
  if (key === "column") return (value as { property: string }).property;
  if (key === "select") return (value as readonly { property: string }[]).map((c) => c.property);
  const original = this[key];
  return original instanceof Date ? { $date: original.getTime() } : value;
}

/**
 * The keys of one table. The prefixes are rebuilt only when what they hold changes (a write, a migration),
 * so that a lookup costs one string concatenation.
 */
export class TableKeys {
  /** The table's name as keys hold it. */
  readonly table: string;
  /** A hash of the entity's columns (names, types, order): entries written for another shape are never read. */
  private readonly shape: string;
  private entityPrefix = "";
  private queryPrefix = "";
  private l2Prefix = "";
  /**
   * What sets this table's L2 keys apart from another process's keys of the same table: the schema mark.
   * Two processes whose spaces differ never read each other's entries, nor delete them by key.
   */
  space = "";

  constructor(schema: EntitySchema) {
    this.shape = createHash("sha256").update(schema.columns.map((c) => `${c.property}:${c.name}:${c.type}`).join(",")).digest("base64url").slice(0, 8);
    this.table = encodeTableName(schema.table);
  }

  /**
   * Moves every key to `appliedMark` (the migrations applied when the storage opened: persistent, the same in
   * every process on this data), `schemaVersion` (this process's own migrations since), `epoch` and `generation`.
   */
  rebuild(appliedMark: string, schemaVersion: number, epoch: number, generation: number): void {
    this.space = `${appliedMark}.${schemaVersion}.${this.shape}`;
    const base = `${this.space}|${this.table}|`;
    this.entityPrefix = `${spaceNumber(base)}|${epoch}|`;
    this.queryPrefix = `q|${base}${generation}|`;
    this.l2Prefix = `e|${base}`;
  }

  /** The L1 key of the entity `id`. */
  entity(id: Key): string {
    return this.entityPrefix + id;
  }

  /** The L2 key of the entity `id`. */
  l2Entity(id: Key): string {
    return this.l2Prefix + id;
  }

  /**
   * The L1 key of a cached query: `kind` and the normalized query or where clause, and `related`, the
   * generations of the other tables it reads (see `TableCache.query`), when it reads any.
   */
  query(kind: "rows" | "count", query: unknown, related = ""): string {
    return `${this.queryPrefix}${kind}|${JSON.stringify(query, keyReplacer)}${related}`;
  }
}
