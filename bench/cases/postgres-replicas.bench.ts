/**
 * Read replicas (issue 15), on the primary and streaming replica of scripts/pg-replica.sh
 * (STRATA_PG_PRIMARY_URL, STRATA_PG_REPLICA_URL): findById through the replica against the same findById
 * on a storage without replicas (the primary); a transaction's commit, which then also brings back the
 * primary's WAL position, against the same commit without replicas; and, as figures in ms, what the
 * read-your-writes check adds to a read right after a commit (a single write, and a transaction). Skips,
 * saying why, without the topology.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { Column, Entity, PrimaryColumn } from "typeorm";
import { createStorage } from "../../src/index.js";
import type { BenchGroup } from "../harness.js";

@Entity("bench_replica_items")
class ReplicaItem {
  @PrimaryColumn({ type: "integer" }) id: number;
  @Column({ type: "varchar" }) name: string;
  @Column({ type: "integer" }) quantity: number;
  @Column({ type: "double precision" }) price: number;
  @Column({ type: "boolean" }) active: boolean;
  @Column({ type: "varchar", nullable: true }) note: string | null;
}

const ROWS = 10_000;
/** Reads timed for each read-your-writes figure. */
const SAMPLES = 400;

export default async function postgresReplicasBench(): Promise<BenchGroup> {
  const primaryUrl = process.env["STRATA_PG_PRIMARY_URL"];
  const replicaUrl = process.env["STRATA_PG_REPLICA_URL"];
  if (!primaryUrl || !replicaUrl) {
    console.log('postgres read-replica bench skipped: STRATA_PG_PRIMARY_URL and STRATA_PG_REPLICA_URL are not set (eval "$(scripts/pg-replica.sh start)")');
    return { pairs: [], close: async () => {} };
  }
  const name = `strata_bench_replica_${randomBytes(5).toString("hex")}`;
  const admin = new pg.Client({ connectionString: primaryUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  const on = (base: string) => {
    const url = new URL(base);
    url.pathname = `/${name}`;
    return url.href;
  };
  const primary = await createStorage({ url: on(primaryUrl), entities: [ReplicaItem], autoCreate: true });
  const items = primary.repository(ReplicaItem);
  await items.saveMany(Array.from({ length: ROWS }, (_, id) => ({ id, name: `item ${id}`, quantity: id % 17, price: id * 1.5, active: id % 2 === 0, note: null })));
  // Opened once the replica has the database (it replays CREATE DATABASE and the rows a moment later).
  const replicated = await openWhenReplicated(on(primaryUrl), on(replicaUrl));
  const viaReplica = replicated.repository(ReplicaItem);

  const figures = [
    ...(await readAfterCommit("single write", (i) => viaReplica.save({ id: i % ROWS, name: `w${i}`, quantity: 1, price: 1, active: true, note: null }), viaReplica)),
    ...(await readAfterCommit("transaction", (i) => replicated.transaction(async () => viaReplica.save({ id: i % ROWS, name: `t${i}`, quantity: 2, price: 2, active: true, note: null })), viaReplica)),
    ...(await commitCost()),
  ];

  let i = 0;
  let k = 0;
  return {
    pairs: [
      {
        name: "postgres.findById via replica",
        anchor: "postgres.findById on the primary (no replicas)",
        minRatio: 0.9,
        run: () => viaReplica.findById(i++ % ROWS),
        anchorRun: () => items.findById(i++ % ROWS),
      },
      {
        name: "postgres transaction commit, replicas",
        anchor: "the same commit without replicas",
        run: () => replicated.transaction(async () => viaReplica.save({ id: k++ % ROWS, name: "c", quantity: 3, price: 3, active: false, note: null })),
        anchorRun: () => primary.transaction(async () => items.save({ id: k++ % ROWS, name: "c", quantity: 3, price: 3, active: false, note: null })),
      },
    ],
    figures,
    close: async () => {
      await replicated.close();
      await primary.close();
      await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await admin.end();
    },
  };

  /** Mean ms of a one-save transaction with replicas (its COMMIT brings the WAL position back) and without, alternated. */
  async function commitCost() {
    let withPosition = 0;
    let plain = 0;
    for (let n = 0; n < SAMPLES; n++) {
      let start = performance.now();
      await replicated.transaction(async () => viaReplica.save({ id: n % ROWS, name: `p${n}`, quantity: 4, price: 4, active: true, note: null }));
      withPosition += performance.now() - start;
      start = performance.now();
      await primary.transaction(async () => items.save({ id: n % ROWS, name: `q${n}`, quantity: 5, price: 5, active: true, note: null }));
      plain += performance.now() - start;
    }
    return [{ name: "commit's WAL position (same round trip)", value: (withPosition - plain) / SAMPLES, unit: "ms (mean overhead per transaction)" }];
  }

  /**
   * Mean ms of a findById through the replica right after `write` (the read waits for the replica to replay
   * it), of one with no write before it, and the difference: the read-your-writes check's cost.
   */
  async function readAfterCommit(label: string, write: (i: number) => Promise<unknown>, repo: typeof viaReplica) {
    let after = 0;
    let plain = 0;
    for (let n = 0; n < SAMPLES; n++) {
      await write(n);
      let start = performance.now();
      await repo.findById((n * 7) % ROWS);
      after += performance.now() - start;
      start = performance.now();
      await repo.findById((n * 11) % ROWS);
      plain += performance.now() - start;
    }
    return [
      { name: `replica read after a ${label}`, value: after / SAMPLES, unit: "ms (mean)" },
      { name: `replica read, nothing to wait for (${label} run)`, value: plain / SAMPLES, unit: "ms (mean)" },
      { name: `read-your-writes check after a ${label}`, value: (after - plain) / SAMPLES, unit: "ms (mean overhead)" },
    ];
  }
}

/** A storage on `primary` reading from `replica`, opened once the replica has the database. */
async function openWhenReplicated(primary: string, replica: string) {
  for (let attempt = 0; ; attempt++) {
    const probe = new pg.Client({ connectionString: replica });
    probe.on("error", () => {});
    try {
      await probe.connect();
      const { rows } = await probe.query("SELECT count(*)::int AS n FROM bench_replica_items");
      if (rows[0].n === ROWS) break;
    } catch (error) {
      if (attempt > 300) throw error;
    } finally {
      await probe.end().catch(() => {});
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return createStorage({ url: primary, entities: [ReplicaItem], postgres: { replicas: [replica] } });
}
