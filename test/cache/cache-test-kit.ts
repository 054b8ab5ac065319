/**
 * Shared by the cache tests: entities, a probe backend (the memory backend, wrapped to count reads and to
 * hold them at a gate), a shared-memory backend (two storages on one data set, as two processes on one
 * database), a fake clock and a logger that records warnings.
 */
import "reflect-metadata";
import * as path from "node:path";
import { Column, CreateDateColumn, Entity, PrimaryColumn, VersionColumn } from "typeorm";
import type { Backend, BackendContext, DataSession, Logger } from "../../src/index.js";
import { registerBackend } from "../../src/index.js";
import { MemoryBackend } from "../../src/backends/memory/memory-backend.js";

@Entity("cache_items")
export class Item {
  @PrimaryColumn({ type: "string" }) id: string;
  @Column({ type: "string" }) name: string;
  @Column({ type: "integer" }) quantity: number;
  @Column({ type: "simple-json", nullable: true }) tags: string[] | null;
  @CreateDateColumn() createdAt: Date;
  @VersionColumn() version: number;
}

@Entity("cache_counters")
export class Counter {
  @PrimaryColumn({ type: "integer" }) id: number;
  @Column({ type: "integer" }) value: number;
}

/** What a probe backend lets a test see and control. */
export class Probe {
  /** Backend reads by method, counted when they start. */
  reads = { findById: 0, findByIds: 0, find: 0, count: 0 };
  /** When set, each autocommit read waits for it after reading and before returning its rows. */
  gate: Promise<void> | undefined;
  /** Resolves when a read reaches the gate. */
  private arrivals: Array<() => void> = [];

  /** Resolves at the next read that has read its rows and waits at the gate. */
  nextArrival(): Promise<void> {
    return new Promise((resolve) => this.arrivals.push(resolve));
  }

  /** @internal */
  arrived(): void {
    this.arrivals.shift()?.();
  }
}

const probes = new Map<string, Probe>();
const shared = new Map<string, MemoryBackend>();

function wrapSession(inner: DataSession, probe: Probe): DataSession {
  const held =
    <A extends unknown[], R>(name: keyof Probe["reads"], fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      probe.reads[name]++;
      const result = await fn(...args);
      if (probe.gate) {
        probe.arrived();
        await probe.gate;
      }
      return result;
    };
  return {
    ...inner,
    findById: held("findById", inner.findById.bind(inner)),
    findByIds: held("findByIds", inner.findByIds.bind(inner)),
    find: held("find", inner.find.bind(inner)),
    count: held("count", inner.count.bind(inner)),
  };
}

/**
 * `probe:<name>`: a memory backend whose autocommit reads are counted (and can be held) by `probe(name)`.
 * `shared:<name>`: every storage opened on the same name shares one in-memory data set; `shared:<name>@<label>`
 * shares the data set of `<name>`, its reads counted (and held) by `probe("<name>@<label>")`.
 */
export function registerTestBackends(): void {
  registerBackend("probe", async (context: BackendContext): Promise<Backend> => {
    const inner = new MemoryBackend(context);
    const probe = new Probe();
    probes.set(path.basename(context.config.path ?? "default"), probe);
    return { name: "probe", capabilities: inner.capabilities, session: wrapSession(inner.session, probe), begin: () => inner.begin(), backup: (p) => inner.backup(p), close: () => inner.close() };
  });
  registerBackend("shared", async (context: BackendContext): Promise<Backend> => {
    const label = path.basename(context.config.path ?? "default");
    const name = label.split("@")[0]!;
    let inner = shared.get(name);
    if (!inner) {
      inner = new MemoryBackend(context);
      shared.set(name, inner);
    }
    const backend = inner;
    let session = backend.session;
    if (label !== name) {
      const probe = new Probe();
      probes.set(label, probe);
      session = wrapSession(session, probe);
    }
    return {
      name: "shared",
      capabilities: { ...backend.capabilities, supportsMultipleConnections: true },
      session,
      begin: () => backend.begin(),
      backup: (p) => backend.backup(p),
      close: async () => {},
    };
  });
}

/** The probe of the storage opened on `probe:<name>`. */
export function probe(name: string): Probe {
  const found = probes.get(name);
  if (!found) throw new Error(`no probe backend named ${name} was opened`);
  return found;
}

/** A clock a test moves by hand. Starts far from 0: lru-cache reads a start time of 0 as "no TTL". */
export class FakeClock {
  time = 1_000_000;
  now(): number {
    return this.time;
  }
  advance(ms: number): void {
    this.time += ms;
  }
}

/** A logger that records warnings (and drops the rest). */
export function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, debug() {}, info() {}, warn: (message: string) => void warnings.push(message), error: (message: string) => void warnings.push(`error: ${message}`) };
}

/** Polls `check` until it returns true or `deadlineMs` passes; returns the elapsed ms, throws at the deadline. */
export async function waitFor(check: () => boolean | Promise<boolean>, deadlineMs: number, what: string): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await check()) return Date.now() - start;
    if (Date.now() - start > deadlineMs) throw new Error(`${what}: not within ${deadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
