import "reflect-metadata";
import { Column, Entity, PrimaryColumn } from "typeorm";
import { afterEach, describe, expect, test } from "vitest";
import type { Storage } from "../../src/index.js";
import { createStorage } from "../../src/index.js";

@Entity("rve_odd")
class RveOdd {
  @PrimaryColumn({ type: "integer" }) id!: number;
  @Column({ type: "varchar" }) "__proto__"!: string;
  @Column({ type: "varchar", name: "q" }) 'we"ird\u2028\'`${x}'!: string;
}
Column({ type: "varchar", name: "ctor" })(RveOdd.prototype, "constructor");

@Entity("rve_dates")
class RveDate {
  @PrimaryColumn({ type: "varchar" }) id!: string;
  @Column({ type: "datetime", nullable: true }) at!: Date | null;
  @Column({ type: "simple-json", nullable: true }) data!: unknown;
}

for (const url of ["memory:", "sqlite::memory:"]) {
  describe(url, () => {
    let storage: Storage;
    afterEach(async () => storage?.close());
    test("odd names", async () => {
      storage = await createStorage({ url, entities: [RveOdd], autoCreate: true } as never);
      const repo = storage.repository(RveOdd);
      const e = { id: 1, constructor: "c" } as Record<string, unknown>;
      Object.defineProperty(e, "__proto__", { value: "p", enumerable: true, writable: true, configurable: true });
      e['we"ird\u2028\'`${x}'] = "w";
      await repo.save(e as never);
      const all = await repo.findAll({});
      const it: unknown[] = [];
      for await (const x of repo.iterate({})) it.push(x);
      for (const x of [all[0], it[0]]) {
        console.log(url, Object.getPrototypeOf(x) === RveOdd.prototype, x instanceof RveOdd, Object.getPrototypeOf(Object.getPrototypeOf(x)) === RveOdd.prototype, (x as any).__proto__, Object.getOwnPropertyNames(x), JSON.stringify(Object.getOwnPropertyDescriptors(x)));
      }
    });
    test("dates", async () => {
      storage = await createStorage({ url, entities: [RveDate], autoCreate: true } as never);
      const repo = storage.repository(RveDate);
      const d = new Date("2020-01-01T00:00:00.000Z");
      await repo.saveMany([{ id: "a", at: d, data: { at: "2020-01-01T00:00:00.000Z" } }, { id: "b", at: null, data: "2020-01-01T00:00:00.000Z" }, { id: "c", at: new Date(0), data: null }]);
      const tries: Record<string, unknown> = {
        eqDate: { at: d },
        inDates: { at: { $in: [new Date(d.getTime()), new Date(0)] } },
        ninDates: { at: { $nin: [new Date(d.getTime())] } },
        gtNum: { at: { $gt: 5 } },
        eqNum: { at: d.getTime() },
        str: { at: "2020-01-01T00:00:00.000Z" },
        invalid: { at: new Date(NaN) },
        gtInvalid: { at: { $gt: new Date(NaN) } },
        neDate: { at: { $ne: d } },
      };
      for (const [k, where] of Object.entries(tries)) {
        try { const r = await repo.findAll({ where: where as never, orderBy: { id: "asc" } }); console.log(url, k, r.map((x) => x.id)); }
        catch (e) { console.log(url, k, "ERR", (e as Error).constructor.name, (e as Error).message); }
      }
      console.log(url, "desc", (await repo.findAll({ orderBy: { at: "desc" } })).map((x) => x.id));
      const p1 = await repo.findPage({ first: 1, orderBy: { at: "asc" } } as never);
      const p2 = await repo.findPage({ first: 1, orderBy: { at: "asc" }, after: (p1 as any).nextCursor } as never);
      const p3 = await repo.findPage({ first: 5, orderBy: { at: "asc" }, after: (p2 as any).nextCursor } as never);
      console.log(url, "pages", JSON.stringify([p1, p2, p3].map((p: any) => p.items.map((x: any) => x.id))));
      const a = await repo.findById("a");
      a!.at!.setFullYear(1999);
      console.log(url, "mutate", (await repo.findById("a"))!.at, JSON.stringify((await repo.findById("a"))!.data), JSON.stringify((await repo.findById("b"))!.data));
      const sel = await repo.findAll({ select: ["at"], orderBy: { id: "asc" } } as never);
      console.log(url, "select", sel);
    });
  });
}
