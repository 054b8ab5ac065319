/**
 * The value-import graph of a source tree, as Node loads it: each file is transpiled alone (as esbuild or
 * `isolatedModules` would), so an import used only as a type is elided and does not count.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";

/** File (relative to the root, with `.ts`) -> the files it imports for their values. */
export type ImportGraph = Map<string, string[]>;

function listSources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return listSources(path);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts") ? [path] : [];
  });
}

/**
 * With `includeTypes`, type-only imports count too (the graph a reader follows, not the one Node loads);
 * with `includeLazy`, so do dynamic `import()`s (they cannot close a load-time cycle, but still tie layers).
 */
export function valueImportGraph(root: string, includeTypes = false, includeLazy = false): ImportGraph {
  const graph: ImportGraph = new Map();
  for (const file of listSources(root)) {
    const source = readFileSync(file, "utf8");
    const js = includeTypes
      ? source
      : ts.transpileModule(source, {
          compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, experimentalDecorators: true },
        }).outputText;
    const targets = new Set<string>();
    const pattern = includeLazy
      ? /^\s*(?:import|export)\s[^;]*?from\s+["'](\.[^"']+)["']|^\s*import\s+["'](\.[^"']+)["']|\bimport\(\s*["'](\.[^"']+)["']\s*\)/gm
      : /^\s*(?:import|export)\s[^;]*?from\s+["'](\.[^"']+)["']|^\s*import\s+["'](\.[^"']+)["']/gm;
    for (const match of js.matchAll(pattern)) {
      const specifier = (match[1] ?? match[2] ?? match[3])!;
      targets.add(relative(root, resolve(dirname(file), specifier.replace(/\.js$/, ".ts"))));
    }
    graph.set(relative(root, file), [...targets].sort());
  }
  return graph;
}

/** The strongly connected components with more than one file (Tarjan), each sorted, as import cycles. */
export function importCycles(graph: ImportGraph): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, counter);
    low.set(node, counter++);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) cycles.push(component.sort());
    }
  };
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node);
  return cycles;
}
