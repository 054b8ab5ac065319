/**
 * Review of query events: reporting never changes an operation's outcome. A listener that throws was
 * already caught; a logger that throws under `logQueries` made a committed save reject (a caller retrying
 * it would write twice), and a failed operation's error was replaced by the logger's.
 */
import "reflect-metadata";
import { Column, Entity, PrimaryColumn } from "typeorm";
import { describe, expect, test } from "vitest";
import type { Logger } from "../../src/index.js";
import { ConfigError, createStorage, IntegrityError } from "../../src/index.js";

@Entity("rv_logger_notes")
class Note {
  @PrimaryColumn({ type: "varchar" }) id: string;
  @Column({ type: "varchar" }) text: string;
}

describe("memory: a logger that throws", () => {
  test("logQueries with a throwing logger: the save resolves, a failed insert rejects with its own error", async () => {
    const fail = (): never => {
      throw new Error("log sink closed");
    };
    const logger: Logger = { debug: fail, info: fail, warn: fail, error: fail };
    const storage = await createStorage({ url: "memory:", entities: [Note], autoCreate: true, logger, logQueries: true });
    try {
      const notes = storage.repository(Note);
      await expect(notes.save({ id: "a", text: "x" })).resolves.toMatchObject({ id: "a" });
      await expect(notes.insert({ id: "a", text: "x" })).rejects.toThrow(IntegrityError);
      expect(await notes.count()).toBe(1);
    } finally {
      await storage.close();
    }
  });

  test("on with a symbol for the event name: a ConfigError that shows it", async () => {
    const storage = await createStorage({ url: "memory:", entities: [Note] });
    try {
      expect(() => storage.on(Symbol("query") as never, () => {})).toThrow(ConfigError);
      expect(() => storage.on(Symbol("query") as never, () => {})).toThrow(/unknown event Symbol\(query\)/);
    } finally {
      await storage.close();
    }
  });
});
