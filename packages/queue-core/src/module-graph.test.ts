import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The folders of src/ are the map of the package (definitions, jobs, producer, runtime, admin,
// redis, ...). A cycle between modules, even a type-only one, blurs that map; this test keeps
// the graph acyclic until the lint rules check it for the whole repo.
const src = dirname(fileURLToPath(import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !/\.test(-d)?\.ts$/.test(entry.name) ? [path] : [];
  });
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+'(\.{1,2}\/[^']+)'|import\(\s*'(\.{1,2}\/[^']+)'\s*\)/g;

function relativeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(IMPORT)].map((m) => resolve(dirname(file), (m[1] ?? m[2])!.replace(/\.js$/, '.ts')));
}

/** Every cycle found by a depth-first search, each as the list of modules on it. */
function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string) => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 'open') cycles.push(stack.slice(stack.indexOf(next)));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return cycles;
}

describe('queue-core module graph', () => {
  it('has no import cycles, type-only imports included', () => {
    const files = sourceFiles(src);
    expect(files.length).toBeGreaterThan(30);
    const graph = new Map(files.map((f) => [f, relativeImports(f)]));
    const cycles = findCycles(graph).map((c) => c.map((f) => relative(src, f)).join(' → '));
    expect(cycles).toEqual([]);
  });

  it('reports a planted cycle, type-only imports included', () => {
    const planted = new Map([
      ['admin/index.ts', ['admin/stuck-jobs.ts']],
      ['admin/stuck-jobs.ts', ['definitions/queues.ts', 'admin/index.ts']],
      ['definitions/queues.ts', []],
    ]);
    expect(findCycles(planted)).toEqual([['admin/index.ts', 'admin/stuck-jobs.ts']]);
    const imports = relativeImports(join(src, 'admin', 'stuck-jobs.ts')).map((f) => relative(src, f));
    expect(imports).toContain('admin/admin-queues.ts'); // `import type` is read too
  });
});
