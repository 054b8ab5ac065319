/**
 * `strata doctor [--replica <url>]...`: each server the storage talks to, asked now: its role (primary or
 * replica), health, and a replica's lag in bytes of WAL and in ms. Exit 1 when a server is unhealthy.
 */
import type { Command } from "commander";
import { createStorage } from "../../storage.js";
import type { ServerStatus } from "../../spi/index.js";
import { coreOf } from "../../storage-core.js";
import { UsageError } from "../cli-config.js";
import { out, table } from "../cli-output.js";
import { jsonOf, settingsOf } from "../command-context.js";

/** Thrown after the report when a server is unhealthy: `strata` exits 1 without printing more. */
export class UnhealthyServers extends Error {
  constructor(readonly servers: readonly ServerStatus[]) {
    super(`${servers.length} server(s) unhealthy: ${servers.map((s) => s.server).join(", ")}`);
    this.name = "UnhealthyServers";
  }
}

/** Adds `doctor` to the program. */
export function doctorCommand(program: Command): Command {
  return program
    .command("doctor")
    .description("each server's role (primary/replica), health and replica lag; exit 1 when one is unhealthy")
    .option("--replica <url>", "a read replica of the database (repeatable)", (value: string, previous: string[] = []) => [...previous, value])
    .action(async (opts: { replica?: string[] }, command: Command) => {
      const settings = await settingsOf(command);
      if (!settings.url) throw new UsageError("No database: pass --url, set STRATA_URL, or put url in strata.config.json");
      // The storage's own way to its servers (a pooler in front, the config file's replicas), plus --replica.
      const replicas = [...(settings.postgres?.replicas ?? []), ...(opts.replica ?? [])];
      const postgres = settings.postgres || replicas.length > 0 ? { ...settings.postgres, replicas } : undefined;
      const storage = await createStorage({ url: settings.url, autoCreate: false, ...(postgres ? { postgres } : {}) });
      let servers: ServerStatus[];
      try {
        const backend = coreOf(storage).backend;
        // A backend without servers is one store (memory, file, SQLite): open means healthy.
        servers = backend.servers ? await backend.servers() : [{ server: storage.backend, role: "primary", healthy: true }];
      } finally {
        await storage.close();
      }
      printServers(servers, jsonOf(command));
      const unhealthy = servers.filter((s) => !s.healthy);
      if (unhealthy.length > 0) throw new UnhealthyServers(unhealthy);
    });
}

function printServers(servers: readonly ServerStatus[], json: boolean): void {
  if (json) {
    out(JSON.stringify(servers.map((s) => ({ server: s.server, role: s.role, healthy: s.healthy, lagBytes: s.lagBytes ?? null, lagMs: s.lagMs ?? null, error: s.error ?? null }))));
    return;
  }
  out(
    table(
      ["Server", "Role", "Health", "Lag (bytes)", "Lag (ms)", "Error"],
      servers.map((s) => [
        s.server,
        s.role,
        s.healthy ? "healthy" : "UNHEALTHY",
        s.lagBytes === undefined ? "" : String(s.lagBytes),
        s.lagMs === undefined ? "" : String(s.lagMs),
        s.error ?? "",
      ]),
    ),
  );
}
