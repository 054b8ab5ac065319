/**
 * Review of `m.insertRows` on a table an entity maps: a row left without its dates gets one instant for
 * both, as the repository's insert gives (createdAt equal to updatedAt), however slowly the clock is read.
 */
import "reflect-metadata";
import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from "typeorm";
import { afterEach, expect, test, vi } from "vitest";
import type { Storage } from "../../src/index.js";
import { createStorage, defineMigration } from "../../src/index.js";

@Entity("rvd_dated_notes")
class DatedNote {
  @PrimaryColumn({ type: "string" }) id: string;
  @Column({ type: "string" }) text: string;
  @CreateDateColumn() createdAt: Date;
  @UpdateDateColumn() updatedAt: Date;
}

let storage: Storage | undefined;
afterEach(async () => {
  vi.unstubAllGlobals();
  await storage?.close();
});

test("insertRows gives a row's create and update dates the same instant, as the repository does", async () => {
  storage = await createStorage({
    url: "memory:",
    autoCreate: false,
    entities: [DatedNote],
    migrations: [
      defineMigration({
        version: 1,
        name: "seed",
        async up(m) {
          await m.createTable("rvd_dated_notes", {
            id: { type: "string", primary: true },
            text: { type: "string" },
            createdAt: { type: "datetime" },
            updatedAt: { type: "datetime" },
          });
          await m.insertRows("rvd_dated_notes", [{ id: "n1", text: "hello" }]);
        },
      }),
    ],
  });
  // A clock that moves on between two readings, as a real one does across a millisecond boundary.
  const RealDate = Date;
  let ticks = 0;
  class TickingDate extends RealDate {
    constructor(...args: [] | [number]) {
      if (args.length === 0) super(RealDate.now() + ++ticks);
      else super(args[0]);
    }
  }
  vi.stubGlobal("Date", TickingDate);
  await storage.migrations.up();
  vi.unstubAllGlobals();
  const note = await storage.repository(DatedNote).findById("n1");
  expect(note?.updatedAt.getTime()).toBe(note?.createdAt.getTime());
  const saved = await storage.repository(DatedNote).insert({ id: "n2", text: "by the repository" });
  expect(saved.updatedAt.getTime()).toBe(saved.createdAt.getTime());
});
