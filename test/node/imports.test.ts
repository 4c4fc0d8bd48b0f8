// The Worker's module graph, read from the sources: no import circles, and no route module leaning on another.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');
const ROUTES_DIR = 'routes/';
/** `import ... from '...'`, `import '...'`, `export ... from '...'`, type-only imports included: a circle of types is a circle too. */
const IMPORT = /^\s*(?:import|export)\s[^'"]*?(?:from\s*)?['"](\.{1,2}\/[^'"]+)['"]/gm;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Module (path under src/) → the src modules it imports. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources(SRC)) {
    const text = readFileSync(file, 'utf8');
    const targets = [...text.matchAll(IMPORT)].map(([, spec]) => relative(SRC, resolve(dirname(file), spec!)));
    graph.set(relative(SRC, file), targets);
  }
  return graph;
}

/** Every import circle, each as the path that closes it. */
function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const done = new Set<string>();
  const stack: string[] = [];
  const visit = (module: string) => {
    const at = stack.indexOf(module);
    if (at >= 0) {
      found.push([...stack.slice(at), module]);
      return;
    }
    if (done.has(module)) return;
    stack.push(module);
    for (const next of graph.get(module) ?? []) visit(next);
    stack.pop();
    done.add(module);
  };
  for (const module of graph.keys()) visit(module);
  return found;
}

describe('module graph of src/', () => {
  const graph = importGraph();

  it('reads the imports it checks', () => {
    expect(graph.size).toBeGreaterThan(20);
    expect(graph.get('index.ts')?.length).toBeGreaterThan(0);
    for (const [module, targets] of graph) {
      for (const target of targets) expect(graph.has(target), `${module} imports ${target}, which is not a module of src/`).toBe(true);
    }
  });

  it('has no import circle', () => {
    expect(cycles(graph).map((cycle) => cycle.join(' -> '))).toEqual([]);
  });

  it('finds a circle when there is one', () => {
    const sample = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', ['a.ts']],
    ]);
    expect(cycles(sample)).toEqual([['a.ts', 'b.ts', 'c.ts', 'a.ts']]);
  });

  it('keeps each route module to itself: shared code lives outside routes/', () => {
    const crossings = [...graph].flatMap(([module, targets]) =>
      module.startsWith(ROUTES_DIR) ? targets.filter((target) => target.startsWith(ROUTES_DIR)).map((target) => `${module} -> ${target}`) : [],
    );
    expect(crossings).toEqual([]);
  });
});
