/**
 * `repo.search` with `select` and `include` on entities with a column named `__proto__` (README, "Full-text
 * search"; the row contract keeps such a column as an own field): the selected field and the included
 * entity hold it as their own data, whole or selected, cached or not, on every backend. Assigning it would
 * call the prototype setter instead: the field would vanish, and a json value would become the object's
 * prototype (its keys would show through as the entity's own).
 */
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from "typeorm";
import type { Repository, Storage } from "../../src/index.js";
import type { IncBackend } from "../fixtures/inc-backends.js";
import { incBackends } from "../fixtures/inc-backends.js";

@Entity("sawk_owners")
class SawkOwner {
  @PrimaryColumn() id!: string;
  @Column() name!: string;
  @Column({ type: "simple-json", name: "proto" }) "__proto__"!: unknown;
}

@Entity("sawk_docs")
@Index(["text"], { fulltext: true })
class SawkDoc {
  @PrimaryColumn({ type: "integer" }) id!: number;
  @Column() text!: string;
  @Column({ type: "simple-json", name: "proto" }) "__proto__"!: unknown;
  @ManyToOne(() => SawkOwner, { nullable: false }) @JoinColumn({ name: "ownerId" }) owner?: SawkOwner;
  @Column() ownerId!: string;
}

/** `fields` with `__proto__` defined as an own field, as a user builds such an entity. */
function withProto<R extends object>(fields: R, proto: unknown): R {
  return Object.defineProperty({ ...fields }, "__proto__", { value: proto, writable: true, enumerable: true, configurable: true });
}

/** What a handed-out object holds under `__proto__` as its own field, and whether a key of that value shows through it. */
function protoOf(object: unknown): { own: unknown; leaked: unknown } {
  return { own: Object.getOwnPropertyDescriptor(object, "__proto__")?.value, leaked: (object as Record<string, unknown>)["isAdmin"] };
}

const HELD = { own: { isAdmin: true }, leaked: undefined };

function awkwardNameCases(backend: IncBackend): void {
  describe.skipIf(backend.skip !== undefined)(`${backend.name}: search select and include of a __proto__ column`, () => {
    let storage: Storage;
    let docs: Repository<SawkDoc, number>;

    beforeAll(async () => {
      storage = await backend.open([SawkOwner, SawkDoc], new Map(), { cache: true });
      await storage.repository(SawkOwner).save(withProto({ id: "o1", name: "Ada" }, { isAdmin: true }) as SawkOwner);
      await storage.repository(SawkDoc).save(withProto({ id: 1, text: "down the Rhine", ownerId: "o1" }, { isAdmin: true }) as SawkDoc);
      docs = storage.repository(SawkDoc) as Repository<SawkDoc, number>;
    });
    afterAll(async () => {
      await storage?.close();
      await backend.cleanup();
    });

    for (const cache of [false, true]) {
      test(`${cache ? "cached" : "uncached"}: the selected __proto__ field is the entity's own, as in findAll`, async () => {
        const [found] = await docs.search("rhine", { cache, select: ["id", "__proto__"] });
        expect(protoOf(found!.entity)).toEqual(HELD);
        expect(Object.getPrototypeOf(found!.entity)).toBe(Object.prototype);
        expect(Object.keys(found!.entity)).toEqual(["id", "__proto__"]);
        const [row] = await docs.findAll({ cache, select: ["id", "__proto__"] });
        expect(protoOf(row)).toEqual(HELD);
      });

      test(`${cache ? "cached" : "uncached"}: an included entity holds its __proto__ field, whole or selected`, async () => {
        const [whole] = await docs.search("rhine", { cache, include: { owner: true } });
        expect(whole!.entity.owner).toBeInstanceOf(SawkOwner);
        expect(protoOf(whole!.entity.owner)).toEqual(HELD);
        expect(protoOf(whole!.entity)).toEqual(HELD);
        const [picked] = await docs.search("rhine", { cache, select: ["text"], include: { owner: { select: ["__proto__"] } } });
        expect(protoOf(picked!.entity.owner)).toEqual(HELD);
        expect(Object.keys(picked!.entity.owner!)).toEqual(["__proto__"]);
      });
    }
  });
}

for (const backend of incBackends()) awkwardNameCases(backend);
