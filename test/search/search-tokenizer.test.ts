import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { foldToken, tokenize } from "../../src/search/search-tokenizer.js";
import { fts5Spans, fts5Terms } from "./fts5-oracle.js";

const terms = (text: string): string[] => tokenize(text).map((t) => t.term);

describe("search tokenizer", () => {
  test("folds case and diacritics, splits on everything but letters, numbers and private use", () => {
    expect(tokenize("Köln-Deutz, 2024!")).toEqual([
      { term: "koln", start: 0, end: 4 },
      { term: "deutz", start: 5, end: 10 },
      { term: "2024", start: 12, end: 16 },
    ]);
    expect(terms("KÖLN Ko\u0308ln ÅLESUND São Paulo")).toEqual(["koln", "koln", "alesund", "sao", "paulo"]);
    expect(terms("o'brien l’Aquila")).toEqual(["o", "brien", "l", "aquila"]);
    expect(terms("東京 Москва Αθήνα")).toEqual(["東京", "москва", "αθήνα"]);
    // FTS5 strips diacritics from Latin letters only: a precomposed Greek accent stays (a combining one goes).
    // A diacritic continues a token but never starts one; a lone surrogate separates.
    expect(tokenize("\u0301ab\u0301c")).toEqual([{ term: "abc", start: 1, end: 5 }]);
    expect(terms("ab\ud800cd")).toEqual(["ab", "cd"]);
    // Astral letters are tokens, their surrogate pairs whole, folded too (Deseret capital to small).
    expect(tokenize("𐐀𐐨 x")).toEqual([{ term: "𐐨𐐨", start: 0, end: 4 }, { term: "x", start: 5, end: 6 }]);
    expect(tokenize("")).toEqual([]);
    expect(tokenize(" ,;")).toEqual([]);
  });

  test("foldToken folds one word as tokenize does", () => {
    expect(foldToken("Köln")).toBe("koln");
    expect(foldToken("ÆØÅ")).toBe(terms("ÆØÅ")[0]);
    expect(foldToken("STRASSE")).toBe("strasse");
  });

  // Every code point, in each position a token gives it: inside a token, alone, starting one, doubled.
  test.each(Array.from({ length: 17 }, (_, plane) => plane))("equals FTS5 on every code point of plane %i", (plane) => {
    const texts: string[] = [];
    for (let cp = plane * 0x10000; cp < (plane + 1) * 0x10000; cp++) {
      if (cp >= 0xd800 && cp < 0xe000) continue;
      const c = String.fromCodePoint(cp);
      texts.push(`x${c}x ${c} ${c}${c}a ${c}\u0301b`);
    }
    const expected = fts5Terms(texts);
    const mismatches: string[] = [];
    texts.forEach((text, i) => {
      const actual = terms(text);
      if (JSON.stringify(actual) !== JSON.stringify(expected[i]) && mismatches.length < 10) {
        mismatches.push(`U+${text.codePointAt(1)!.toString(16)}: ${JSON.stringify(actual)} vs FTS5 ${JSON.stringify(expected[i])}`);
      }
    });
    expect(mismatches).toEqual([]);
  });

  // Mixed text: terms and UTF-16 spans equal FTS5's (spans read back through highlight()).
  const pool = [
    ..."aZ09 _-'.\t\n",
    "é", "Ö", "ß", "ẞ", "ø", "Ł", "ı", "İ", "ǅ", "\u0301", "\u0308", "\u0327", "\u200d", "\u00a0",
    "Σ", "ς", "я", "Ё", "ש", "ع", "\u064b", "क", "\u093f", "ไ", "東", "ー", "ｶ", "Ａ", "①", "½", "\ue000",
    "𐐀", "𐐨", "𝐀", "😀", "\u{10ffff}", "\u{f0000}",
  ];
  test("equals FTS5 on mixed text, terms and offsets", () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...pool), { maxLength: 24 }), (parts) => {
        const text = parts.join("");
        const tokens = tokenize(text);
        const [expectedTerms] = fts5Terms([text]);
        expect(tokens.map((t) => t.term)).toEqual(expectedTerms);
        expect(tokens.map((t) => [t.start, t.end])).toEqual(fts5Spans(text, expectedTerms!));
      }),
      { numRuns: 400 },
    );
  });

  test("equals FTS5 on text with lone surrogates", () => {
    const texts = ["a\ud800b", "a\udc00b", "\udc00\ud800x", "é\ud83d", "\ud83d\ude00\ude00z"];
    expect(texts.map(terms)).toEqual(fts5Terms(texts));
  });
});
