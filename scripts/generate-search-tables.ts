/**
 * Writes src/search/search-tokenizer-tables.ts: the character classes and the folding of SQLite FTS5's
 * `unicode61 remove_diacritics 2` tokenizer, read from FTS5 itself (the better-sqlite3 build Strata ships
 * with), so that Strata's tokenizer equals it on every code point. Run: `npx tsx scripts/generate-search-tables.ts`.
 *
 * How FTS5 is asked: one document per code point c (surrogates excepted: they are not characters), with two
 * columns, `x c x` spelled without spaces and `c` alone, read back through an `fts5vocab` instance table.
 * - `c` alone gives a token when c can start one (a token character: categories L*, N*, Co), and that
 *   token is c folded.
 * - `xcx` is one token `x F x` when c continues a token (a token character, or a diacritic, which FTS5
 *   folds away inside a token but never starts one with), F being c folded (empty when removed); it is
 *   two tokens `x`, `x` when c separates.
 * unicode61 looks at one character at a time (its only context is "inside a token or not"), so these two
 * probes describe it whole; test/search/search-tokenizer.test.ts checks that on mixed text too.
 */
import Database from "better-sqlite3";
import { writeFileSync } from "node:fs";

const OUTPUT = new URL("../src/search/search-tokenizer-tables.ts", import.meta.url);

/** 0: separator; 1: starts and continues a token; 2: only continues one (a diacritic). */
type CharClass = 0 | 1 | 2;

function probe(): { classes: Uint8Array; folds: Map<number, number> } {
  const db = new Database(":memory:");
  try {
    db.exec(`CREATE VIRTUAL TABLE probe USING fts5(inner, alone, tokenize = 'unicode61 remove_diacritics 2');
             CREATE VIRTUAL TABLE probe_vocab USING fts5vocab(probe, 'instance');`);
    const insert = db.prepare("INSERT INTO probe(rowid, inner, alone) VALUES (?, ?, ?)");
    db.transaction(() => {
      for (let cp = 0; cp < 0x110000; cp++) {
        if (cp >= 0xd800 && cp < 0xe000) continue;
        const c = String.fromCodePoint(cp);
        insert.run(cp, `x${c}x`, c);
      }
    })();
    const inner = new Map<number, string[]>();
    const alone = new Map<number, string[]>();
    for (const [term, doc, col] of db.prepare("SELECT term, doc, col FROM probe_vocab ORDER BY doc, col, offset").raw().iterate() as Iterable<[string, number, string]>) {
      const into = col === "inner" ? inner : alone;
      const list = into.get(doc);
      if (list === undefined) into.set(doc, [term]);
      else list.push(term);
    }
    const classes = new Uint8Array(0x110000);
    const folds = new Map<number, number>();
    for (let cp = 0; cp < 0x110000; cp++) {
      if (cp >= 0xd800 && cp < 0xe000) continue;
      const innerTerms = inner.get(cp) ?? [];
      const aloneTerms = alone.get(cp) ?? [];
      let cls: CharClass;
      let folded: string;
      if (innerTerms.length === 2 && innerTerms[0] === "x" && innerTerms[1] === "x") {
        cls = 0;
        folded = "";
        if (aloneTerms.length !== 0) throw new Error(`U+${cp.toString(16)} separates inside a token but starts one alone`);
      } else if (innerTerms.length === 1 && innerTerms[0]!.startsWith("x") && innerTerms[0]!.endsWith("x") && innerTerms[0]!.length >= 2) {
        folded = innerTerms[0]!.slice(1, -1);
        if (aloneTerms.length === 1 && aloneTerms[0] === folded) cls = 1;
        else if (aloneTerms.length === 0) cls = 2;
        else throw new Error(`U+${cp.toString(16)}: alone gives ${JSON.stringify(aloneTerms)}, inside ${JSON.stringify(folded)}`);
      } else {
        throw new Error(`U+${cp.toString(16)}: unexpected tokens ${JSON.stringify(innerTerms)}`);
      }
      if ([...folded].length > 1) throw new Error(`U+${cp.toString(16)} folds to more than one character`);
      if (cls === 1 && folded === "") throw new Error(`U+${cp.toString(16)} starts a token but folds to nothing`);
      classes[cp] = cls;
      const target = folded === "" ? 0 : folded.codePointAt(0)!;
      if (cls !== 0 && target !== cp) folds.set(cp, target);
    }
    return { classes, folds };
  } finally {
    db.close();
  }
}

function main(): void {
  const { classes, folds } = probe();
  // Class runs: [length, class, length, class, ...] from U+0000 (surrogates count as separators).
  const runs: number[] = [];
  let runStart = 0;
  for (let cp = 1; cp <= 0x110000; cp++) {
    if (cp === 0x110000 || classes[cp] !== classes[runStart]) {
      runs.push(cp - runStart, classes[runStart]!);
      runStart = cp;
    }
  }
  // Folds: [code point delta from the previous entry, target] with target 0 for "removed".
  const foldPairs: number[] = [];
  let previous = 0;
  for (const [cp, target] of [...folds].sort((a, b) => a[0] - b[0])) {
    foldPairs.push(cp - previous, target);
    previous = cp;
  }
  const encode = (values: number[]): string => values.map((v) => v.toString(36)).join(",");
  const wrap = (text: string): string => (text.match(/.{1,110}(,|$)/g) ?? []).map((line) => `  "${line}"`).join(" +\n");
  const source = `/**
 * GENERATED by scripts/generate-search-tables.ts from SQLite ${new Database(":memory:").prepare("SELECT sqlite_version() AS v").pluck().get() as string}'s FTS5 \`unicode61 remove_diacritics 2\`
 * tokenizer: do not edit by hand, run the script again.
 *
 * CLASS_RUNS: the class of every code point from U+0000 as runs, base-36 numbers \`length,class,...\`
 * (class 0: separator, 1: starts and continues a token, 2: only continues one, a diacritic FTS5 removes).
 * FOLDS: the code points whose folded form differs (case fold and diacritic removal), base-36 pairs
 * \`delta,target\` where delta is the distance from the previous entry and target 0 means "removed".
 */

/** ${runs.length / 2} runs. */
export const CLASS_RUNS =
${wrap(encode(runs))};

/** ${foldPairs.length / 2} folded code points. */
export const FOLDS =
${wrap(encode(foldPairs))};
`;
  writeFileSync(OUTPUT, source);
  console.log(`wrote ${runs.length / 2} class runs and ${foldPairs.length / 2} folds`);
}

main();
