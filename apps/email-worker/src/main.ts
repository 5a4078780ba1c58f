import { schedulesOn } from '@coldcopy/queue-core';
import { runWorkerApp } from '@coldcopy/queue-core/runtime';
import { closeDeps, createDeps } from './deps.js';
import { envSchema } from './env.js';
import { handlers } from './handlers/index.js';

// The composition root: env → deps → worker → health server → signals (queue-core/src/runtime/app.ts).
await runWorkerApp({
  app: 'email-worker',
  queue: 'email',
  env: envSchema,
  handlers,
  createDeps,
  closeDeps,
  // Reconciled at startup (one replica at a time): the `campaign-tick` fan-out every 5 minutes and
  // the warm-up batches (`warm-up-sends`, `warm-up-day-advance`).
  schedules: schedulesOn('email'),
});
