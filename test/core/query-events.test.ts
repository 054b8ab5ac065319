/**
 * `storage.on("query")`, `logQueries` and `telemetry` (README, "Observing queries"), on every backend: what a
 * user sees for a save and a find (the SQL run and the values bound on SQLite and PostgreSQL, the plan on
 * memory and file), the operation each repository call reports, events inside transactions and of failed
 * operations, a throwing listener, the log lines, the OpenTelemetry spans, and the config's checks.
 */
import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Logger, QueryEvent, Storage, StorageConfig } from "../../src/index.js";
import { ConfigError, createStorage, IntegrityError } from "../../src/index.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "../postgres/pg-test-database.js";
import { backendSelected } from "../sql/sql-backend-cases.js";
import { configError } from "../support/config-error.js";

@Entity("obs_notes")
@Index("obs_notes_status", ["status"])
class Note {
  @PrimaryColumn({ type: "varchar" }) id: string;
  @Column({ type: "varchar" }) status: string;
  @Column({ type: "integer" }) size: number;
}

const note = (id: string, status = "open", size = 1): Note => ({ id, status, size });

/** Opens a fresh storage of the backend under test, with `options` added. */
type Open = (options?: Partial<StorageConfig>) => Promise<Storage>;

/** A logger that keeps what it is given, by level. */
function capturingLogger(): Logger & { lines: Array<[level: string, message: string]> } {
  const lines: Array<[string, string]> = [];
  const keep = (level: string) => (message: string) => void lines.push([level, message]);
  return { lines, debug: keep("debug"), info: keep("info"), warn: keep("warn"), error: keep("error") };
}

/** The events `storage` reports while `work` runs. */
async function eventsOf(storage: Storage, work: () => Promise<unknown>): Promise<QueryEvent[]> {
  const events: QueryEvent[] = [];
  const off = storage.on("query", (e) => events.push(e));
  try {
    await work();
  } finally {
    off();
  }
  return events;
}

function queryEventCases(name: string, open: Open): void {
  const sqlBackend = name === "sqlite" || name === "postgres";
  const placeholder = (n: number) => (name === "postgres" ? `\\$${n}` : "\\?");

  describe(`${name}: query events`, () => {
    test("a save and a find: one event each, with the SQL run and the values bound (SQL backends) or the plan (memory, file)", async () => {
      const storage = await open();
      try {
        const notes = storage.repository(Note);
        const events = await eventsOf(storage, async () => {
          await notes.save(note("a", "open", 3));
          await notes.findAll({ where: { status: "open" } });
        });
        expect(events.map(({ backend, table, operation, rows, inTransaction }) => ({ backend, table, operation, rows, inTransaction }))).toEqual([
          { backend: name, table: "obs_notes", operation: "upsert", rows: 1, inTransaction: false },
          { backend: name, table: "obs_notes", operation: "find", rows: 1, inTransaction: false },
        ]);
        for (const e of events) expect(e.durationMs).toBeGreaterThanOrEqual(0);
        const [save, find] = events as [QueryEvent, QueryEvent];
        if (sqlBackend) {
          expect(save.sql).toMatch(new RegExp(`^INSERT INTO "obs_notes" \\("id", "status", "size"\\) VALUES \\(${placeholder(1)}, ${placeholder(2)}, ${placeholder(3)}\\)`));
          expect(save.params).toEqual(["a", "open", 3]);
          expect(find.sql).toMatch(new RegExp(`^SELECT "id"( COLLATE "C" AS "id")?, "status", "size" FROM "obs_notes" WHERE "status"( COLLATE "C")? = ${placeholder(1)}`));
          expect(find.params).toEqual(["open"]);
          // The values are bound, never in the text.
          expect(save.sql).not.toContain("open");
          expect(save.plan).toBeUndefined();
        } else {
          expect(save.sql).toBeUndefined();
          expect(save.params).toBeUndefined();
          expect(find.plan).toBe("index obs_notes_status");
          await expect(eventsOf(storage, () => notes.findById("a"))).resolves.toMatchObject([{ operation: "findById", plan: "primary key", rows: 1 }]);
          await expect(eventsOf(storage, () => notes.count({ size: 3 }))).resolves.toMatchObject([{ operation: "count", plan: "scan", rows: 1 }]);
        }
      } finally {
        await storage.close();
      }
    });

    test("each repository call reports its backend operations, with the rows read or written", async () => {
      // Without a cache: an L1 hit (on by default on memory and file) reaches no backend, and reports nothing.
      const storage = await open({ cache: false });
      try {
        const notes = storage.repository(Note);
        await notes.saveMany([note("a"), note("b"), note("c", "done")]);
        const seen = async (work: () => Promise<unknown>) => (await eventsOf(storage, work)).map((e) => [e.operation, e.rows]);
        expect(await seen(() => notes.findById("a"))).toEqual([["findById", 1]]);
        expect(await seen(() => notes.findById("zz"))).toEqual([["findById", 0]]);
        expect(await seen(() => notes.findByIds(["a", "c", "zz"]))).toEqual([["findByIds", 2]]);
        expect(await seen(() => notes.findOne({ where: { status: "open" } }))).toEqual([["find", 1]]);
        expect(await seen(() => notes.findPage({ first: 2 }))).toEqual([["find", 3]]);
        expect(await seen(() => notes.count({ status: "open" }))).toEqual([["count", 2]]);
        expect(await seen(() => notes.insert(note("d")))).toEqual([["insert", 1]]);
        expect(await seen(() => notes.update("d", { size: 9 }))).toEqual([["update", 1]]);
        expect(await seen(() => notes.delete("d"))).toEqual([["delete", 1]]);
        expect(await seen(() => notes.saveMany([note("e"), note("f")]))).toEqual([["upsertMany", 2]]);
        expect(await seen(() => notes.deleteMany({ status: "done" }))).toEqual([["deleteMany", 1]]);
        // A walk: its pages (a stream's, or keyset finds) hold every row once.
        const walk = await eventsOf(storage, async () => {
          for await (const n of notes.iterate({ orderBy: { size: "desc" } }, { pageSize: 2 })) void n;
        });
        expect(walk.every((e) => e.operation === "stream" || e.operation === "find")).toBe(true);
        expect(walk.reduce((n, e) => n + e.rows, 0)).toBe(4);
      } finally {
        await storage.close();
      }
    });

    test("inside a transaction: each operation is reported as it ends, marked inTransaction, even when the transaction rolls back", async () => {
      const storage = await open();
      try {
        const events: QueryEvent[] = [];
        storage.on("query", (e) => events.push(e));
        await expect(
          storage.transaction(async (tx) => {
            await tx.repository(Note).save(note("t"));
            expect(events.map((e) => [e.operation, e.inTransaction])).toEqual([["upsert", true]]);
            throw new Error("roll back");
          }),
        ).rejects.toThrow("roll back");
        await storage.repository(Note).count();
        expect(events.map((e) => [e.operation, e.inTransaction, e.rows])).toEqual([
          ["upsert", true, 1],
          ["count", false, 0],
        ]);
      } finally {
        await storage.close();
      }
    });

    test("a failed operation is reported with its error and no rows; the caller gets the same error", async () => {
      const storage = await open();
      try {
        const notes = storage.repository(Note);
        await notes.insert(note("a"));
        let thrown: unknown;
        const events = await eventsOf(storage, () => notes.insert(note("a")).catch((error: unknown) => void (thrown = error)));
        expect(thrown).toBeInstanceOf(IntegrityError);
        expect(events).toHaveLength(1);
        expect(events[0]).toMatchObject({ operation: "insert", table: "obs_notes", rows: 0 });
        expect(events[0]!.error).toBe(thrown);
        if (sqlBackend) expect(events[0]!.params).toEqual(["a", "open", 1]);
      } finally {
        await storage.close();
      }
    });

    test("a listener that throws does not fail the operation, and is logged once", async () => {
      const logger = capturingLogger();
      const storage = await open({ logger });
      try {
        const heard: string[] = [];
        storage.on("query", () => {
          throw new Error("listener bug");
        });
        storage.on("query", (e) => heard.push(e.operation));
        const notes = storage.repository(Note);
        await notes.save(note("a"));
        await expect(notes.findById("a")).resolves.toEqual(note("a"));
        expect(heard).toEqual(["upsert", "findById"]);
        const errors = logger.lines.filter(([level]) => level === "error");
        expect(errors).toHaveLength(1);
        expect(errors[0]![1]).toContain("listener bug");
      } finally {
        await storage.close();
      }
    });

    test("a listener removed (off, or the function on returns) hears nothing more", async () => {
      const storage = await open();
      try {
        const a: string[] = [];
        const b: string[] = [];
        const listenA = (e: QueryEvent) => void a.push(e.operation);
        storage.on("query", listenA);
        const offB = storage.on("query", (e) => void b.push(e.operation));
        const notes = storage.repository(Note);
        await notes.count();
        storage.off("query", listenA);
        offB();
        await notes.count();
        expect([a, b]).toEqual([["count"], ["count"]]);
      } finally {
        await storage.close();
      }
    });

    test("logQueries: true writes every operation at debug level; { slowMs } only those that slow, at warn level", async () => {
      const all = capturingLogger();
      const storage = await open({ logger: all, logQueries: true });
      try {
        await storage.repository(Note).save(note("a", "open", 7));
        expect(all.lines).toHaveLength(1);
        const [level, line] = all.lines[0]!;
        expect(level).toBe("debug");
        expect(line).toMatch(new RegExp(`^${name} upsert "obs_notes": 1 row in \\d+\\.\\d\\d ms`));
        if (sqlBackend) {
          expect(line).toContain(`| INSERT INTO "obs_notes"`);
          expect(line).toContain(`| params [ 'a', 'open', 7 ]`);
        }
      } finally {
        await storage.close();
      }
      // Every duration is at least 0 ms, none reaches an hour: no timing is asserted.
      const slow = capturingLogger();
      const fast = capturingLogger();
      const storages = [await open({ logger: slow, logQueries: { slowMs: 0 } }), await open({ logger: fast, logQueries: { slowMs: 3_600_000 } })];
      try {
        for (const s of storages) await s.repository(Note).count();
        expect(slow.lines.map(([level]) => level)).toEqual(["warn"]);
        expect(slow.lines[0]![1]).toMatch(new RegExp(`^slow query \\(0 ms or more\\): ${name} count "obs_notes": 0 rows in`));
        expect(fast.lines).toEqual([]);
      } finally {
        for (const s of storages) await s.close();
      }
    });

    test("telemetry: each operation is a CLIENT span with the database semantic conventions' attributes; a failure sets ERROR", async () => {
      const exporter = new InMemorySpanExporter();
      const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
      const storage = await open({ telemetry: { tracerProvider } });
      try {
        const notes = storage.repository(Note);
        await notes.save(note("a"));
        await notes.findAll({ where: { status: "open" } });
        await expect(notes.insert(note("a"))).rejects.toThrow(IntegrityError);
        const spans = exporter.getFinishedSpans();
        expect(spans.map((s) => s.name)).toEqual(["upsert obs_notes", "find obs_notes", "insert obs_notes"]);
        const system = { postgres: "postgresql" }[name] ?? name;
        for (const span of spans) {
          expect(span.kind).toBe(SpanKind.CLIENT);
          expect(span.instrumentationScope.name).toBe("stratastore");
          expect(span.attributes).toMatchObject({ "db.system": system, "db.system.name": system, "db.collection.name": "obs_notes" });
        }
        expect(spans.map((s) => s.attributes["db.operation.name"])).toEqual(["upsert", "find", "insert"]);
        expect(spans[1]!.attributes["db.response.returned_rows"]).toBe(1);
        if (sqlBackend) {
          expect(spans[1]!.attributes["db.query.text"]).toMatch(/^SELECT "id"( COLLATE "C" AS "id")?, "status", "size" FROM "obs_notes" WHERE/);
          // Values stay out of spans.
          expect(JSON.stringify(spans.map((s) => s.attributes))).not.toContain("open");
        } else expect(spans[1]!.attributes["db.query.text"]).toBeUndefined();
        expect(spans.map((s) => s.status.code)).toEqual([SpanStatusCode.UNSET, SpanStatusCode.UNSET, SpanStatusCode.ERROR]);
        expect(spans[2]!.attributes["error.type"]).toBe("STRATA_INTEGRITY");
        expect(spans[2]!.events.map((e) => e.name)).toEqual(["exception"]);
      } finally {
        await storage.close();
        await tracerProvider.shutdown();
      }
    });

    if (sqlBackend) {
      test("storage.sql: one sql event, no table, the values bound as params", async () => {
        const storage = await open();
        try {
          await storage.repository(Note).saveMany([note("a", "open", 5), note("b", "open", 1)]);
          const events = await eventsOf(storage, () => storage.sql`select id from obs_notes where size >= ${2} and status = ${"open"}`);
          expect(events).toHaveLength(1);
          expect(events[0]).toMatchObject({ operation: "sql", table: undefined, rows: 1, params: [2, "open"] });
          expect(events[0]!.sql).toMatch(new RegExp(`where size >= ${placeholder(1)} and status = ${placeholder(2)}$`));
        } finally {
          await storage.close();
        }
      });
    }
  });
}

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(path.join(tmpdir(), "strata-events-"));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const base = { entities: [Note], autoCreate: true };
if (backendSelected("memory")) queryEventCases("memory", (options) => createStorage({ url: "memory:", ...base, ...options }));
if (backendSelected("file")) queryEventCases("file", (options) => createStorage({ url: `file:${tempDir()}`, ...base, ...options }));
if (backendSelected("sqlite")) queryEventCases("sqlite", (options) => createStorage({ url: `sqlite:${path.join(tempDir(), "events.db")}`, ...base, ...options }));
if (backendSelected("postgres")) {
  const skip = pgSkipReason();
  if (skip) describe("postgres: query events", () => test.skip(skip, () => {}));
  else {
    let db: PgTestDatabase | undefined;
    beforeAll(async () => {
      db = await PgTestDatabase.create(PG_URL!);
    });
    afterAll(async () => {
      await db?.drop();
    });
    queryEventCases("postgres", async (options) => createStorage({ url: await db!.freshSchemaUrl(), ...base, ...options }));
  }
}

describe("query events: options", () => {
  test("logQueries and telemetry are checked: a ConfigError names the field", async () => {
    expect((await configError({ url: "memory:", logQueries: "yes" })).issues).toEqual([`logQueries: expected true, false or { slowMs }, got the string "yes"`]);
    expect((await configError({ url: "memory:", logQueries: { slowMs: -1 } })).issues).toEqual(["logQueries.slowMs: expected a number of ms, 0 or more, got the number -1"]);
    expect((await configError({ url: "memory:", logQueries: { slowMs: "5" } })).issues).toEqual([`logQueries.slowMs: expected a number of ms, 0 or more, got the string "5"`]);
    expect((await configError({ url: "memory:", logQueries: { slow: 5 } })).issues).toEqual(["logQueries.slow: unknown option"]);
    expect((await configError({ url: "memory:", telemetry: "on" })).issues).toEqual([`telemetry: expected true, false or { tracerProvider }, got the string "on"`]);
    expect((await configError({ url: "memory:", telemetry: { tracerProvider: {} } })).issues[0]).toMatch(/^telemetry\.tracerProvider: expected an OpenTelemetry TracerProvider/);
  });

  test("on and off take the one event, \"query\", and a function", async () => {
    const storage = await createStorage({ url: "memory:", entities: [Note] });
    try {
      expect(() => storage.on("queries" as "query", () => {})).toThrow(ConfigError);
      expect(() => storage.on("query", "log" as never)).toThrow(/on\("query", listener\): expected a function, got string/);
      expect(() => storage.off("change" as "query", () => {})).toThrow(ConfigError);
    } finally {
      await storage.close();
    }
  });

  test("telemetry: true takes the globally registered tracer provider", async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    expect(trace.setGlobalTracerProvider(provider)).toBe(true);
    const storage = await createStorage({ url: "memory:", entities: [Note], autoCreate: true, telemetry: true });
    try {
      await storage.repository(Note).count();
      expect(exporter.getFinishedSpans().map((s) => [s.name, s.attributes["db.system"]])).toEqual([["count obs_notes", "memory"]]);
    } finally {
      await storage.close();
      trace.disable();
      await provider.shutdown();
    }
  });
});
