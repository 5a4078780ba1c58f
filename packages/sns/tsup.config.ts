import { defineConfig } from 'tsup';

// ESM and declarations for web apps (exports → dist/); workspace tools read src/ through the
// "@coldcopy/source" condition. The `testing` subpath is for this repository's tests only.
export default defineConfig({
  entry: { sns: 'src/sns.ts' },
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  dts: true,
  sourcemap: true,
  clean: true,
});
