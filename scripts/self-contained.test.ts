/**
 * A clone of the repository is all a user has: no file may read or cite a folder beside it (the
 * SES/SNS samples and the deployment schemas are vendored, with their licences, under
 * packages/sns/fixtures/aws-samples/ and scripts/deploy/schemas/).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');

/** A parent-relative path to a folder named shared, or a path into one of its reading-material folders. */
const OUTSIDE = [/(?:^|[^\w.-])(?:\.\.\/)+shared\b/, /\bshared\/(?:samples|schemas|reference|seed|hooks)\//];

export function outsideReferences(text: string): string[] {
  return text.split('\n').filter((line) => OUTSIDE.some((re) => re.test(line)));
}

function trackedFiles(): string[] {
  return execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
}

describe('the repository is self-contained', () => {
  it('the pattern finds relative and absolute references to the folder beside the repo, and nothing else', () => {
    // assembled, so that this file does not match itself
    const beside = ['..', 'shared'].join('/');
    expect(outsideReferences(`const SAMPLES = new URL('../../../${beside}/samples/', import.meta.url);`)).toHaveLength(1);
    expect(outsideReferences(`resolve(ROOT, '${beside}/schemas')`)).toHaveLength(1);
    expect(outsideReferences(`See \`${beside}\` for details`)).toHaveLength(1);
    expect(outsideReferences(`see /srv/${['shared', 'seed'].join('/')}/background-workers.md`)).toHaveLength(1);
    expect(outsideReferences('the shared limiter (rate-limit.ts), shared by every replica')).toEqual([]);
    expect(outsideReferences('packages/shared-utils/src/x.ts and ./shared/a.ts')).toEqual([]);
  });

  it('no tracked file refers to a folder beside the repository', () => {
    const offenders: string[] = [];
    for (const file of trackedFiles()) {
      const bytes = readFileSync(join(ROOT, file));
      if (bytes.includes(0)) continue; // binary (images)
      for (const line of outsideReferences(bytes.toString('utf8'))) offenders.push(`${file}: ${line.trim()}`);
    }
    expect(offenders, 'copy what is needed into the repository (with its licence and source) instead').toEqual([]);
  });
});
