import { defineConfig } from 'tsup';

// ESM and declarations for web apps (exports → dist/); @coldcopy/queue-core stays an external
// dependency. Workspace tools read src/ through the "@coldcopy/source" condition.
export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  dts: true,
  sourcemap: true,
  clean: true,
});
