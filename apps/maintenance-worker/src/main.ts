import { schedulesOn } from '@coldcopy/queue-core';
import { runWorkerApp } from '@coldcopy/queue-core/runtime';
import { closeDeps, createDeps } from './deps.js';
import { envSchema } from './env.js';
import { handlers } from './handlers/index.js';

// The composition root: env → deps → worker → health server → signals (queue-core/src/runtime/app.ts).
await runWorkerApp({
  app: 'maintenance-worker',
  queue: 'maintenance',
  env: envSchema,
  handlers,
  createDeps,
  closeDeps,
  // Reconciled at startup: cache warming, enrichment-cache purge, consent expiry, nightly cleanup,
  // partition maintenance, daily and monthly backups, weekly verification (staggered).
  schedules: schedulesOn('maintenance'),
});
