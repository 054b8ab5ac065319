/**
 * save reads each property of the entity once: what it validates is what it writes. A property whose getter
 * answers differently on a second read (a Proxy, a lazy accessor) must not slip a null past the not-null check.
 */
import { describe, expect, test } from "vitest";
import { Column, Entity, PrimaryColumn } from "typeorm";
import { createStorage } from "../../src/index.js";

@Entity("rvp_read_once")
class ReadOnce {
  @PrimaryColumn({ type: "string" }) id!: string;
  @Column({ type: "string" }) name!: string;
  @Column({ type: "string", nullable: true }) note!: string | null;
}

describe("memory: a partial save reads each property once", () => {
  test("a getter undefined on its first read and set on the next leaves the stored value, never null", async () => {
    const storage = await createStorage({ url: "memory:", entities: [ReadOnce] });
    const rows = storage.repository(ReadOnce);
    await rows.save({ id: "a", name: "kept", note: "n" });
    let reads = 0;
    const entity = {
      id: "a",
      note: "changed",
      get name() {
        return reads++ === 0 ? undefined : "late";
      },
    };
    const saved = await rows.save(entity as unknown as ReadOnce);
    expect(saved.name).toBe("kept");
    expect({ ...(await rows.findById("a")) }).toEqual({ id: "a", name: "kept", note: "changed" });
    await storage.close();
  });
});
