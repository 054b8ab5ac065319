/**
 * The primary and streaming replica that `scripts/pg-replica.sh start` runs (STRATA_PG_PRIMARY_URL,
 * STRATA_PG_REPLICA_URL, STRATA_PG_REPLICA_CTL): a database per test run on the primary (which the replica
 * receives), schemas in it, and the replica stopped, started, paused and resumed. Without the variables the
 * tests skip, saying why; with STRATA_REQUIRE_SERVICES=1 they fail.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import pg from "pg";
import { REQUIRE } from "./pg-test-database.js";

const run = promisify(execFile);

export const PRIMARY_URL = process.env["STRATA_PG_PRIMARY_URL"];
export const REPLICA_URL = process.env["STRATA_PG_REPLICA_URL"];
/** `<pg_ctl>|<replica data dir>|<user to run it as>`. */
const REPLICA_CTL = process.env["STRATA_PG_REPLICA_CTL"];

/** Why the replica tests do not run, or undefined when they do. Throws when services are required. */
export function replicaSkipReason(): string | undefined {
  if (PRIMARY_URL && REPLICA_URL && REPLICA_CTL) return undefined;
  const missing = "STRATA_PG_PRIMARY_URL, STRATA_PG_REPLICA_URL and STRATA_PG_REPLICA_CTL are not all set";
  if (REQUIRE) throw new Error(`STRATA_REQUIRE_SERVICES=1 but ${missing}: the read-replica tests cannot run (eval "$(scripts/pg-replica.sh start)")`);
  const reason = `read-replica tests skipped: ${missing} (run eval "$(scripts/pg-replica.sh start)" as root or the postgres user)`;
  console.warn(reason);
  return reason;
}

/** A URL with another database and, when given, a search_path of `schema`. */
function urlOf(base: string, database: string, schema?: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  if (schema) url.searchParams.set("options", `-c search_path=${schema}`);
  return url.href;
}

/** A database of this run on the primary, seen through the replica too. */
export class ReplicaTopology {
  private counter = 0;
  private constructor(
    readonly database: string,
    /** A client on the primary's database of this run. */
    readonly primary: pg.Client,
    /** A client on the replica's copy of it (a new one after the replica restarts). */
    public replica: pg.Client,
    private readonly admin: pg.Client,
  ) {}

  static async create(): Promise<ReplicaTopology> {
    const database = `strata_test_${randomBytes(6).toString("hex")}`;
    const admin = new pg.Client({ connectionString: PRIMARY_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${database}"`);
    const primary = new pg.Client({ connectionString: urlOf(PRIMARY_URL!, database) });
    await primary.connect();
    // The replica receives the new database through its WAL: connect once it has replayed it.
    const replica = await connectWhenReady(urlOf(REPLICA_URL!, database));
    return new ReplicaTopology(database, primary, replica, admin);
  }

  /** A fresh schema on the primary (replayed on the replica before this resolves): its URL on each. */
  async freshSchema(): Promise<{ primaryUrl: string; replicaUrl: string }> {
    const schema = `s${++this.counter}`;
    await this.primary.query(`CREATE SCHEMA "${schema}"`);
    await this.caughtUp();
    return { primaryUrl: urlOf(PRIMARY_URL!, this.database, schema), replicaUrl: urlOf(REPLICA_URL!, this.database, schema) };
  }

  /** Resolves once the replica has replayed everything the primary has written so far. */
  async caughtUp(): Promise<void> {
    const { rows } = await this.primary.query<{ lsn: string }>("SELECT pg_current_wal_flush_lsn()::text AS lsn");
    const target = rows[0]!.lsn;
    for (;;) {
      const replica = await connectWhenReady(urlOf(REPLICA_URL!, this.database));
      try {
        const { rows: done } = await replica.query<{ ok: boolean }>("SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok", [target]);
        if (done[0]?.ok) return;
      } finally {
        await replica.end();
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Stops the replica server (fast shutdown: its connections end). */
  async stopReplica(): Promise<void> {
    await this.replica.end().catch(() => {});
    await pgCtl("stop", "-m", "fast");
  }

  /** Starts the replica server again and waits until it accepts connections. */
  async startReplica(): Promise<void> {
    await pgCtl("start", "-l", `${replicaDir()}/../replica.log`);
    this.replica = await connectWhenReady(urlOf(REPLICA_URL!, this.database));
  }

  async drop(): Promise<void> {
    await this.replica.end().catch(() => {});
    await this.primary.end();
    await this.admin.query(`DROP DATABASE IF EXISTS "${this.database}" WITH (FORCE)`);
    await this.admin.end();
  }
}

/** A new client on a replica URL, open; the replica that just started (or has not replayed the database yet) is retried for up to 30 s. */
export async function connectWhenReady(url: string): Promise<pg.Client> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const client = new pg.Client({ connectionString: url });
    client.on("error", () => {});
    try {
      await client.connect();
      return client;
    } catch (error) {
      await client.end().catch(() => {});
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

function replicaDir(): string {
  return REPLICA_CTL!.split("|")[1]!;
}

/** Runs the replica's pg_ctl as its user (pg_ctl refuses root). */
async function pgCtl(...args: string[]): Promise<void> {
  const [pgCtlPath, dir, user] = REPLICA_CTL!.split("|") as [string, string, string];
  const command = [pgCtlPath, "-D", dir, "-w", "-t", "30", ...args];
  const self = (await run("id", ["-un"])).stdout.trim();
  if (self === user) await run(command[0]!, command.slice(1));
  else await run("runuser", ["-u", user, "--", ...command]);
}
