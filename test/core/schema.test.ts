import { describe, expect, test } from "vitest";
import { Column, CreateDateColumn, Entity, ManyToOne, PrimaryColumn, PrimaryGeneratedColumn, VersionColumn, Index, DeleteDateColumn } from "typeorm";
import { SchemaError, createStorage, readEntitySchema } from "../../src/index.js";

@Entity("owners") class Owner { @PrimaryColumn({ type: "string" }) id: string; }
@Entity("pets") class Pet { @PrimaryColumn({ type: "string" }) id: string; @ManyToOne(() => Owner, { lazy: true }) owner: Owner; }
@Entity("untyped") class Untyped { @PrimaryColumn({ type: "string" }) id: string; @Column({ nullable: true }) maybe: number | null; }
@Entity("weird") class Weird { @PrimaryColumn({ type: "string" }) id: string; @Column({ type: "decimal" }) amount: string; }
@Entity("soft") class Soft { @PrimaryColumn({ type: "string" }) id: string; @DeleteDateColumn() deletedAt: Date; }
@Entity("nokey") class NoKey { @Column({ type: "string" }) name: string; }
class NotAnEntity { id: string; }
@Entity("two_keys") class TwoKeys { @PrimaryColumn({ type: "string" }) a: string; @PrimaryColumn({ type: "string" }) b: string; }
@Entity("bad_default") class BadDefault { @PrimaryColumn({ type: "string" }) id: string; @Column({ type: "integer", default: "0" }) n: number; }
@Entity("date_default") class DateDefault { @PrimaryColumn({ type: "string" }) id: string; @Column({ type: "datetime", default: new Date("2000-01-02T03:04:05.678Z") }) at: Date; }
@Entity("date_key") class DateKey { @PrimaryColumn({ type: "datetime" }) at: Date; }
@Entity("bool_key") class BoolKey { @PrimaryColumn({ type: "boolean" }) on: boolean; }
@Entity("enums") class Enums { @PrimaryColumn({ type: "string" }) id: string; @Column({ type: "string", enum: ["a", "b"] }) kind: string; }

@Entity("full")
@Index(["name", "rank"], { unique: true })
class Full {
  @PrimaryGeneratedColumn("increment") id: number;
  @Column() name: string;
  @Column({ type: "int", name: "rank_value" }) rank: number;
  @Column({ type: "double precision" }) score: number;
  @Column() active: boolean;
  @Column({ type: "timestamp" }) at: Date;
  @Column({ type: "jsonb" }) data: object;
  @Column({ type: "varchar", unique: true }) slug: string;
  @VersionColumn() version: number;
}

@Entity("ordered_people")
class OrderedPerson {
  @PrimaryGeneratedColumn("uuid") id: string;
  @Column({ type: "string" }) name: string;
  @Column({ type: "string" }) email: string;
  @CreateDateColumn() createdAt: Date;
}
@Entity("ordered_owners") class OrderedOwner { @PrimaryColumn({ type: "string" }) id: string; }
@Entity("ordered_pets")
class OrderedPet {
  @Column({ type: "string" }) name: string;
  @ManyToOne(() => OrderedOwner) owner: OrderedOwner;
  @PrimaryColumn({ type: "string" }) id: string;
  @Column({ type: "integer" }) age: number;
}
abstract class Audited {
  @PrimaryColumn({ type: "string" }) id: string;
  @Column({ type: "string" }) note: string;
  @CreateDateColumn() createdAt: Date;
}
@Entity("ordered_invoices")
class OrderedInvoice extends Audited {
  @Column({ type: "integer" }) total: number;
  @Column({ type: "string", nullable: true }) declare note: string;
}

function schemaError(entity: Function): SchemaError {
  try {
    readEntitySchema(entity);
  } catch (error) {
    expect(error).toBeInstanceOf(SchemaError);
    return error as SchemaError;
  }
  throw new Error(`expected a SchemaError for ${entity.name}`);
}

describe("entity schemas from TypeORM decorators", () => {
  test("types, names, keys, versions and indexes map onto the logical schema", () => {
    const s = readEntitySchema(Full);
    expect(s.table).toBe("full");
    expect(s.primary.property).toBe("id");
    expect(s.primary.generated).toBe("increment");
    expect(Object.fromEntries(s.columns.map((c) => [c.property, c.type]))).toEqual({
      id: "integer", name: "string", rank: "integer", score: "number", active: "boolean", at: "datetime", data: "json", slug: "string", version: "integer",
    });
    expect(s.columnsByProperty.get("rank")?.name).toBe("rank_value");
    expect(s.version?.property).toBe("version");
    expect(s.indexes.map((i) => [i.properties, i.unique])).toEqual(expect.arrayContaining([[["name", "rank"], true], [["slug"], true]]));
  });

  test("columns keep their declaration order: the primary key where it is declared, a relation's implied foreign key after the declared columns", () => {
    expect(readEntitySchema(OrderedPerson).columns.map((c) => c.property)).toEqual(["id", "name", "email", "createdAt"]);
    expect(readEntitySchema(OrderedPet).columns.map((c) => c.property)).toEqual(["name", "id", "age", "ownerId"]);
  });

  test("an inherited entity: the base class's columns first; a property declared again keeps its place and takes the subclass's options", () => {
    const s = readEntitySchema(OrderedInvoice);
    expect(s.columns.map((c) => c.property)).toEqual(["id", "note", "createdAt", "total"]);
    expect(s.columnsByProperty.get("note")?.nullable).toBe(true);
  });

  test("entities come back with their properties in declaration order", async () => {
    const storage = await createStorage({ url: "memory:", entities: [OrderedPerson] });
    const people = storage.repository(OrderedPerson);
    const { id } = await people.save({ email: "ada@example.com", name: "Ada" } as OrderedPerson);
    expect(Object.keys((await people.findById(id))!)).toEqual(["id", "name", "email", "createdAt"]);
    await storage.close();
  });

  test("unsupported declarations are SchemaErrors naming entity and property", () => {
    expect(schemaError(Pet).message).toMatch(/Pet\.owner: a lazy relation is not supported by Strata/);
    expect(schemaError(Pet).field).toBe("owner");
    expect(schemaError(Untyped).message).toMatch(/Untyped\.maybe: .*explicit column type/);
    expect(schemaError(Weird).message).toMatch(/Weird\.amount: column type "decimal" is not supported/);
    expect(schemaError(Soft).message).toMatch(/Soft\.deletedAt: a deleteDate column is not supported/);
    expect(schemaError(NoKey).message).toMatch(/NoKey has no primary column/);
    expect(schemaError(NotAnEntity).message).toMatch(/NotAnEntity is not an entity/);
    expect(schemaError(TwoKeys).message).toMatch(/composite primary keys/);
    expect(schemaError(DateKey).message).toMatch(/DateKey\.at: a primary key of type datetime is not supported/);
    expect(schemaError(BoolKey).field).toBe("on");
    expect(schemaError(Enums).message).toMatch(/Enums\.kind: column option "enum" is not supported/);
    expect(schemaError(BadDefault).message).toMatch(/BadDefault\.n: the default does not fit the column: expected an integer/);
  });

  test("a Date default applies as a fresh Date to each entity that leaves the field out", async () => {
    const storage = await createStorage({ url: "memory:", entities: [DateDefault] });
    const repo = storage.repository(DateDefault);
    const a = await repo.save({ id: "a" } as DateDefault);
    a.at.setTime(0);
    const b = await repo.save({ id: "b" } as DateDefault);
    expect(b.at.toISOString()).toBe("2000-01-02T03:04:05.678Z");
    expect((await repo.findById("a"))!.at.toISOString()).toBe("2000-01-02T03:04:05.678Z");
    await storage.close();
  });

  test("createStorage refuses an unsupported entity before opening anything", async () => {
    await expect(createStorage({ url: "memory:", entities: [Pet] })).rejects.toThrow(SchemaError);
  });
});
