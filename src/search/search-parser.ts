/**
 * The parser of `repo.search`'s query language (the tree it builds: search-query.ts).
 *
 * ## Grammar
 * ```
 * query   = or
 * or      = and { "OR" and }          the word OR in capitals; `or` is a plain word
 * and     = unary { unary }           side by side: all must match
 * unary   = "-" primary | primary     `-x` excludes; the dash starts a word (`a-b` is one word)
 * primary = "(" or ")" | '"' text '"' ["*"] | word ["*"]
 * ```
 * A word is a run of characters other than white space, `(`, `)`, `"` and `*`; it becomes the phrase of the
 * tokens it folds to (search-tokenizer.ts), so `Saint-Étienne` is the phrase `saint etienne`. `*` right after a
 * word or a closing quote makes the phrase's last token a prefix, and must end the word. `AND` and `NOT`
 * are plain words (FTS5 reads them as operators; here the space is the AND and the dash the NOT).
 *
 * ## Malformed queries
 * Every problem is a `QueryError` whose message gives the position (a 0-based UTF-16 index) and points at it
 * under the query: an empty query, a query or `OR` branch or group made only of exclusions, an unclosed
 * quote or parenthesis, a stray `)`, `*` or `-`, an `OR` without a term on each side, a word or phrase with
 * no letter or digit in it, a query longer than {@link MAX_QUERY_LENGTH} characters or nested deeper than
 * {@link MAX_QUERY_DEPTH} parentheses (bounds that keep a query's cost and the parser's stack small).
 */
import { QueryError } from "../errors.js";
import type { SearchNode, SearchPhrase, SearchQuery } from "./search-query.js";
import { tokenize } from "./search-tokenizer.js";

/** The longest query accepted, in UTF-16 code units. */
export const MAX_QUERY_LENGTH = 1000;
/** The deepest nesting of parentheses accepted. */
export const MAX_QUERY_DEPTH = 32;

/**
 * Parses a full-text query (module doc: grammar). Throws `QueryError` for a malformed query, and nothing else.
 * @example parseSearchQuery('köln -"bad godesberg" OR bonn*')
 */
export function parseSearchQuery(text: string): SearchQuery {
  return new SearchParser(text).parse();
}

const isSpace = (c: string): boolean => /^\s$/u.test(c);

class SearchParser {
  private at = 0;
  private readonly phrases: SearchPhrase[] = [];

  constructor(private readonly text: string) {}

  parse(): SearchQuery {
    if (typeof this.text !== "string") throw new QueryError(`Search query: expected a string, got ${typeof this.text}`);
    if (this.text.length > MAX_QUERY_LENGTH) {
      this.fail(MAX_QUERY_LENGTH, `is longer than ${MAX_QUERY_LENGTH} characters (${this.text.length})`);
    }
    this.skipSpace();
    if (this.at === this.text.length) this.fail(0, "is empty: give at least one word to search for");
    const root = this.parseOr(0);
    if (this.at < this.text.length) this.fail(this.at, "has a `)` that closes no `(`");
    return { text: this.text, root, phrases: this.phrases };
  }

  private parseOr(depth: number): SearchNode {
    const branches = [this.parseAnd(depth)];
    while (this.atOr()) {
      const orAt = this.at;
      this.at += 2;
      this.skipSpace();
      if (this.at === this.text.length || this.text[this.at] === ")" || this.atOr()) this.fail(orAt, "has an `OR` with no term after it");
      branches.push(this.parseAnd(depth));
    }
    const flat = branches.flatMap((b) => (b.kind === "or" ? b.children : [b]));
    return flat.length === 1 ? flat[0]! : { kind: "or", children: flat };
  }

  private parseAnd(depth: number): SearchNode {
    this.skipSpace();
    const startAt = this.at;
    const children: SearchNode[] = [];
    while (this.at < this.text.length && this.text[this.at] !== ")" && !this.atOr()) {
      children.push(this.parseUnary(depth));
      this.skipSpace();
    }
    if (children.length === 0) {
      if (this.atOr()) this.fail(startAt, "has an `OR` with no term before it");
      if (depth === 0) this.fail(startAt, "has a `)` that closes no `(`");
      this.fail(startAt, "has an empty group: put a word between the parentheses");
    }
    if (children.every((c) => c.kind === "not")) {
      this.fail(startAt, "only excludes here: add a word that must match beside the `-` terms");
    }
    const flat = children.flatMap((c) => (c.kind === "and" ? c.children : [c]));
    return flat.length === 1 ? flat[0]! : { kind: "and", children: flat };
  }

  private parseUnary(depth: number): SearchNode {
    if (this.text[this.at] !== "-") return this.parsePrimary(depth);
    const dashAt = this.at;
    this.at++;
    const next = this.text[this.at];
    if (next === undefined || isSpace(next) || next === ")" || next === "-" || next === "*") {
      this.fail(dashAt, "has a `-` with nothing to exclude right after it");
    }
    return { kind: "not", child: this.parsePrimary(depth) };
  }

  private parsePrimary(depth: number): SearchNode {
    const startAt = this.at;
    const c = this.text[this.at]!;
    if (c === "(") {
      if (depth >= MAX_QUERY_DEPTH) this.fail(startAt, `nests parentheses deeper than ${MAX_QUERY_DEPTH}`);
      this.at++;
      const inner = this.parseOr(depth + 1);
      if (this.text[this.at] !== ")") this.fail(startAt, "has a `(` that is never closed");
      this.at++;
      if (this.text[this.at] === "*") this.fail(this.at, "has a `*` after a group: a `*` follows a word or a quoted phrase");
      return inner;
    }
    if (c === "*") this.fail(startAt, "has a `*` with no word before it");
    if (c === '"') {
      const close = this.text.indexOf('"', startAt + 1);
      if (close < 0) this.fail(startAt, "has a quote that is never closed");
      this.at = close + 1;
      return this.phrase(this.text.slice(startAt + 1, close), startAt, "the quoted phrase");
    }
    while (this.at < this.text.length) {
      const d = this.text[this.at]!;
      if (d === "(" || d === ")" || d === '"' || d === "*" || isSpace(d)) break;
      this.at++;
    }
    const word = this.text.slice(startAt, this.at);
    return this.phrase(word, startAt, `\`${word}\``);
  }

  /** The phrase of `content`'s tokens, a prefix when a `*` follows (consumed here). */
  private phrase(content: string, startAt: number, label: string): SearchPhrase {
    const tokens = tokenize(content).map((t) => t.term);
    if (tokens.length === 0) this.fail(startAt, `has ${label} with no letter or digit to search for`);
    let prefix = false;
    if (this.text[this.at] === "*") {
      prefix = true;
      this.at++;
      const next = this.text[this.at];
      if (next !== undefined && next !== ")" && !isSpace(next)) this.fail(this.at - 1, "has a `*` inside a word: a `*` ends a word");
    }
    const phrase: SearchPhrase = { kind: "phrase", tokens, prefix, index: this.phrases.length };
    this.phrases.push(phrase);
    return phrase;
  }

  /** Whether `OR` (in capitals, as a word of its own) starts at the current position. */
  private atOr(): boolean {
    if (!this.text.startsWith("OR", this.at)) return false;
    const next = this.text[this.at + 2];
    return next === undefined || isSpace(next) || next === "(" || next === ")" || next === '"';
  }

  private skipSpace(): void {
    while (this.at < this.text.length && isSpace(this.text[this.at]!)) this.at++;
  }

  private fail(position: number, problem: string): never {
    // Show the query on one line (white space as spaces keeps the caret under the right character) and,
    // for a long query, only the part around the position.
    const from = Math.max(0, position - 40);
    const shown = this.text.slice(from, position + 40).replace(/\s/gu, " ");
    const caret = " ".repeat(position - from) + "^";
    throw new QueryError(`Search query ${problem} (at position ${position}):\n  ${from > 0 ? "…" : ""}${shown}\n  ${from > 0 ? " " : ""}${caret}`);
  }
}
