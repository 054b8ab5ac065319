/**
 * A query naming one phrase many times (`a* a* a* ...`, up to the parser's 1,000 characters): the engine
 * looks the phrase up once and shares its matches, so such a query costs what `a*` costs (it took 16 s over
 * 50,000 rows, the event loop blocked, when each copy walked the index again), with the same scores.
 */
import { afterEach, describe, expect, test, vi } from "vitest";
import { openBackend } from "../../src/conformance/index.js";
import { FullTextIndex } from "../../src/engine/full-text-index.js";
import { parseSearchQuery } from "../../src/search/search-parser.js";
import { prepareCorpus, searchReference } from "../support/search-reference.js";
import type { Backend } from "../../src/spi/index.js";
import { asRow, DOCS } from "../search/engine-search-support.js";

let backend: Backend | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await backend?.close();
  backend = undefined;
});

describe("memory: a phrase repeated in one query", () => {
  test("is looked up in the index once, and scores as the reference scores it", async () => {
    backend = await openBackend({ url: "memory:", autoCreate: true }, [DOCS]);
    const docs = [
      { id: 1, title: "apple apricot", body: "a", grp: 0 },
      { id: 2, title: "avocado", body: null, grp: 0 },
      { id: 3, title: "banana", body: "apple", grp: 0 },
    ];
    await backend.session.upsertMany(DOCS, docs.map(asRow));
    const query = parseSearchQuery(Array.from({ length: 240 }, (_, i) => (i % 2 ? "a*" : '"A"*')).join(" "));
    const walks = vi.spyOn(FullTextIndex.prototype, "forPrefix");
    const hits = await backend.session.search!(DOCS, { query, where: undefined, limit: 10, offset: 0 });
    expect(walks).toHaveBeenCalledTimes(1);
    const expected = searchReference(query, prepareCorpus(docs.map((d) => ({ key: d.id, columns: [d.title, d.body] }))));
    expect(hits.map((h) => [h.row["id"], h.score])).toEqual(expected.map((h) => [h.key, h.score]));
  });
});
