/**
 * The file backend: the table engine (queries, indexes, write sets, savepoints) and its writer, from
 * {@link EngineBackend}, with persistence around it, in one directory a person can read:
 *
 * - `catalog.json`: tables, columns, types, indexes and foreign keys (see file-catalog.ts);
 * - `<table>.table.json`: one snapshot per table, a row per line (see file-snapshot.ts);
 * - `journal.ndjson`: one checksummed line per committed transaction since the snapshots (see file-journal.ts);
 * - `strata.lock`: the pid holding the directory (see util/directory-lock.ts);
 * - `backups/generation-<timestamp>-<seq>/` with `backup.enabled` (or `backup.dir`): the generations of
 *   src/backup/ (the state before each compaction, before each migration run, and every `intervalMs`), the newest `keep`.
 *
 * Opening loads the snapshots and replays the journal, after checking that they fit in the heap (a
 * `CapacityError` naming the file otherwise) and refusing snapshots or a journal left without their
 * catalog (see file-catalog.ts); a full disk on any write is a `CapacityError` naming the file.
 * A commit appends its line and waits for the flush; reads outside a transaction first wait for
 * pending flushes, so nothing is seen that a power loss could take back. When the journal has passed `compactAfterBytes`, the next commit first compacts
 * (new snapshots via temp file + fsync + rename, directory fsync, then the journal is emptied); if that
 * fails, that commit fails with the error, nothing of it is written, and the journal stays valid.
 */
import fs from "node:fs";
import { randomUUID } from "node:crypto";
import * as path from "node:path";
import type { Persisted } from "../engine-transaction.js";
import { ENGINE_CAPABILITIES, EngineBackend } from "../engine-backend.js";
import { MigrationTable } from "../../schema/table-schema.js";
import { withHeldForeignKeys } from "../../schema/foreign-key-graph.js";
import { forwardSession, READ_METHODS } from "../../spi/forward-session.js";
import type { Backend, BackendCapabilities, BackendContext, DataSession, Key } from "../../spi/index.js";
import type { Change, MemoryDatabase, MemoryTable, WriteSet } from "../../engine/table-engine.js";
import { ConfigError, CorruptionError, StorageError, TransactionError } from "../../errors.js";
import type { EntitySchema, FullTextSchema } from "../../schema/entity-schema.js";
import { buildEntitySchema, sameFullTextIndex } from "../../schema/entity-schema.js";
import type { Catalog, CatalogTable } from "./file-catalog.js";
import { CATALOG_FILE, CATALOG_FORMAT, catalogFullText, catalogMismatch, catalogProblem, catalogTableOf, catalogText, schemaOfCatalogTable } from "./file-catalog.js";
import type { JournalOp } from "./file-journal.js";
import { FileJournal, JOURNAL_FILE, readJournal } from "./file-journal.js";
import { DirectoryLock } from "../../util/directory-lock.js";
import { diskFullError } from "../../util/disk-full-error.js";
import { createGeneration } from "../../backup/backup-generations.js";
import { finishInterruptedRestore } from "./file-restore.js";
import { HeapBudget } from "./heap-budget.js";
import type { RowCodec } from "./file-snapshot.js";
import { fsyncDirectory, inDirectory, makeRowCodec, readJsonFile, readSnapshot, snapshotText, writeFileAtomic } from "./file-snapshot.js";
import { StringPool } from "./string-pool.js";
import { TABLE_FILE_SUFFIX, isTableFileOf, tableFileName } from "./table-file-name.js";

/** How many times `pattern` occurs in `data`. */
function occurrences(data: Buffer, pattern: number | string): number {
  const step = typeof pattern === "number" ? 1 : pattern.length;
  let count = 0;
  for (let at = data.indexOf(pattern); at >= 0; at = data.indexOf(pattern, at + step)) count++;
  return count;
}

/** A loaded table's persistence state. */
interface TableState {
  readonly name: string;
  entry: CatalogTable;
  /** Encodes rows as stored; rebuilt by {@link codecOf} when an entity rebinds the table in place. */
  codec: RowCodec;
  readonly table: MemoryTable;
  /** The journal sequence number its snapshot file includes. */
  seq: number;
  /** Changed since its snapshot was written. */
  dirty: boolean;
  /** Its snapshot was written by v0.1 (no seal): the next compaction rewrites it. */
  legacy: boolean;
}

export class FileBackend extends EngineBackend {
  readonly name: string = "file";
  /** Schema changes commit through {@link FileBackend.checkpointSchema}: all or nothing, so DDL is transactional. */
  override readonly capabilities: BackendCapabilities = { ...ENGINE_CAPABILITIES, persistent: true };
  /** The data directory (absolute). */
  readonly dir: string;
  private readonly durable: boolean;
  private readonly compactAfterBytes: number;
  private readonly tables = new Map<string, TableState>();
  private catalog: Catalog = { format: CATALOG_FORMAT, seq: 0, tables: {} };
  /** Set by load(); undefined only while a failed open is being undone. */
  private journal!: FileJournal;
  private closed = false;

  private constructor(
    context: BackendContext,
    private readonly lock: DirectoryLock,
  ) {
    // Tables come from the directory (see load), and autoCreate adds the missing ones to it.
    super(context);
    this.dir = context.config.path!;
    this.durable = context.config.file.fsync === "always";
    this.compactAfterBytes = context.config.file.compactAfterBytes;
  }

  /** Opens (creating if needed) the directory in `context.config.path`. */
  static async open(context: BackendContext): Promise<FileBackend> {
    const dir = context.config.path;
    if (!dir) throw new ConfigError(['path: the file backend needs a directory, e.g. "file:./data"']);
    try {
      if (!fs.existsSync(dir)) {
        fs.mkdirSync(dir, { recursive: true });
        if (context.config.file.fsync === "always") fsyncDirectory(path.dirname(dir));
      }
    } catch (error) {
      throw new ConfigError([`path: cannot create the directory ${dir}: ${(error as Error).message}`], { file: dir, cause: error });
    }
    if (!fs.statSync(dir).isDirectory()) throw new ConfigError([`path: ${dir} is a file; the file backend needs a directory`], { file: dir });
    const lock = await DirectoryLock.acquire(dir, context.config.timeoutMs);
    const backend = new FileBackend(context, lock);
    try {
      // A restore that a crash interrupted is finished (or its leftovers removed) before the data is read.
      if (finishInterruptedRestore(dir)) context.logger.warn(`Finished a restore of ${dir} that was interrupted (strata backup restore)`);
      backend.load(context.config.autoCreate);
    } catch (error) {
      backend.journal?.close();
      lock.release();
      throw error;
    }
    return backend;
  }

  private file(name: string): string {
    return inDirectory(this.dir, name);
  }

  private load(autoCreate: boolean): void {
    const catalogFile = this.file(CATALOG_FILE);
    if (fs.existsSync(catalogFile)) {
      const { value, sealed } = readJsonFile(catalogFile);
      const problem = catalogProblem(value, sealed);
      if (problem) throw new CorruptionError(`${catalogFile}: ${problem}`, { file: catalogFile });
      const { crc: _seal, ...catalog } = value as Catalog & { crc?: string };
      this.catalog = catalog;
    } else {
      this.refuseDataWithoutCatalog(catalogFile);
    }
    const entities = new Map(this.context.schemas.map((s) => [s.table, s]));
    const heap = new HeapBudget();
    // Repeated string values are held once across every row this load decodes (snapshots and journal).
    const strings = new StringPool();
    for (const [name, entry] of Object.entries(this.catalog.tables)) {
      if (!isTableFileOf(name, entry.file)) {
        throw new CorruptionError(`${catalogFile}: table "${name}" names the file ${JSON.stringify(entry.file)}, expected "${tableFileName(name)}"`, { file: catalogFile, table: name });
      }
      this.loadTable(name, entry, entities.get(name), heap, strings, autoCreate);
    }
    const journalFile = this.file(JOURNAL_FILE);
    if (fs.existsSync(journalFile)) heap.reserveBytes(journalFile, fs.statSync(journalFile).size);
    // Rows: every op but a line's first follows the `],[` that ends the op before it (json values may add a few: an overestimate).
    const contents = readJournal(journalFile, (data) => heap.reserveRows(journalFile, occurrences(data, 10) + occurrences(data, "],[")));
    let seq = this.catalog.seq;
    for (const state of this.tables.values()) seq = Math.max(seq, state.seq);
    for (const entry of contents.entries) {
      // Lines the catalog's snapshots already include (a crash came before the journal was emptied);
      // after a schema change they may name tables that no longer exist.
      if (entry.seq <= this.catalog.seq) continue;
      for (const op of entry.ops) this.replay(op, entry.seq, entry.line, journalFile, strings);
      seq = Math.max(seq, entry.seq);
    }
    if (contents.goodLength !== contents.length) {
      this.context.logger.warn(`${journalFile}: discarded a torn last line (${contents.length - contents.goodLength} bytes) left by a crash while committing`);
    }
    this.journal = FileJournal.open(journalFile, contents.goodLength, seq, this.durable);
    if (autoCreate) {
      // Full-text indexes that autoCreate gave stored tables (see loadTable): the catalog records them.
      const grown = [...this.tables.values()].filter((state) => state.entry !== this.catalog.tables[state.name]);
      if (grown.length > 0) this.writeCatalog({ ...this.catalog, tables: { ...this.catalog.tables, ...Object.fromEntries(grown.map((state) => [state.name, state.entry])) } });
      const missing = this.context.schemas.filter((s) => !this.catalog.tables[s.table]);
      if (missing.length > 0) this.createTables(missing);
    }
  }

  /**
   * A directory without a catalog is new, unless it holds data: snapshots with rows or a non-empty
   * journal. Opening that as an empty database (and writing a catalog over it) would lose the tables.
   */
  private refuseDataWithoutCatalog(catalogFile: string): void {
    const found: string[] = [];
    for (const name of fs.readdirSync(this.dir).sort()) {
      const file = this.file(name);
      if (name === JOURNAL_FILE ? fs.statSync(file).size > 0 : name.endsWith(TABLE_FILE_SUFFIX) && !isEmptyNewSnapshot(file)) found.push(file);
    }
    if (found.length === 0) return;
    throw new CorruptionError(
      `${catalogFile} is missing, but the directory holds data: ${found.join(", ")}. Strata will not open it as an empty database, ` +
        `which would overwrite them. Restore catalog.json from a backup (with backup.enabled, each backups/generation-*/data/ holds one; or run strata backup restore).`,
      { file: catalogFile },
    );
  }

  private loadTable(name: string, entry: CatalogTable, entity: EntitySchema | undefined, heap: HeapBudget, strings: StringPool, autoCreate: boolean): void {
    let schema = entity;
    const mismatch = entity && catalogMismatch(entity, entry);
    if (!entity || mismatch) {
      if (mismatch) this.context.logger.warn(`Table "${name}" as stored does not fit ${entity!.entityName} (${mismatch}); run the migration that changes it`);
      // Not bound to any entity: an entity that uses it later binds to it, or gets a SchemaError naming the column.
      schema = schemaOfCatalogTable(name, entry, `the stored table "${name}" (columns differ from the entity: run migrations)`, MigrationTable);
    } else if (entry.foreignKeys?.length) {
      // The foreign keys a migration stored, which the entity does not declare, stay enforced (and stored).
      schema = withHeldForeignKeys([entity!], new Map([[name, entry.foreignKeys]]), () => undefined)[0] as EntitySchema;
    }
    if (entity && !mismatch) {
      // The full-text index the directory holds, as on SQL (the entity's declaration alone creates none);
      // with autoCreate, the entity's where none is stored, then recorded in the catalog (load writes it).
      const stored = catalogFullText(schema!, entry);
      const wanted = stored ?? (autoCreate ? entity.fullText : undefined);
      if (!sameFullTextIndex(wanted, schema!.fullText)) schema = withFullText(schema!, wanted);
      if (!stored && wanted) {
        const nameOf = (property: string) => schema!.columnsByProperty.get(property)?.name ?? property;
        entry = { ...entry, fullText: { name: wanted.name, columns: wanted.properties.map(nameOf) } };
      }
    }
    const file = this.file(entry.file);
    if (fs.existsSync(file)) heap.reserveBytes(file, fs.statSync(file).size, name);
    // A snapshot holds one row per line.
    const snapshot = readSnapshot(file, name, (data) => heap.reserveRows(file, occurrences(data, 10), name));
    const table = this.db.ensureTable(schema!);
    const codec = trackedCodec(schema!);
    const pk = schema!.primary.property;
    const rows = snapshot.rows;
    for (let i = 0; i < rows.length; i++) {
      // Each parsed row is decoded in place where it can be (see RowCodec.decode): the snapshot is ours alone.
      const row = codec.decode(rows[i], file, `row ${i + 1}`, strings);
      // The seal catches a changed byte; this catches a v0.1 file (no seal) edited into two rows with one key.
      if (table.rows.has(row[pk] as Key)) {
        throw new CorruptionError(`${file}: row ${i + 1} of table "${name}" repeats the primary key ${JSON.stringify(row[pk])} of an earlier row`, { file, table: name });
      }
      table.put(row);
    }
    this.tables.set(name, { name, entry, codec, table, seq: snapshot.seq, dirty: false, legacy: snapshot.legacy });
  }

  private replay(op: JournalOp, seq: number, line: number, file: string, strings: StringPool): void {
    const [tableName, key, stored] = Array.isArray(op) ? op : [];
    const state = typeof tableName === "string" ? this.tables.get(tableName) : undefined;
    if (!state || (typeof key !== "string" && typeof key !== "number")) {
      throw new CorruptionError(`${file}:${line} changes ${state ? "a row without a key" : `the unknown table ${JSON.stringify(tableName)}`}`, { file });
    }
    // The snapshot already includes this line (a compaction was interrupted before emptying the journal).
    if (seq <= state.seq) return;
    if (stored === null) state.table.remove(key);
    else state.table.put(state.codec.decode(stored, file, `line ${line}`, strings));
    state.dirty = true;
  }

  /** Adds tables to the catalog: empty snapshots first, then the catalog naming them. */
  private createTables(schemas: readonly EntitySchema[]): void {
    const tables = { ...this.catalog.tables };
    for (const schema of schemas) {
      const entry = catalogTableOf(schema, tableFileName(schema.table));
      writeFileAtomic(this.file(entry.file), snapshotText(schema.table, 0, []), this.durable);
      tables[schema.table] = entry;
    }
    this.writeCatalog({ ...this.catalog, tables });
    for (const schema of schemas) {
      const entry = tables[schema.table]!;
      this.tables.set(schema.table, { name: schema.table, entry, codec: trackedCodec(schema), table: this.db.ensureTable(schema), seq: 0, dirty: false, legacy: false });
    }
  }

  /** Replaces the catalog; `notWritten` runs when the old one stays (writeFileAtomic failed before its rename). */
  private writeCatalog(written: Catalog, notWritten?: () => void): void {
    // A catalog read from v0.1 says format 1; what is written now is always sealed.
    const catalog = { ...written, format: CATALOG_FORMAT };
    try {
      writeFileAtomic(this.file(CATALOG_FILE), catalogText(catalog), this.durable);
    } catch (error) {
      notWritten?.();
      throw error;
    }
    if (this.durable) fsyncDirectory(this.dir);
    this.catalog = catalog;
  }

  protected override createSession(committed: WriteSet): DataSession {
    const base = super.createSession(committed);
    // A read waits for flushes in progress: it must not return a commit that a power loss could still take back.
    // The journal is read at each call: this runs from the base constructor, before load() opens it. With
    // nothing pending the read's own promise is returned, without the extra hop an async wrapper adds
    // (cache off, file.findById went from 0.70-0.84 of memory.findById to 0.90-0.93).
    return forwardSession(
      () => base,
      (call) => {
        const wait = this.journal?.pendingFlush();
        return wait ? wait.then(call) : call();
      },
      READ_METHODS,
    );
  }

  protected override async persist(changes: Change[]): Promise<Persisted | void> {
    if (this.closed) throw new TransactionError(`The file storage on ${this.dir} is closed`, { file: this.dir });
    if (this.journal.size >= this.compactAfterBytes) await this.compactForCommit();
    const ops: JournalOp[] = new Array(changes.length);
    for (let i = 0; i < changes.length; i++) {
      const change = changes[i]!;
      const state = this.tables.get(change.table)!;
      state.dirty = true;
      ops[i] = [change.table, change.key, change.row ? codecOf(state).encode(change.row) : null];
    }
    let durable: Promise<void> | undefined;
    try {
      durable = this.journal.append(ops);
    } catch (error) {
      throw this.writeFailed(`append to ${this.journal.file}`, this.journal.file, error);
    }
    if (!durable) return;
    return { durable: durable.catch((error: unknown) => Promise.reject(this.flushFailed(error))) };
  }

  /**
   * A failed flush of a commit's line. Unlike a failed append, the line is in the file, so the commit may
   * come back on reopen: saying it "was not made" would be false. The journal is poisoned from here on.
   */
  private flushFailed(error: unknown): StorageError {
    if (error instanceof StorageError) return error;
    const file = this.journal.file;
    return new TransactionError(
      `Could not flush ${file} (${(error as Error)?.message ?? String(error)}): this commit may or may not be on disk, and this storage ` +
        `refuses every later write. Close it and open the directory again: reopening keeps every commit acknowledged before, and ` +
        `shows whether this one was kept.`,
      { file, cause: error },
    );
  }

  private writeFailed(what: string, file: string, error: unknown): StorageError {
    if (error instanceof StorageError) return error;
    const full = diskFullError(error, file, `${what} (the commit was not made)`);
    if (full) return full;
    return new TransactionError(`Could not ${what}: ${(error as Error)?.message ?? String(error)}; the commit was not made`, { file, cause: error });
  }

  private async compactForCommit(): Promise<void> {
    try {
      await this.compact();
    } catch (error) {
      this.context.logger.error(`Compaction of ${this.dir} failed; the journal is intact and the next commit retries`, error);
      if (error instanceof StorageError) throw error;
      throw this.writeFailed(`compact ${this.dir} before this commit`, this.dir, error);
    }
  }

  /**
   * Folds the journal into the snapshots. Called with the writer held. Crash-safe at every step: each
   * snapshot is replaced atomically and records the journal seq it includes, so a crash after some
   * renames replays only the newer lines into the older snapshots; the journal is emptied last.
   */
  private async compact(): Promise<void> {
    await this.journal.flush();
    const seq = this.journal.seq;
    if (this.context.config.backup.enabled) {
      // A compaction runs inside a user's commit: a generation that cannot be made (full or read-only
      // backup disk) is a warning, never a failed write. The compaction itself is crash-safe without it.
      await this.backupGeneration(seq).catch((error: unknown) => {
        try {
          this.context.logger.warn(`The backup before compacting ${this.dir} failed; compacting without it: ${(error as Error)?.message ?? String(error)}`, error);
        } catch {
          // A logger that throws (a closed log sink) must not turn the warning into a failed commit.
        }
      });
    }
    // Tables still under a schema change's generation name move back to their plain name; the catalog's
    // rename switches to them, so their old files are removed only after it.
    const moved: string[] = [];
    const tables = { ...this.catalog.tables };
    const rewrite = [...this.tables.values()].filter((s) => s.dirty || s.legacy || s.entry.file !== tableFileName(s.name));
    for (const state of rewrite) {
      const file = tableFileName(state.name);
      writeFileAtomic(this.file(file), this.snapshotOf(state, seq), this.durable);
      if (file !== state.entry.file) {
        moved.push(state.entry.file);
        tables[state.name] = { ...state.entry, file };
      }
    }
    this.writeCatalog({ ...this.catalog, seq, tables });
    this.journal.reset();
    for (const state of rewrite) {
      state.seq = seq;
      state.dirty = false;
      state.legacy = false;
      state.entry = tables[state.name]!;
    }
    for (const file of moved) fs.rmSync(this.file(file), { force: true });
  }

  /**
   * Makes `database` (every table, in its new shape: the migration runner's shadow copy) the durable
   * state of this directory, for schema changes. Call with the writer held, then swap the tables in.
   * Crash-safe: the snapshots go to new generation file names, the catalog's rename is the switch, and
   * the journal (whose lines the snapshots include) is emptied after it.
   */
  protected async checkpointSchema(database: MemoryDatabase): Promise<void> {
    await this.journal.flush();
    const seq = this.journal.seq;
    const generation = (this.catalog.generation ?? 0) + 1;
    if (this.context.config.backup.enabled) await this.backupGeneration(seq);
    const tables: Record<string, CatalogTable> = {};
    const states: TableState[] = [];
    // Until the catalog names them the new files are only space taken, which on a full disk a retry needs.
    const removeNew = () => {
      for (const state of states) fs.rmSync(this.file(state.entry.file), { force: true });
    };
    try {
      for (const [name, table] of database.tables) {
        const entry = catalogTableOf(table.schema, tableFileName(name, generation));
        const state: TableState = { name, entry, codec: trackedCodec(table.schema), table, seq, dirty: false, legacy: false };
        states.push(state);
        writeFileAtomic(this.file(entry.file), this.snapshotOf(state, seq), this.durable);
        tables[name] = entry;
      }
    } catch (error) {
      removeNew();
      throw error;
    }
    const old = Object.values(this.catalog.tables).map((t) => t.file);
    this.writeCatalog({ format: CATALOG_FORMAT, seq, generation, tables }, removeNew);
    this.journal.reset();
    this.tables.clear();
    for (const state of states) this.tables.set(state.name, state);
    for (const file of old) fs.rmSync(this.file(file), { force: true });
  }

  /** A migration's commit: the shadow database becomes the directory's state (then the base swaps it in as the live one). */
  protected override async persistSchema(shadow: MemoryDatabase): Promise<Persisted | void> {
    if (this.closed) throw new TransactionError(`The file storage on ${this.dir} is closed`, { file: this.dir });
    try {
      await this.checkpointSchema(shadow);
    } catch (error) {
      throw this.writeFailed(`write the schema change to ${this.dir}`, this.dir, error);
    }
  }

  private snapshotOf(state: TableState, seq: number): string {
    const rows = state.table.rows.values();
    const encode = codecOf(state).encode;
    return snapshotText(state.name, seq, (function* () {
      for (const row of rows) yield encode(row);
    })());
  }

  /** Writes the committed state as a fresh file-backend directory at `target` (which must not hold files). */
  private writeCopy(target: string, seq: number): void {
    const temp = `${target}.tmp-${randomUUID()}`;
    fs.mkdirSync(temp, { recursive: true });
    try {
      const tables: Record<string, CatalogTable> = {};
      for (const state of this.tables.values()) {
        tables[state.name] = { ...state.entry, file: tableFileName(state.name) };
        writeFileAtomic(path.join(temp, tables[state.name]!.file), this.snapshotOf(state, seq), this.durable);
      }
      const catalog: Catalog = { format: CATALOG_FORMAT, seq, ...(this.catalog.generation ? { generation: this.catalog.generation } : {}), tables };
      writeFileAtomic(path.join(temp, CATALOG_FILE), catalogText(catalog), this.durable);
      writeFileAtomic(path.join(temp, JOURNAL_FILE), "", this.durable);
      if (this.durable) fsyncDirectory(temp);
      if (fs.existsSync(target) && fs.readdirSync(target).length === 0) fs.rmdirSync(target);
      fs.renameSync(temp, target);
      if (this.durable) fsyncDirectory(path.dirname(target));
    } catch (error) {
      fs.rmSync(temp, { recursive: true, force: true });
      throw error;
    }
  }

  /**
   * Keeps the state before a compaction or a schema change as a generation of the shared store (the same
   * directory and format as the scheduled ones), and only the newest `keep`. Called with the writer held.
   */
  private async backupGeneration(seq: number): Promise<void> {
    const { dir, keep } = this.context.config.backup;
    const started = performance.now();
    const generation = await createGeneration(dir ?? this.file("backups"), {
      reason: "compaction",
      backend: this.name,
      source: this.dir,
      dataName: "data",
      write: (dataPath) => this.writeCopy(dataPath, seq),
      // One count with the scheduled, pre-migration and manual generations of this directory (README, "Backups").
      keep,
      durable: this.durable,
    });
    const durationMs = Math.round(performance.now() - started);
    this.context.reportBackup?.({ generation: generation.name, path: generation.path, reason: "compaction", durationMs, sizeBytes: generation.manifest.sizeBytes });
  }

  async backup(targetPath: string): Promise<void> {
    if (typeof targetPath !== "string" || targetPath === "") throw new ConfigError(["backup: expected a target directory path"]);
    const target = path.resolve(targetPath);
    // The generations directory is the one place inside the data directory a copy may go (src/backup/ writes there).
    const generations = this.context.config.backup.dir ?? this.file("backups");
    if ((target === this.dir || target.startsWith(this.dir + path.sep)) && !target.startsWith(generations + path.sep)) {
      throw new ConfigError([`backup: the target ${target} is inside the data directory ${this.dir}; choose another directory`]);
    }
    if (fs.existsSync(target) && (!fs.statSync(target).isDirectory() || fs.readdirSync(target).length > 0)) {
      throw new ConfigError([`backup: ${target} already exists and is not an empty directory; choose a new path`], { file: target });
    }
    const release = await this.acquireWriter();
    try {
      await this.journal.flush();
      fs.mkdirSync(path.dirname(target), { recursive: true });
      this.writeCopy(target, this.journal.seq);
    } finally {
      release();
    }
  }

  /** Compacts (so the snapshots show the data), then releases the directory. */
  override async close(): Promise<void> {
    if (this.closed) return;
    let release: (() => void) | undefined;
    try {
      release = await this.acquireWriter();
    } catch {
      this.context.logger.warn(`Closing ${this.dir} while a transaction still holds the writer; its commit will fail`);
    }
    try {
      const renamed = [...this.tables.values()].some((t) => t.entry.file !== tableFileName(t.name));
      if (release && (this.journal.size > 0 || renamed)) {
        await this.compact().catch((error: unknown) => this.context.logger.error(`Compaction on close of ${this.dir} failed; the journal keeps every commit`, error));
      }
      await this.journal.flush().catch(() => {});
    } finally {
      this.closed = true;
      this.journal.close();
      this.lock.release();
      release?.();
    }
  }
}

/** True for a snapshot with no rows at seq 0: what a first open writes before its catalog, nothing to lose. */
function isEmptyNewSnapshot(file: string): boolean {
  try {
    const { value } = readJsonFile(file);
    const v = value as { seq?: unknown; rows?: unknown };
    return v.seq === 0 && Array.isArray(v.rows) && v.rows.length === 0;
  } catch {
    return false;
  }
}

/** `schema` with `fullText` as its full-text index (none when undefined). */
function withFullText(schema: EntitySchema, fullText: FullTextSchema | undefined): EntitySchema {
  const { fullText: _held, ...parts } = schema;
  return buildEntitySchema({ ...parts, ...(fullText ? { fullText } : {}) });
}

/** The codecs' schemas: a table's codec is rebuilt when its schema object changed (an entity bound to it). */
const codecSchemas = new WeakMap<RowCodec, EntitySchema>();

/** The state's codec for the table's current schema (rows are keyed by the bound entity's properties). */
function codecOf(state: TableState): RowCodec {
  if (codecSchemas.get(state.codec) !== state.table.schema) state.codec = trackedCodec(state.table.schema);
  return state.codec;
}

/** A row codec that remembers the schema it was made for. */
function trackedCodec(schema: EntitySchema): RowCodec {
  const codec = makeRowCodec(schema);
  codecSchemas.set(codec, schema);
  return codec;
}

/** The factory registered as `file`. */
export async function createFileBackend(context: BackendContext): Promise<Backend> {
  return FileBackend.open(context);
}
