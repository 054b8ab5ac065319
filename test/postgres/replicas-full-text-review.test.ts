/** Review: a search over waiting rows with reads on a hot standby (REPEATABLE READ READ ONLY there). */
import "reflect-metadata";
import pg from "pg";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from "vitest";
import { createStorage } from "../../src/index.js";
import { PostgresRunner } from "../../src/backends/postgres/postgres-connection.js";
import { backendSelected } from "../sql/sql-backend-cases.js";
import { ReplicaTopology, replicaSkipReason } from "./replica-topology.js";

@Entity("replica_docs")
@Index(["body"], { fulltext: true })
class Doc {
  @PrimaryColumn({ type: "string" }) id!: string;
  @Column({ type: "string" }) body!: string;
}

const skip = backendSelected("postgres") ? replicaSkipReason() : "postgres not selected";
const SEARCH = /^WITH .*AS __strata_waiting/;

describe.skipIf(skip !== undefined)("postgres replicas: search over waiting rows", () => {
  let topology: ReplicaTopology;
  beforeAll(async () => {
    topology = await ReplicaTopology.create();
  });
  afterAll(async () => {
    await topology?.drop();
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  test("a held waiting row, reads on the replica", async () => {
    const { primaryUrl, replicaUrl } = await topology.freshSchema();
    const setup = await createStorage({ url: primaryUrl, entities: [Doc], autoCreate: true });
    await setup.repository(Doc).saveMany([
      { id: "held", body: "a wombat in a burrow" },
      { id: "b", body: "wombat owl" },
    ]);
    await setup.sql`UPDATE replica_docs SET __strata_fts_doc = NULL WHERE id = ${"held"}`;
    await setup.close();
    const holder = new pg.Client({ connectionString: primaryUrl });
    await holder.connect();
    const storage = await createStorage({ url: primaryUrl, entities: [Doc], poolSize: 1, postgres: { replicas: [replicaUrl], maxReplicaLagMs: 5000 } });
    const servers: string[] = [];
    const all = PostgresRunner.prototype.all;
    vi.spyOn(PostgresRunner.prototype, "all").mockImplementation(async function (this: PostgresRunner, text, params, prepared) {
      const rows = await all.call(this, text, params, prepared);
      if (SEARCH.test(text)) {
        const standby = (await all.call(this, "SELECT pg_is_in_recovery()", [], false))[0]?.[0];
        servers.push(standby === true ? "replica" : "primary");
      }
      return rows;
    });
    try {
      await holder.query("BEGIN");
      await holder.query("SELECT * FROM replica_docs WHERE id = 'held' FOR UPDATE");
      await topology.caughtUp();
      for (let i = 0; i < 3; i++) expect((await storage.repository(Doc).search("wombat")).map((h) => h.entity.id).sort()).toEqual(["b", "held"]);
      // One statement per search (no run again), each on the standby.
      expect(servers).toEqual(["replica", "replica", "replica"]);
    } finally {
      await holder.end();
      await storage.close();
    }
  }, 60000);
});
