import { defineConfig, type Options } from 'tsup';

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
    target: 'node24',
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
