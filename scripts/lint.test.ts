/**
 * The lint rules that encode the architecture (eslint.config.js) fail on what they forbid: the real
 * config runs through ESLint's Node API on a temporary copy of the repository (the working tree's
 * files, node_modules linked back), first on clean files, then on files planted into the copy.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');

/** Tracked and untracked-but-not-ignored files: the tree as the developer has it. */
function workingTreeFiles(): string[] {
  return execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
}

/**
 * Links `dir`'s node_modules into the copy entry by entry: a workspace package (a relative link to
 * a folder of the repo) stays relative, so it resolves to the copy's sources as in the repo;
 * everything else points at the installed package.
 */
function linkNodeModules(dir: string, copy: string): void {
  const from = join(ROOT, dir, 'node_modules');
  const to = join(copy, dir, 'node_modules');
  mkdirSync(to, { recursive: true });
  const link = (name: string) => {
    const source = join(from, name);
    const target = join(to, name);
    const stat = lstatSync(source);
    if (stat.isSymbolicLink()) {
      const pointsTo = readlinkSync(source);
      const resolved = resolve(dirname(source), pointsTo);
      const inWorkspace = !isAbsolute(pointsTo) && !relative(ROOT, resolved).startsWith('..') && !resolved.includes('node_modules');
      symlinkSync(inWorkspace ? pointsTo : realpathSync(source), target);
    } else if (stat.isDirectory() && name.startsWith('@')) {
      mkdirSync(target, { recursive: true });
      for (const entry of readdirSync(source)) link(join(name, entry));
    } else {
      symlinkSync(source, target);
    }
  };
  for (const entry of readdirSync(from)) link(entry);
}

const PLANTS = {
  appToApp: {
    path: 'apps/ai-worker/src/planted-app-import.ts',
    text: "import * as enrichment from '../../enrichment-worker/src/config.js';\n\nexport const planted = enrichment;\n",
  },
  bullInApp: {
    path: 'apps/ai-worker/src/planted-bull.ts',
    text: "import Bull from 'bull';\n\nexport const planted = (url: string) => new Bull('ai', url);\n",
  },
  bullInAppTest: {
    path: 'apps/ai-worker/test/planted-bull.int.test.ts',
    text: "import type Bull from 'bull';\n\nexport const planted = (q: Bull.Queue) => q.name;\n",
  },
  bullInQueueCoreTest: {
    path: 'packages/queue-core/test/planted-bull.int.test.ts',
    text: "import Bull from 'bull';\n\nexport const planted = (url: string) => new Bull('maintenance', url);\n",
  },
  bullInTestingPackage: {
    path: 'packages/testing/src/planted-bull.ts',
    text: "import Bull from 'bull';\n\nexport const planted = (url: string) => new Bull('maintenance', url);\n",
  },
  cycleA: {
    path: 'apps/ai-worker/src/planted-cycle-a.ts',
    text: "import { b } from './planted-cycle-b.js';\n\nexport const a = (): number => b() + 1;\n",
  },
  cycleB: {
    path: 'apps/ai-worker/src/planted-cycle-b.ts',
    text: "import { a } from './planted-cycle-a.js';\n\nexport const b = (): number => (Math.random() > 2 ? a() : 0);\n",
  },
  webToRuntime: {
    path: 'packages/web/src/planted-runtime.ts',
    text: "import { runWorkerApp } from '@coldcopy/queue-core/runtime';\n\nexport const planted = runWorkerApp;\n",
  },
} as const;

describe('pnpm lint: the layering rules', { timeout: 600_000 }, () => {
  let copy: string;
  let eslint: ESLint;

  beforeAll(() => {
    copy = mkdtempSync(join(tmpdir(), 'coldcopy-lint-'));
    for (const file of workingTreeFiles()) {
      mkdirSync(dirname(join(copy, file)), { recursive: true });
      cpSync(join(ROOT, file), join(copy, file));
    }
    for (const dir of ['.', ...['apps', 'packages', 'examples'].flatMap((d) => readdirSync(join(ROOT, d)).map((n) => `${d}/${n}`))]) {
      if (readdirSync(join(ROOT, dir)).includes('node_modules')) linkNodeModules(dir, copy);
    }
    // Type-aware rules off: they are not what this test is about, and building the TypeScript
    // programs costs minutes on a loaded machine (`pnpm lint` runs them on the whole tree).
    eslint = new ESLint({ cwd: copy, overrideConfig: tseslint.configs.disableTypeChecked });
  });

  afterAll(() => {
    if (copy) rmSync(copy, { recursive: true, force: true });
  });

  const lint = async (...files: string[]) => {
    const results = await eslint.lintFiles(files.map((f) => join(copy, f)));
    return results.flatMap((r) => r.messages.map((m) => ({ file: relative(copy, r.filePath), rule: m.ruleId, message: m.message })));
  };

  it('passes on the clean tree (the folders the plants go into, and the files they import)', async () => {
    const messages = await lint(
      'apps/ai-worker/src',
      'apps/ai-worker/test',
      'packages/web/src',
      'apps/enrichment-worker/src/config.ts',
      'packages/queue-core/test',
      'packages/testing/src',
      // where Bull stays allowed: queue-core's sources (the adapter, the tests' raw queue) and benches
      'packages/queue-core/src/redis/bull-queue.ts',
      'packages/queue-core/src/testing',
      'packages/queue-core/bench',
    );
    expect(messages).toEqual([]);
  });

  it('fails on an app importing another app, bull in an app or any test, an import cycle and worker code in @coldcopy/web', async () => {
    for (const plant of Object.values(PLANTS)) writeFileSync(join(copy, plant.path), plant.text);
    const messages = await lint(...Object.values(PLANTS).map((p) => p.path));
    const rulesOf = (path: string) => messages.filter((m) => m.file === path).map((m) => m.rule);
    expect(rulesOf(PLANTS.appToApp.path)).toContain('import-x/no-restricted-paths');
    expect(rulesOf(PLANTS.bullInApp.path)).toContain('no-restricted-imports');
    // tests too, queue-core's own included: only packages/queue-core/src (and benches) import Bull
    expect(rulesOf(PLANTS.bullInAppTest.path)).toContain('no-restricted-imports');
    expect(rulesOf(PLANTS.bullInQueueCoreTest.path)).toContain('no-restricted-imports');
    expect(rulesOf(PLANTS.bullInTestingPackage.path)).toContain('no-restricted-imports');
    expect(rulesOf(PLANTS.cycleA.path)).toContain('import-x/no-cycle');
    expect(rulesOf(PLANTS.cycleB.path)).toContain('import-x/no-cycle');
    expect(rulesOf(PLANTS.webToRuntime.path)).toContain('import-x/no-restricted-paths');
  });
});
