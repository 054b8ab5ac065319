/**
 * Gives a storage's backend a `search` answered by the reference (test/support/search-reference.ts) over the
 * rows its own `find` returns: what the repository tests of `repo.search` run on while a backend has no
 * search of its own, and the model a backend's search is compared with.
 */
import { normalizeQuery } from "../../src/query/normalize-query.js";
import { searchReference } from "../support/search-reference.js";
import type { DataSession, SearchHit, SearchRequest } from "../../src/spi/data-session.js";
import type { EntitySchema, Row } from "../../src/schema/entity-schema.js";
import { coreOf } from "../../src/storage-core.js";
import type { Storage } from "../../src/index.js";

/** A `search` for `session`, by the reference over every row `session.find` sees. */
export function referenceSearch(session: DataSession): NonNullable<DataSession["search"]> {
  return async (schema: EntitySchema, request: SearchRequest): Promise<SearchHit[]> => {
    const all = normalizeQuery(schema, {});
    const rows = await session.find(schema, all);
    const allowed = request.where === undefined ? undefined : new Set((await session.find(schema, { ...all, where: request.where })).map((r) => r[schema.primary.property]));
    const byKey = new Map<unknown, Row>(rows.map((r) => [r[schema.primary.property], r]));
    const properties = schema.fullText!.properties;
    const documents = rows.map((row) => ({ key: row[schema.primary.property] as string | number, columns: properties.map((p) => row[p] as string | null) }));
    const hits = searchReference(request.query, documents, {
      ...(allowed ? { filter: (d: { key: string | number }) => allowed.has(d.key) } : {}),
      limit: request.limit,
      offset: request.offset,
    });
    return hits.map((h) => ({ row: byKey.get(h.key)!, score: h.score }));
  };
}

/** Adds the reference `search` to the storage's backend session and to every transaction it begins. */
export function withReferenceSearch(storage: Storage): Storage {
  const backend = coreOf(storage).backend as { session: DataSession; begin: () => Promise<DataSession> };
  backend.session.search = referenceSearch(backend.session);
  const begin = backend.begin.bind(backend);
  backend.begin = async () => {
    const handle = await begin();
    handle.search = referenceSearch(handle);
    return handle;
  };
  return storage;
}
