/**
 * Review of query events: the zero-cost claim. While nothing observes, the repositories call the backend's
 * own session and no async context is entered; a listener switches to the observed view and removing it
 * switches back.
 */
import "reflect-metadata";
import { AsyncLocalStorage } from "node:async_hooks";
import { Column, Entity, PrimaryColumn } from "typeorm";
import { describe, expect, test, vi } from "vitest";
import { createStorage } from "../../src/index.js";
import { coreOf } from "../../src/storage-core.js";

@Entity("rv_zero_notes")
class Note {
  @PrimaryColumn({ type: "varchar" }) id: string;
  @Column({ type: "varchar" }) text: string;
}

describe("memory: nobody observing", () => {
  test("the session is the backend's own and no operation is traced through an AsyncLocalStorage; a listener observes, its removal stops it", async () => {
    const storage = await createStorage({ url: "memory:", entities: [Note], autoCreate: true, cache: false });
    const run = vi.spyOn(AsyncLocalStorage.prototype, "run");
    // The transaction manager keeps its ambient scope in an AsyncLocalStorage too: only the traces count here.
    const traced = () => run.mock.calls.filter(([store]) => typeof store === "object" && store !== null && "statements" in store).length;
    try {
      const core = coreOf(storage);
      const notes = storage.repository(Note);
      expect(core.session()).toBe(core.backend.session);
      await notes.save({ id: "a", text: "x" });
      await notes.findAll();
      expect(traced()).toBe(0);

      const off = storage.on("query", () => {});
      expect(core.session()).not.toBe(core.backend.session);
      await notes.findById("a");
      expect(traced()).toBeGreaterThan(0);

      off();
      run.mockClear();
      expect(core.session()).toBe(core.backend.session);
      await storage.transaction(async () => {
        expect(core.session()).toBe(core.transactions.current()!.session);
        await notes.save({ id: "b", text: "y" });
      });
      expect(traced()).toBe(0);
    } finally {
      run.mockRestore();
      await storage.close();
    }
  });
});
