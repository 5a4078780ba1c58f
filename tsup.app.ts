import { readFileSync } from 'node:fs';
import { defineConfig, type Options } from 'tsup';

/** The Node.js major of `.node-version`, the one pin (scripts/deploy/node-version.ts). */
const NODE_MAJOR = readFileSync(new URL('./.node-version', import.meta.url), 'utf8')
  .trim()
  .split('.')[0];

/**
 * The build of every app (`apps/<app>/tsup.config.ts` is `export default appBuild()`), so adding an
 * app copies no build settings: one ESM file, `dist/main.js`, for the Node major of `.node-version`
 * (scripts/node-version.test.ts checks the target). Our workspace packages are bundled from their
 * sources (their exports' "@coldcopy/source" condition, so no dist/ of theirs is needed); every npm
 * dependency stays external, bull always (it reads its Lua scripts from disk). `external` adds more,
 * e.g. the dashboard's @bull-board/* (the UI's static files are read from node_modules).
 */
export function appBuild(options: { external?: Options['external'] } = {}) {
  return defineConfig({
    entry: { main: 'src/main.ts' },
    format: ['esm'],
    target: `node${NODE_MAJOR}`,
    platform: 'node',
    outDir: 'dist',
    sourcemap: true,
    clean: true,
    noExternal: [/^@coldcopy\//],
    esbuildOptions(esbuild) {
      esbuild.conditions = ['@coldcopy/source'];
    },
    external: ['bull', ...(options.external ?? [])],
  });
}
