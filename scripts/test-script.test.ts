/**
 * The test script's contract (README, "System packages"): one list of Debian packages, in
 * scripts/lib.sh and in the README, which the tests' own lookups use; no test installs packages;
 * no script writes a fixed path under /tmp (a root run would leave it unwritable for other users).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const tracked = (...patterns: string[]) =>
  execFileSync('git', ['ls-files', '-z', '--', ...patterns], { cwd: ROOT, encoding: 'utf8' })
    .split('\0')
    .filter(Boolean);

/** scripts/lib.sh's TEST_PACKAGES as "binary:package" */
function scriptPackages(): string[] {
  const block = /^TEST_PACKAGES=\(\n([\s\S]*?)\n\)/m.exec(read('scripts/lib.sh'))?.[1];
  expect(block, 'TEST_PACKAGES in scripts/lib.sh').toBeDefined();
  return block!
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}

/** the README's "System packages" table as "binary:package" */
function readmePackages(): string[] {
  const readme = read('README.md');
  const section = readme.slice(readme.indexOf('### System packages'), readme.indexOf('\n### ', readme.indexOf('### System packages') + 1));
  return [...section.matchAll(/^\| `([\w.+-]+)` \| `([\w.+-]+)` \|/gm)].map((m) => `${m[2]}:${m[1]}`);
}

describe('the test script', () => {
  it('the README lists exactly the Debian packages scripts/lib.sh installs', () => {
    const packages = scriptPackages();
    expect(packages.length).toBeGreaterThanOrEqual(6);
    expect(readmePackages().sort()).toEqual([...packages].sort());
  });

  it('the tests look binaries up in the declared packages, and none installs one', () => {
    const declared = new Set(scriptPackages());
    const files = tracked('*.ts').filter((f) => /\.test\.ts$|\/test\//.test(f) || f.startsWith('packages/testing/'));
    const lookups: string[] = [];
    const installers: string[] = [];
    for (const file of files) {
      const text = read(file);
      // (the helper's own unit test looks up made-up and base-system binaries)
      if (!file.startsWith('packages/testing/src/system-packages')) {
        for (const m of text.matchAll(/requireDebianBinary\('([^']+)', '([^']+)'/g)) lookups.push(`${m[1]}:${m[2]}`);
      }
      // apt-get is only ever named in a message telling a person what to run with sudo (and in the
      // unit-hygiene test, which plants an install to see it refused)
      if (file === 'packages/testing/src/unit-hygiene.test.ts') continue;
      text.split('\n').forEach((line, i) => {
        if (/(?<!sudo )apt-get +(install|update)/.test(line)) installers.push(`${file}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(lookups.length).toBeGreaterThan(0);
    expect(lookups.filter((l) => !declared.has(l))).toEqual([]);
    expect(installers).toEqual([]);
  });

  it('no script writes a fixed path under /tmp (temporary files come from mktemp)', () => {
    const offenders: string[] = [];
    for (const file of [...tracked('*.sh'), '.ci/run']) {
      read(file)
        .split('\n')
        .forEach((line, i) => {
          if (/^\s*#/.test(line)) return;
          if (/(^|[\s"'=>])\/tmp\//.test(line) || /\$\{?TMPDIR[^}]*\}?\/[\w.-]/.test(line)) offenders.push(`${file}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(offenders).toEqual([]);
  });
});
