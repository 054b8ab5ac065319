/**
 * Snippets of `repo.search`: the part of a found entity's text that best shows why it matched, with the
 * matching words marked. Strata builds them itself from the entity's index columns (the same tokenizer and
 * phrase matching as the search), so every backend returns the same snippet for the same row.
 *
 * ## The choice of window
 * Each index column is tokenized; the occurrences of the query's phrases that are not excluded (`-x` is never
 * marked) are the hits. A window is `maxTokens` consecutive tokens of one column; the best window holds the
 * most distinct phrases, then the most hit tokens, then comes first (earlier column, earlier position). A
 * window starts a token or two before its first hit when it can, so that the hit has some context.
 * A column shorter than the window is shown whole. When no column holds a hit (a row found through a word
 * that only a prefix matched in another column cannot miss, so this is a fallback) the first non-empty column
 * is shown from its start.
 *
 * ## The text
 * The window's text as stored (not folded), each phrase occurrence wrapped in `before`/`after` (its tokens
 * and what lies between them in one wrap; overlapping occurrences in one), and `ellipsis` where the window cuts the column short.
 * The text is not escaped: markers and text are concatenated as they are, as FTS5's `snippet()` does; escape
 * the parts yourself before putting them into HTML.
 */
import { phraseKey, phraseOccurrences, type SearchNode, type SearchPhrase, type SearchQuery } from "./search-query.js";
import { tokenize, type Token } from "./search-tokenizer.js";

/** How `repo.search` builds snippets (`snippet: true` takes every default). */
export interface SnippetOptions {
  /** Put before each run of matching words. @default "<b>" */
  readonly before?: string;
  /** Put after each run of matching words. @default "</b>" */
  readonly after?: string;
  /** The most tokens (words) a snippet shows, 1 to 64. @default 10 */
  readonly maxTokens?: number;
  /** Put where the snippet cuts the text short. @default "…" */
  readonly ellipsis?: string;
}

/** The defaults of {@link SnippetOptions}. */
export const SNIPPET_DEFAULTS: Required<SnippetOptions> = { before: "<b>", after: "</b>", maxTokens: 10, ellipsis: "…" };

/**
 * The phrases a snippet marks: those not under an exclusion, each once (a query naming one phrase twice,
 * `a a`, marks and counts it once: looking for it again would only multiply the hits).
 */
function markedPhrases(node: SearchNode, into: Map<string, SearchPhrase>): Map<string, SearchPhrase> {
  switch (node.kind) {
    case "phrase": {
      const key = phraseKey(node);
      if (!into.has(key)) into.set(key, node);
      break;
    }
    case "and":
    case "or":
      for (const child of node.children) markedPhrases(child, into);
      break;
    case "not":
      break;
  }
  return into;
}

/** A phrase occurrence in a column: the phrase's number among the marked ones, its first and last token. */
type Span = readonly [phrase: number, first: number, last: number];

interface Window {
  readonly column: number;
  readonly start: number;
  readonly distinct: number;
  readonly hitTokens: number;
}

/**
 * The snippet of one entity: `texts` are its index columns' values in the index's order (null for none).
 * `options` must be complete (the repository fills the defaults and checks them).
 */
export function buildSnippet(texts: readonly (string | null)[], query: SearchQuery, options: Required<SnippetOptions>): string {
  const phrases = [...markedPhrases(query.root, new Map()).values()];
  const { maxTokens } = options;
  const columns = texts.map((text) => (text === null ? [] : tokenize(text)));
  let best: Window | undefined;
  let bestSpans: Span[] = [];
  const lead = Math.min(2, Math.floor((maxTokens - 1) / 3));
  columns.forEach((tokens, column) => {
    const terms = tokens.map((t) => t.term);
    const spans: Span[] = [];
    phrases.forEach((phrase, p) => {
      for (const at of phraseOccurrences(phrase, terms)) spans.push([p, at, at + phrase.tokens.length - 1]);
    });
    if (spans.length === 0) return;
    // By first token: the spans a window holds are then a run found by moving two cursors forward, so a
    // column of n hits costs O(n · window), not the O(n²) of filtering every span for every window.
    spans.sort((a, b) => a[1] - b[1]);
    const lastStart = Math.max(0, tokens.length - maxTokens);
    let from = 0;
    let previousStart = -1;
    for (const [, first] of spans) {
      const start = Math.min(lastStart, Math.max(0, first - lead));
      // Starts come ascending (first ascends, the clamps keep the order): each is tried once.
      if (start <= previousStart) continue;
      previousStart = start;
      const end = start + maxTokens;
      while (from < spans.length && spans[from]![1] < start) from++;
      const seen = new Set<number>();
      const hit = new Set<number>();
      for (let s = from; s < spans.length && spans[s]![1] < end; s++) {
        const [p, f, l] = spans[s]!;
        if (l >= end) continue;
        seen.add(p);
        for (let i = f; i <= l; i++) hit.add(i);
      }
      if (best === undefined || seen.size > best.distinct || (seen.size === best.distinct && hit.size > best.hitTokens)) {
        best = { column, start, distinct: seen.size, hitTokens: hit.size };
        bestSpans = spans;
      }
    }
  });
  if (best === undefined) {
    const column = texts.findIndex((text) => text !== null && text !== "");
    if (column < 0) return "";
    return render(texts[column]!, columns[column]!, 0, [], options);
  }
  const { start } = best;
  const inside = bestSpans.filter(([, first, last]) => first >= start && last < start + maxTokens);
  return render(texts[best.column]!, columns[best.column]!, start, inside, options);
}

/** The window of `tokens` from `start` with the `spans` wrapped, cut with ellipses. */
function render(text: string, tokens: readonly Token[], start: number, spans: readonly Span[], options: Required<SnippetOptions>): string {
  const end = Math.min(tokens.length, start + options.maxTokens);
  // Merge the hit spans (token ranges) that overlap into runs to wrap once (neighbours stay apart, as in FTS5).
  const sorted = spans.map(([, first, last]) => [first, last] as [number, number]).sort((a, b) => a[0] - b[0]);
  const runs: Array<[number, number]> = [];
  for (const [first, last] of sorted) {
    const previous = runs[runs.length - 1];
    if (previous !== undefined && first <= previous[1]) previous[1] = Math.max(previous[1], last);
    else runs.push([first, last]);
  }
  // A column shown from its first token keeps what precedes it; one shown to its last keeps what follows.
  const from = start === 0 ? 0 : tokens[start]!.start;
  const to = end === tokens.length ? text.length : tokens[end - 1]!.end;
  let out = start === 0 ? "" : options.ellipsis;
  let at = from;
  for (const [first, last] of runs) {
    out += text.slice(at, tokens[first]!.start) + options.before + text.slice(tokens[first]!.start, tokens[last]!.end) + options.after;
    at = tokens[last]!.end;
  }
  out += text.slice(at, to);
  return end === tokens.length ? out : out + options.ellipsis;
}
