import { defineConfig } from 'tsup';

// Same shape as every app (code-style.md §8): our workspace packages are bundled, every npm
// dependency stays external, bull always (it reads its Lua scripts from disk).
export default defineConfig({
  entry: { main: 'src/main.ts' },
  format: ['esm'],
  target: 'node24',
  platform: 'node',
  outDir: 'dist',
  sourcemap: true,
  clean: true,
  noExternal: [/^@coldcopy\//],
  // bundle our packages from their sources (their exports' "@coldcopy/source" condition), no dist/ needed
  esbuildOptions(options) {
    options.conditions = ['@coldcopy/source'];
  },
  external: ['bull'],
});
