import { runWorkerApp } from '@coldcopy/queue-core/runtime';
import { closeDeps, createDeps } from './deps.js';
import { envSchema } from './env.js';
import { settleBatchChild } from './handlers/final-failure.js';
import { handlers } from './handlers/index.js';

// The composition root: env → deps → worker → health server → signals (queue-core/src/runtime/app.ts).
await runWorkerApp({
  app: 'enrichment-worker',
  queue: 'enrichment',
  env: envSchema,
  handlers,
  createDeps,
  closeDeps,
  onFinalFailure: settleBatchChild,
});
