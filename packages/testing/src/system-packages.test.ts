import { describe, expect, it } from 'vitest';
import { isCi, requireDebianBinary } from './system-packages.js';

describe('requireDebianBinary', () => {
  it('finds a binary that is installed', () => {
    expect(requireDebianBinary('sh', 'dash').path).toMatch(/\/sh$/);
  });

  it('a missing binary fails the test in CI, naming the package and the install command', () => {
    expect(() => requireDebianBinary('coldcopy-no-such-tool', 'coldcopy-tools', { CI: 'true' })).toThrow(
      /coldcopy-no-such-tool \(Debian package coldcopy-tools\) is not installed.*sudo apt-get install -y coldcopy-tools/,
    );
  });

  it('outside CI it returns the reason for the skip', () => {
    const r = requireDebianBinary('coldcopy-no-such-tool', 'coldcopy-tools', {});
    expect(r.path).toBeUndefined();
    expect(r.missing).toContain('sudo apt-get update && sudo apt-get install -y coldcopy-tools');
  });

  it('reads CI the way CI services set it', () => {
    expect(isCi({ CI: 'true' })).toBe(true);
    expect(isCi({ CI: '1' })).toBe(true);
    expect(isCi({ CI: 'false' })).toBe(false);
    expect(isCi({ CI: '' })).toBe(false);
    expect(isCi({})).toBe(false);
  });
});
