/**
 * A backend without `supportsPartialUpsert` (test/fixtures/tiny-backend.ts, written from the SPI docs) saves a
 * partial entity as an update of the fields it gives, then an insert when no row has the key. Two saves of
 * the same new key at once both find no row: the second insert must not fail, nor wipe what the first wrote.
 */
import { describe, expect, test } from "vitest";
import { Column, Entity, PrimaryColumn, VersionColumn } from "typeorm";
import { ConcurrencyError, IntegrityError, createStorage } from "../../src/index.js";
import { tinyStore } from "../fixtures/tiny-backend.js";

@Entity("rvp_race_items")
class RaceItem {
  @PrimaryColumn({ type: "string" }) id!: string;
  @Column({ type: "string" }) name!: string;
  @Column({ type: "integer", nullable: true }) b!: number | null;
  @Column({ type: "string", nullable: true }) c!: string | null;
  @Column({ type: "string", nullable: true, unique: true }) code!: string | null;
}

@Entity("rvp_race_versioned")
class RaceVersioned {
  @PrimaryColumn({ type: "string" }) id!: string;
  @Column({ type: "string" }) name!: string;
  @Column({ type: "integer", nullable: true }) b!: number | null;
  @Column({ type: "string", nullable: true }) c!: string | null;
  @VersionColumn() version!: number;
}

const open = () => createStorage({ backend: tinyStore(), entities: [RaceItem, RaceVersioned], autoCreate: true });

describe("tiny (no supportsPartialUpsert): partial saves racing on a new key", () => {
  test("two partial saves of the same new key at once both succeed and both fields are kept", async () => {
    const storage = await open();
    const items = storage.repository(RaceItem);
    const [first, second] = await Promise.all([items.save({ id: "n", name: "a", b: 1 }), items.save({ id: "n", name: "a", c: "x" })]);
    expect([first.b, second.c]).toEqual([1, "x"]);
    expect({ ...(await items.findById("n")) }).toEqual({ id: "n", name: "a", b: 1, c: "x", code: null });
    await storage.close();
  });

  test("a unique clash on insert is still an IntegrityError, nothing written", async () => {
    const storage = await open();
    const items = storage.repository(RaceItem);
    await items.save({ id: "a", name: "a", code: "k" });
    await expect(items.save({ id: "b", name: "b", code: "k" })).rejects.toBeInstanceOf(IntegrityError);
    expect(await items.findById("b")).toBeNull();
    await storage.close();
  });

  test("a version given to the losing save is checked against the row the winner inserted", async () => {
    const storage = await open();
    const rows = storage.repository(RaceVersioned);
    const outcomes = await Promise.allSettled([rows.save({ id: "v", name: "a", b: 1 }), rows.save({ id: "v", name: "a", c: "z", version: 5 })]);
    expect(outcomes[0].status).toBe("fulfilled");
    expect(outcomes[1].status === "rejected" && outcomes[1].reason).toBeInstanceOf(ConcurrencyError);
    expect({ ...(await rows.findById("v")) }).toEqual({ id: "v", name: "a", b: 1, c: null, version: 1 });
    await storage.close();
  });
});
