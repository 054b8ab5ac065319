/**
 * Review of query events: a tracer provider that fails must not fail the storage's operations (a span's end
 * that throws already does not), and one that hands out no tracer is refused when the storage opens.
 */
import "reflect-metadata";
import { Column, Entity, PrimaryColumn } from "typeorm";
import { describe, expect, test } from "vitest";
import type { Logger, QueryEvent } from "../../src/index.js";
import { createStorage } from "../../src/index.js";
import { configError } from "../support/config-error.js";

@Entity("rv_tel_notes")
class Note {
  @PrimaryColumn({ type: "varchar" }) id: string;
  @Column({ type: "varchar" }) text: string;
}

describe("memory: telemetry that fails", () => {
  test("a tracer whose startSpan throws: the operation succeeds, listeners hear it, the failure is logged once", async () => {
    const errors: string[] = [];
    const logger: Logger = { debug() {}, info() {}, warn() {}, error: (message: string) => void errors.push(message) };
    const tracerProvider = {
      getTracer: () => ({
        startSpan(): never {
          throw new Error("exporter down");
        },
      }),
    };
    const storage = await createStorage({ url: "memory:", entities: [Note], autoCreate: true, logger, telemetry: { tracerProvider } });
    try {
      const events: QueryEvent[] = [];
      storage.on("query", (e) => events.push(e));
      const notes = storage.repository(Note);
      await notes.save({ id: "a", text: "hello" });
      await notes.save({ id: "b", text: "world" });
      expect(await notes.count()).toBe(2);
      expect(events.map((e) => e.operation)).toEqual(["upsert", "upsert", "count"]);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(/OpenTelemetry span.*exporter down/);
    } finally {
      await storage.close();
    }
  });

  test("a tracer provider whose tracer has no startSpan is a ConfigError naming telemetry.tracerProvider", async () => {
    const error = await configError({ url: "memory:", entities: [Note], telemetry: { tracerProvider: { getTracer: () => ({}) } } });
    expect(error.issues[0]).toMatch(/^telemetry\.tracerProvider: /);
  });
});
