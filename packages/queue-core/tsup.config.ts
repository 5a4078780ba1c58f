import { defineConfig } from 'tsup';

// The JavaScript and declarations a web app (or any package outside this workspace) consumes:
// package.json's exports point at dist/, while workspace tools read src/ through the
// "@coldcopy/source" condition. Dependencies and peers stay external (bull reads its Lua
// scripts from disk; winston and prom-client belong to the worker apps).
export default defineConfig({
  entry: {
    index: 'src/index.ts',
    producer: 'src/producer/index.ts',
    runtime: 'src/runtime/index.ts',
    admin: 'src/admin/index.ts',
    board: 'src/board/index.ts',
    env: 'src/config/env.ts',
  },
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  dts: true,
  sourcemap: true,
  clean: true,
});
