/**
 * Strata's full-text tokenizer: exactly SQLite FTS5's `unicode61 remove_diacritics 2`, on every backend
 * (the memory and file engines index with it, PostgreSQL stores its terms, SQLite's FTS5 runs the original).
 *
 * ## What a token is
 * A run of token characters (Unicode categories L*, N* and Co as FTS5's tables know them), which may also
 * carry diacritics (combining marks such as U+0301): a diacritic continues a token but never starts one.
 * Every other character separates. Each character of a token is folded on its own: case folded to lower
 * case (one character to one: `ß` stays `ß`), then stripped of its diacritic (`é` -> `e`, `ø` -> `o`),
 * and a combining diacritic is dropped, so `Köln`, `KÖLN`, `koln` and `Ko\u0308ln` all give `koln`.
 * Nothing else is normalized (no NFC/NFKC, no stemming, no stop words). A lone surrogate (not a character)
 * separates, as FTS5 sees the U+FFFD it becomes.
 *
 * ## Why tables and not regular expressions
 * FTS5's categories are those of its own Unicode tables, older than the JavaScript engine's `\p{L}`: a regular
 * expression would disagree on the letters added since, and FTS5's folding is not `toLowerCase()` plus
 * NFD. The tables (search-tokenizer-tables.ts) are read from FTS5 itself by scripts/generate-search-tables.ts
 * and expanded here once: a class byte and a fold per BMP code unit, runs for the rest.
 */
import { CLASS_RUNS, FOLDS } from "./search-tokenizer-tables.js";

/** One token of a text: its folded `term` and where it stands in the text (UTF-16 offsets, end exclusive). */
export interface Token {
  readonly term: string;
  readonly start: number;
  readonly end: number;
}

const SEPARATOR = 0;
/** 2 is a diacritic: it continues a token but never starts one, so the scan only tests for 0 and 1. */
const TOKEN_CHARACTER = 1;
/** The fold of a removed character, in the fold tables (U+0000 separates, so 0 never folds to itself). */
const REMOVED = 0;

/** The class of each BMP code unit (surrogates stay separators: a pair is looked up in the astral runs). */
const bmpClass = new Uint8Array(0x10000);
/** The fold of each BMP code unit (itself unless FOLDS says otherwise). */
const bmpFold = new Uint16Array(0x10000);
/** Astral class runs: starts ascending, with their class (a binary search finds a code point's run). */
const astralRunStarts: number[] = [];
const astralRunClasses: number[] = [];
/** Astral code points whose fold differs (Deseret, Osage, ... capitals). */
const astralFolds = new Map<number, number>();

{
  const runs = CLASS_RUNS.split(",").map((n) => parseInt(n, 36));
  let cp = 0;
  for (let i = 0; i < runs.length; i += 2) {
    const length = runs[i]!;
    const cls = runs[i + 1]!;
    if (cp < 0x10000) bmpClass.fill(cls, cp, Math.min(cp + length, 0x10000));
    if (cp + length > 0x10000) {
      astralRunStarts.push(Math.max(cp, 0x10000));
      astralRunClasses.push(cls);
    }
    cp += length;
  }
  // Surrogate code units are never characters on their own: a pair is decoded before the lookup.
  bmpClass.fill(SEPARATOR, 0xd800, 0xe000);
  for (let i = 0; i < 0x10000; i++) bmpFold[i] = i;
  const folds = FOLDS.split(",").map((n) => parseInt(n, 36));
  let at = 0;
  for (let i = 0; i < folds.length; i += 2) {
    at += folds[i]!;
    if (at < 0x10000) bmpFold[at] = folds[i + 1]!;
    else astralFolds.set(at, folds[i + 1]!);
  }
}

function astralClass(cp: number): number {
  let low = 0;
  let high = astralRunStarts.length - 1;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (astralRunStarts[middle]! <= cp) low = middle;
    else high = middle - 1;
  }
  return astralRunClasses[low]!;
}

/** The class of a code point (`codePointAt`'s: a lone surrogate is a BMP separator). */
function classOf(cp: number): number {
  return cp < 0x10000 ? bmpClass[cp]! : astralClass(cp);
}

/** The fold of a code point: itself when it does not fold, {@link REMOVED} when it is dropped. */
function foldOf(cp: number): number {
  return cp < 0x10000 ? bmpFold[cp]! : (astralFolds.get(cp) ?? cp);
}

/**
 * The tokens of `text`, in order (a token's position is its index), as FTS5's `unicode61 remove_diacritics 2`
 * gives them: see the module doc.
 * @example tokenize("Köln-Deutz") // [{ term: "koln", start: 0, end: 4 }, { term: "deutz", start: 5, end: 10 }]
 */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  const length = text.length;
  let i = 0;
  while (i < length) {
    // Skip to the next character that starts a token (a lone surrogate is its own code point: a separator).
    let cp = text.codePointAt(i)!;
    if (classOf(cp) !== TOKEN_CHARACTER) {
      i += cp > 0xffff ? 2 : 1;
      continue;
    }
    const start = i;
    // The term is the text itself except where a character folds: copy unchanged stretches by slicing.
    let term = "";
    let copiedUpTo = start;
    for (;;) {
      const width = cp > 0xffff ? 2 : 1;
      const folded = foldOf(cp);
      if (folded !== cp) {
        term += text.slice(copiedUpTo, i);
        if (folded !== REMOVED) term += String.fromCodePoint(folded);
        copiedUpTo = i + width;
      }
      i += width;
      if (i >= length) break;
      cp = text.codePointAt(i)!;
      if (classOf(cp) === SEPARATOR) break;
    }
    term += text.slice(copiedUpTo, i);
    tokens.push({ term, start, end: i });
  }
  return tokens;
}

/**
 * One word folded as {@link tokenize} folds a token's characters (every character kept or dropped by its
 * fold alone, separators included: callers pass a single token's text). `foldToken("Köln")` is `"koln"`.
 */
export function foldToken(word: string): string {
  let out = "";
  let copiedUpTo = 0;
  for (let i = 0; i < word.length; ) {
    const cp = word.codePointAt(i)!;
    const width = cp > 0xffff ? 2 : 1;
    const folded = foldOf(cp);
    if (folded !== cp) {
      out += word.slice(copiedUpTo, i);
      if (folded !== REMOVED) out += String.fromCodePoint(folded);
      copiedUpTo = i + width;
    }
    i += width;
  }
  return out + word.slice(copiedUpTo);
}
